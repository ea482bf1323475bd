"""Virtualenvs holding an orchestrator library (Dagster, Airflow), made once and reused.

The integrations are extras: their libraries are heavy and must not enter Syncline's own
environment, so each test gets a venv of its own under the temp folder, keyed by what it holds.
The integration code itself is not installed there: the venv's Python runs with ``src`` on
``PYTHONPATH`` (``syncline.integrations`` imports only the standard library, httpx and the
orchestrator).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["cached_venv"]


def cached_venv(requirements: list[str], *, timeout_s: float = 900) -> Path:
    """The Python of a venv holding `requirements`, created on first use (and then reused)."""
    key = hashlib.sha256("\n".join([sys.version, *sorted(requirements)]).encode()).hexdigest()
    root = Path(os.environ.get("SYNCLINE_TEST_VENVS")
                or Path(tempfile.gettempdir()) / "syncline-venvs")
    folder = root / key[:16]
    python = folder / "bin" / "python"
    ready = folder / ".ready"
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"{key[:16]}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes must not build the same venv
        if not ready.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements],
                           check=True, timeout=timeout_s)
            ready.write_text("\n".join(requirements))
    return python
