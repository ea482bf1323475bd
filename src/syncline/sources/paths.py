"""Where a source defined on the server may read files: inside the project, never Syncline's own.

A DuckDB, SQLite or files source names a path, and whoever may define a connection on the server
chooses it. Without a fence, ``path: /proc/self/environ`` or the server's own ``state.db`` (users,
password hashes, sealed secrets) would be one connection away. So the server confines source
paths (our choice, as a self-hosted tool's default):

* every path, after following symlinks and ``..``, is inside the project folder or a folder the
  operator allowed (``SYNCLINE_SOURCE_DIRS``, separated by ``os.pathsep``);
* never inside the project's ``.syncline/`` folder (state store, diff files, the demo's key),
  never the state store's file wherever it is, never a hidden file or folder (``.env``, ``.git``).

The CLI does not apply this: ``syncline.yml`` is written by whoever runs the CLI on their machine.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncline.errors import ConfigError

__all__ = ["SourcePaths", "source_paths"]

_MAGIC = ("*", "?", "[")


def source_paths(config: Any) -> list[str]:
    """The file paths (and globs) a source config reads: ``path``, or each table's ``path``."""
    found: list[str] = []
    path = getattr(config, "path", None)
    if isinstance(path, str | Path):
        found.append(str(path))
    for table in (getattr(config, "tables", None) or {}).values():
        spec = getattr(table, "path", None)
        found.extend([spec] if isinstance(spec, str) else list(spec or []))
    return found


@dataclass(frozen=True)
class SourcePaths:
    """The fence: ``root`` and ``allowed`` folders are readable, ``private`` paths never are."""

    root: Path
    allowed: Sequence[Path] = ()
    private: Sequence[Path] = field(default_factory=tuple)

    def check(self, name: str, config: Any) -> None:
        """Raise ``ConfigError`` naming the first path of ``config`` outside the fence."""
        for raw in source_paths(config):
            for path in self._candidates(raw):
                self._check_one(name, raw, path)

    def _candidates(self, raw: str) -> Iterable[Path]:
        full = Path(raw) if Path(raw).is_absolute() else self.root / raw
        if not any(m in raw for m in _MAGIC):
            return [full.resolve()]
        # a glob: the folder it starts from, and every file it matches now
        parts = full.parts
        literal = next(i for i, p in enumerate(parts) if any(m in p for m in _MAGIC))
        matches = [Path(m).resolve() for m in glob.glob(str(full))]
        return [Path(*parts[:literal]).resolve(), *matches]

    def _check_one(self, name: str, raw: str, path: Path) -> None:
        homes = [self.root.resolve(), *(Path(a).resolve() for a in self.allowed)]
        home = next((h for h in homes if path == h or path.is_relative_to(h)), None)
        where = f"source `{name}`: path `{raw}`"
        if home is None:
            raise ConfigError(
                f"{where} resolves to {path}, outside the project folder {self.root}; the "
                "server reads sources only there or in a folder listed in SYNCLINE_SOURCE_DIRS "
                "(set by whoever runs `syncline serve`)")
        hidden = [p for p in path.relative_to(home).parts if p.startswith(".")]
        private = [p for p in self.private
                   if path == Path(p).resolve() or path.is_relative_to(Path(p).resolve())]
        if hidden or private:
            raise ConfigError(
                f"{where} is one of Syncline's own files or a hidden file ({path}); the state "
                "store, the `.syncline/` folder and hidden files are never a source")
