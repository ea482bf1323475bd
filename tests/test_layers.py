"""Layers import downward only (docs/architecture.md §1): checked on the source, not by review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# package prefix -> prefixes it must never import
FORBIDDEN = {
    "syncline.engine": ("syncline.cli", "syncline.server", "syncline.scheduler"),
    "syncline.sources": ("syncline.engine", "syncline.cli", "syncline.server"),
    "syncline.destinations": ("syncline.engine", "syncline.cli", "syncline.server",
                              "syncline.sources", "syncline_sandbox"),
    "syncline.config": ("syncline.engine", "syncline.cli", "syncline.server",
                        "syncline.sources", "syncline.destinations"),
    "syncline.store": ("syncline.engine", "syncline.cli", "syncline.server"),
    "syncline.alerts": ("syncline.engine", "syncline.cli", "syncline.server", "syncline.scheduler",
                        "syncline.sources", "syncline.destinations"),
    "syncline.logs": ("syncline.",),
    "syncline.errors": ("syncline.",),
    "syncline.scheduler": ("syncline.server", "syncline.cli"),
    # run in an orchestrator's environment: nothing of Syncline but errors (stdlib only)
    "syncline.integrations": ("syncline.engine", "syncline.cli", "syncline.server",
                              "syncline.scheduler", "syncline.sources", "syncline.destinations",
                              "syncline.config", "syncline.store", "syncline.alerts",
                              "syncline.logs", "syncline.tracing", "syncline_sandbox"),
    "syncline.workers": ("syncline.cli",),
    "syncline_sandbox": ("syncline.engine", "syncline.cli", "syncline.server", "syncline.store",
                         "syncline.sources", "syncline.config"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        found.append((".".join(p for p in parts if p != "__init__"), path))
    return found


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_imports_point_down(module: str, path: Path) -> None:
    for owner, banned in FORBIDDEN.items():
        if module == owner or module.startswith(owner + "."):
            bad = sorted(i for i in _imports(path) if i.startswith(banned))
            assert not bad, f"{module} imports {bad}: layers import downward only"


def test_sandbox_shares_only_the_rules_module() -> None:
    for module, path in _modules():
        if module.startswith("syncline_sandbox"):
            shared = {i for i in _imports(path) if i.startswith("syncline.")}
            assert shared <= {"syncline.destinations.clevertap.rules"}, (module, shared)
