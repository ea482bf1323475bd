"""dbt models as sources: read dbt's ``manifest.json`` to find the relation a model built.

A sync may read ``model: {dbt: users_enriched}`` from a source that says where its dbt project
is (``dbt: {project_dir: ../analytics}``). The manifest dbt writes on ``dbt build``/``dbt compile``
names the relation (``database.schema.alias``) each model lives in; that relation becomes the
model's table, read like any other. Syncline never runs dbt itself: a run must not depend on
dbt, its packages or the network, and the manifest is the contract dbt already publishes.

The manifest is read at run time, not when ``syncline.yml`` loads: it changes with each dbt
build, and a missing manifest must fail only the syncs that need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from syncline.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from syncline.config.models import ModelConfig

__all__ = ["DbtConfig", "DbtManifest", "DbtNode", "dbt_config_of", "resolve_model"]

# Nodes that build a relation a sync can read. (Sources, tests and analyses build none.)
_RELATIONS = ("model", "seed", "snapshot")


class DbtConfig(BaseModel):
    """Where a source's dbt project is; relative paths are relative to the Syncline project."""

    model_config = ConfigDict(extra="forbid")

    project_dir: str = Field(min_length=1)
    target: str | None = None
    """The dbt target the manifest must come from (checked against ``run_results.json`` when
    dbt recorded one): a manifest built for ``dev`` must not feed a ``prod`` source."""
    manifest_path: str | None = None
    """Read this manifest instead of ``<project_dir>/target/manifest.json``."""


@dataclass(frozen=True)
class DbtNode:
    """One relation-building node of the manifest."""

    unique_id: str
    name: str
    package: str
    resource_type: str
    database: str | None
    schema: str
    alias: str
    tags: tuple[str, ...]

    @property
    def table(self) -> str:
        """``"database"."schema"."alias"``, quoted so any name survives (``model.table``)."""
        parts = [p for p in (self.database, self.schema, self.alias) if p]
        return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def dbt_config_of(source_config: Any) -> DbtConfig | None:
    """A source's ``dbt:`` section, whatever the source's type (plugins' included)."""
    value = getattr(source_config, "dbt", None)
    if value is None and isinstance(source_config, dict):
        value = source_config.get("dbt")
    if value is None or isinstance(value, DbtConfig):
        return value
    return DbtConfig.model_validate(value)


class DbtManifest:
    """The relation-building nodes of one manifest and its ``child_map`` (for ``model+``)."""

    def __init__(self, path: Path, nodes: dict[str, DbtNode], child_map: dict[str, list[str]],
                 project: str) -> None:
        self.path, self.nodes, self.child_map, self.project = path, nodes, child_map, project

    @classmethod
    def load(cls, config: DbtConfig, root: Path, *, source: str) -> DbtManifest:
        """Read the manifest of `source`'s dbt project; a ConfigError says how to make it."""
        project_dir = (root / config.project_dir).resolve()
        path = ((root / config.manifest_path).resolve() if config.manifest_path
                else project_dir / "target" / "manifest.json")
        where = f"source `{source}`: dbt manifest {path}"
        build = f"`dbt build` (or `dbt compile`) in {project_dir}" + (
            f" with `--target {config.target}`" if config.target else "")
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise ConfigError(f"{where} does not exist; run {build} first") from None
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"{where} cannot be read ({exc}); run {build} again") from exc
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
            raise ConfigError(f"{where} is not a dbt manifest (no `nodes`); run {build}")
        _check_target(config, path, data, where=where, build=build)
        nodes = {uid: _node(uid, raw) for uid, raw in data["nodes"].items()
                 if isinstance(raw, dict) and raw.get("resource_type") in _RELATIONS}
        children = {k: list(v) for k, v in (data.get("child_map") or {}).items()}
        project = str((data.get("metadata") or {}).get("project_name") or "")
        return cls(path, nodes, children, project)

    def node(self, name: str, *, sync: str | None = None) -> DbtNode:
        """The node `name` (``model`` or ``package.model``); the root project's wins a tie."""
        package, _, short = name.rpartition(".")
        found = [n for n in self.nodes.values()
                 if n.name == short and (not package or n.package == package)]
        if len(found) > 1:
            found = [n for n in found if n.package == self.project] or found
        if len(found) == 1:
            return found[0]
        who = f"sync `{sync}`: " if sync else ""
        if not found:
            near = ", ".join(sorted({n.name for n in self.nodes.values()})[:20]) or "none"
            raise ConfigError(f"{who}dbt model `{name}` is not in {self.path} (models: {near}); "
                              "check the name, or run `dbt build` (or `dbt compile`) so the "
                              "manifest includes it")
        ids = ", ".join(sorted(n.unique_id for n in found))
        raise ConfigError(f"{who}dbt model `{name}` is ambiguous ({ids}); write `package.model`")

    def models(self) -> list[DbtNode]:
        """Every relation-building node, by name."""
        return sorted(self.nodes.values(), key=lambda n: (n.name, n.unique_id))

    def downstream(self, name: str) -> set[str]:
        """`name` and the unique ids of every node built from it (dbt's ``model+``)."""
        start = self.node(name).unique_id
        seen, todo = {start}, [start]
        while todo:
            for child in self.child_map.get(todo.pop(), []):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen


def _node(uid: str, raw: dict[str, Any]) -> DbtNode:
    return DbtNode(
        unique_id=uid, name=str(raw.get("name") or uid.rsplit(".", 1)[-1]),
        package=str(raw.get("package_name") or ""), resource_type=str(raw["resource_type"]),
        database=raw.get("database") or None, schema=str(raw.get("schema") or ""),
        alias=str(raw.get("alias") or raw.get("name") or ""),
        tags=tuple(str(t) for t in raw.get("tags") or ()),
    )


def _check_target(config: DbtConfig, path: Path, data: dict[str, Any], *, where: str,
                  build: str) -> None:
    """A manifest records no target; ``run_results.json`` of the same invocation may."""
    if config.target is None:
        return
    try:
        results = orjson.loads((path.parent / "run_results.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return
    same = ((results.get("metadata") or {}).get("invocation_id")
            == (data.get("metadata") or {}).get("invocation_id"))
    built_for = (results.get("args") or {}).get("target")
    if same and built_for and built_for != config.target:
        raise ConfigError(f"{where} was built for target `{built_for}`, not `{config.target}`; "
                          f"run {build}")


def resolve_model(model: ModelConfig, source_config: Any, root: Path, *, sync: str | None,
                  source: str) -> ModelConfig:
    """`model` with a dbt model replaced by the table dbt built (other models unchanged)."""
    name = model.dbt
    if name is None:
        return model
    config = dbt_config_of(source_config)
    if config is None:
        who = f"sync `{sync}`" if sync else "this sync"
        raise ModelError(f"{who} reads dbt model `{name}` but source `{source}` has no "
                         "`dbt: {project_dir: ...}`; add it to the source in syncline.yml")
    node = DbtManifest.load(config, root, source=source).node(name, sync=sync)
    return model.model_copy(update={"dbt": None, "table": node.table})
