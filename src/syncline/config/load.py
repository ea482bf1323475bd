"""Load ``syncline.yml``: find it, interpolate ``${VAR}`` references, validate it.

Errors name ``syncline.yml:LINE`` and the dotted field path, because a user fixing a config
file needs to know where to look, not pydantic's internal location tuple.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from syncline.config.models import Project
from syncline.errors import ConfigError
from syncline.logs import register_secret

__all__ = [
    "ENV_REFERENCE",
    "FILENAME",
    "LoadedProject",
    "find_project",
    "load_project",
    "register_project_secrets",
    "state_url",
]

FILENAME = "syncline.yml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
ENV_REFERENCE = _VAR
"""``${VAR}`` or ``${VAR:-default}``: group 1 the variable, group 2 the default."""


@dataclass(frozen=True)
class LoadedProject:
    """A validated project and where it lives (relative paths resolve against ``root``)."""

    root: Path
    path: Path
    project: Project


def find_project(project_dir: Path | None = None) -> Path:
    """Return the path of ``syncline.yml`` in ``project_dir`` (or the current directory)."""
    folder = (project_dir or Path.cwd()).resolve()
    path = folder / FILENAME
    if not path.is_file():
        raise ConfigError(
            f"no {FILENAME} in {folder}; run `syncline init DIR` or pass --project DIR"
        )
    return path


def state_url(root: Path, env: Mapping[str, str] | None = None) -> str:
    """The state store's URL: ``SYNCLINE_STATE_URL`` or ``<root>/.syncline/state.db`` (created)."""
    environ = os.environ if env is None else env
    url = environ.get("SYNCLINE_STATE_URL")
    if url:
        return url
    folder = root.resolve() / ".syncline"
    # sqlite creates the file, not its folder; only its owner may look in (0700)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'state.db'}"


RETRY_SETTINGS = {
    "SYNCLINE_RETRY_ATTEMPTS": "max_attempts",
    "SYNCLINE_RETRY_BASE_DELAY_S": "base_delay_s",
    "SYNCLINE_RETRY_MAX_DELAY_S": "max_delay_s",
}


def retry_settings(env: Mapping[str, str] | None = None) -> dict[str, float]:
    """Backoff overrides from the environment (for impatient tests or a patient night job)."""
    env = os.environ if env is None else env
    found: dict[str, float] = {}
    for var, name in RETRY_SETTINGS.items():
        if env.get(var):
            try:
                found[name] = float(env[var])
            except ValueError:
                raise ConfigError(f"{var}={env[var]!r} is not a number (e.g. {var}=0.5)") from None
    if "max_attempts" in found:
        found["max_attempts"] = max(1, int(found["max_attempts"]))
    return found


LEASE_SETTINGS = {
    "SYNCLINE_LEASE_TTL_S": "lease_ttl_s",
    "SYNCLINE_UPLOAD_SLOT_TTL_S": "slot_ttl_s",
}


def lease_settings(env: Mapping[str, str] | None = None) -> dict[str, float]:
    """TTL overrides of a run's lease and upload slots (seconds; tests shorten them)."""
    env = os.environ if env is None else env
    found: dict[str, float] = {}
    for var, name in LEASE_SETTINGS.items():
        if env.get(var):
            try:
                found[name] = float(env[var])
            except ValueError:
                raise ConfigError(f"{var}={env[var]!r} is not a number (e.g. {var}=30)") from None
            if found[name] <= 0:
                raise ConfigError(f"{var}={env[var]!r} must be a positive number of seconds")
    return found


def load_project(
    project_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> LoadedProject:
    """Read, interpolate and validate ``syncline.yml``; every error is a ``ConfigError``."""
    path = find_project(project_dir)
    environ = os.environ if env is None else env
    raw = path.read_bytes()
    if len(raw) > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: {len(raw)} bytes; a {FILENAME} larger than "
                          f"{MAX_YAML_BYTES // 1_000_000} MB is refused (is it the right file?)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not valid UTF-8 (byte {exc.start}: "
                          f"{raw[exc.start:exc.start + 1]!r}); save the file as UTF-8") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{FILENAME}:{mark.line + 1}" if mark is not None else FILENAME
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {reason}") from exc
    data = (_to_python(node, environ, (), _Budget(), yaml.constructor.SafeConstructor())
            if node is not None else {})
    if not isinstance(data, dict):
        raise ConfigError(f"{FILENAME}:1: expected a mapping of sections")
    try:
        project = Project.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, node)) from exc
    register_project_secrets(project)
    return LoadedProject(root=path.parent, path=path, project=project)


