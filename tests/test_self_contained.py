"""The repository explains itself: no tracked file points outside it.

Someone who clones Syncline has only the repository, so a link to a sibling folder or to a path
on the machine it was written on is a dead end for them. The patterns are built from pieces so
this file does not match itself.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = ("../" + "shared", "shared/" + "DESIGN", "/" + "work/")
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache",
                ".pytest_cache", ".syncline"}


def _tracked_files() -> list[Path]:
    """The files git tracks; every file but caches and the venv when git is not available."""
    try:
        listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                                check=True, timeout=30).stdout.decode()
        return [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        return [p for p in ROOT.rglob("*")
                if p.is_file() and not SKIPPED_DIRS.intersection(p.relative_to(ROOT).parts)]


def test_no_tracked_file_refers_outside_the_repository() -> None:
    found = []
    for path in _tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # images and other binaries; a deleted but still listed file
        for number, line in enumerate(text.splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{number}: {pattern!r}"
                      for pattern in OUTSIDE if pattern in line]
    assert not found, "files refer to places outside the repository:\n" + "\n".join(found)
