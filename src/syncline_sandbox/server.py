"""Run the sandbox with uvicorn (blocking): used by ``python -m syncline_sandbox`` and the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import uvicorn

from syncline_sandbox.accounts import Account
from syncline_sandbox.app import create_app
from syncline_sandbox.faults import Faults

__all__ = ["serve"]


def serve(
    host: str,
    port: int,
    accounts: Iterable[Account],
    data_dir: Path | None,
    faults: Mapping[str, Faults] | None = None,
    *,
    log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Serve until interrupted. Access log is off: one line per upload would dominate CPU."""
    app = create_app(accounts, data_dir, faults)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log)