def register_project_secrets(value: object) -> None:
    """Tell the log formatter every secret of a project (passcodes, passwords, webhook URLs)."""
    if isinstance(value, SecretStr):
        register_secret(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            register_project_secrets(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            register_project_secrets(item)
    elif isinstance(value, list):
        for item in value:
            register_project_secrets(item)


MAX_YAML_BYTES = 5_000_000
"""A ``syncline.yml`` is a few KB; a bigger file is a mistake or an attack."""
MAX_YAML_NODES = 200_000
"""Values built from the YAML, aliases expanded: far above any real project, far below what
an alias bomb ("billion laughs": nested ``*aliases``) expands to."""


class _Budget:
    """How many values ``_to_python`` may still build (aliases count every time they expand)."""

    def __init__(self) -> None:
        self.left = MAX_YAML_NODES

    def spend(self, node: yaml.Node) -> None:
        self.left -= 1
        if self.left < 0:
            raise ConfigError(
                f"{FILENAME}:{node.start_mark.line + 1}: the YAML expands to more than "
                f"{MAX_YAML_NODES} values (aliases nested in aliases?); write it out plainly")


def _to_python(node: yaml.Node, env: Mapping[str, str], keys: tuple[str, ...],
               budget: _Budget, scalars: yaml.constructor.SafeConstructor,
               inside: frozenset[int] = frozenset()) -> Any:
    """Build plain Python from the node tree, interpolating strings as we go.

    ``scalars``: one constructor for the whole load builds every scalar (``_scalar``).

    Aliases are shared nodes: one inside itself (``a: &a [*a]``) is refused, and every
    expansion counts against ``budget``, so neither recursion nor an alias bomb runs away.
    """
    budget.spend(node)
    if id(node) in inside:
        raise ConfigError(f"{FILENAME}:{node.start_mark.line + 1}: a YAML alias refers to a "
                          f"value that contains it (a recursive alias); remove the loop")
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        inside = inside | {id(node)}
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{FILENAME}:{key_node.start_mark.line + 1}: a key must be "
                                  "a plain value, not a list or mapping")
            key = _scalar(key_node, scalars)
            out[key] = _to_python(value_node, env, (*keys, str(key)), budget, scalars, inside)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, env, (*keys, f"[{i}]"), budget, scalars, inside)
                for i, v in enumerate(node.value)]
    value = _scalar(node, scalars)
    if isinstance(value, str) and "${" in value:
        return _interpolate(value, env, node.start_mark.line + 1, keys)
    return value


def _scalar(node: yaml.Node, scalars: yaml.constructor.SafeConstructor) -> Any:
    """A scalar's value as ``yaml.safe_load`` would give it (the same tag resolution and
    constructors), built straight from the node: serializing each scalar and parsing it again
    cost ~140 us a value, 28 s of CPU for a file at the ``MAX_YAML_NODES`` budget.

    ``scalars`` is the load's one constructor, not a new one per value. It keeps what it built
    by node, so a scalar an alias repeats is built once (scalars are immutable: sharing the
    value is safe); the alias still counts against the budget each time it expands."""
    return scalars.construct_object(node)


def _interpolate(value: str, env: Mapping[str, str], line: int, keys: tuple[str, ...]) -> str:
    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(
            f"{FILENAME}:{line}: `{_dotted(keys)}` uses ${{{name}}} but the environment variable "
            f"{name} is not set; export it or write ${{{name}:-default}}"
        )

    return _VAR.sub(repl, value)


def _dotted(keys: tuple[str | int, ...]) -> str:
    out = ""
    for key in keys:
        if isinstance(key, int) or (isinstance(key, str) and key.startswith("[")):
            out += f"[{key}]" if isinstance(key, int) else key
        else:
            out += f".{key}" if out else key
    return out


def _describe(exc: ValidationError, root: yaml.Node | None) -> str:
    lines = []
    for error in exc.errors():
        loc = list(error["loc"])
        if len(loc) > 2 and loc[0] in ("sources", "destinations"):
            del loc[2]  # the union's tag (the section's `type`), not a key of the file
        line = _line_of(root, loc)
        path = _dotted(tuple(loc)) or "(top level)"
        message = str(error["msg"]).removeprefix("Value error, ")  # pydantic's, not ours
        lines.append(f"{FILENAME}:{line}: {path}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _line_of(node: yaml.Node | None, loc: list[str | int]) -> int:
    """Walk the node tree along a pydantic loc; the deepest node found gives the line."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == str(part)), None)
            if found is None:
                key = next((k for k, _ in node.value if k.value == str(part)), None)
                return key.start_mark.line + 1 if key is not None else line
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
        else:
            return line
        line = node.start_mark.line + 1
    return line
