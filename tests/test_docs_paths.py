"""The documentation names files that exist.

``docs/architecture.md`` and ``CONTRIBUTING.md`` point at modules and tests by path so that a
reader can go and look; after a module is moved or split, a stale path would send them nowhere.
Paths are checked where they are written in backticks or as relative links. A module may be
named without ``.py`` (``engine/mapping``), which stays true when it becomes a package.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "CONTRIBUTING.md", "docs/architecture.md", "docs/clevertap.md",
        "docs/deploy.md"]
# first path segment -> the folder it is relative to
ROOTS = {
    **{top: ROOT for top in ("src", "tests", "bench", "docs", ".ci", "deploy")},
    **{pkg: ROOT / "src" / "syncline" for pkg in (
        "engine", "sources", "destinations", "config", "store", "server", "scheduler", "cli",
        "demo", "workers")},
    "syncline_sandbox": ROOT / "src",
}
_CODE = re.compile(r"`([^`\s]+)`")
_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def _mentions(doc: Path) -> set[str]:
    text = doc.read_text(encoding="utf-8")
    found = {m for m in _CODE.findall(text)
             if "/" in m and m.split("/")[0] in ROOTS and "<" not in m}  # not `sources/<name>.py`
    found |= {m for m in _LINK.findall(text) if "://" not in m}
    return found


def _exists(doc: Path, mention: str) -> bool:
    path, _, test = mention.partition("::")
    if path.split("/")[0] in ROOTS:
        target = ROOTS[path.split("/")[0]] / path
    else:  # a relative link
        target = (doc.parent / path).resolve()
    candidates = [target, target.with_name(target.name + ".py")]
    hit = next((c for c in candidates if c.exists()), None)
    if hit is None:
        return False
    return not test or (hit.is_file() and f"def {test}(" in hit.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", DOCS)
def test_every_path_a_document_names_exists(name: str) -> None:
    doc = ROOT / name
    missing = sorted(m for m in _mentions(doc) if not _exists(doc, m))
    assert not missing, f"{name} names paths that do not exist: {missing}"
