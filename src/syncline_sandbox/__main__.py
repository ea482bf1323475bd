"""``python -m syncline_sandbox --port 9000 --account ACC:PASS[:REGION] [--data DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from syncline_sandbox.accounts import load_accounts_file, parse_account
from syncline_sandbox.faults import Faults
from syncline_sandbox.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="syncline_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--data", type=Path, default=None, help="directory for the SQLite file")
    parser.add_argument("--account", action="append", default=[], help="ID:PASSCODE[:REGION]")
    parser.add_argument("--accounts-file", type=Path, help="YAML/JSON list of accounts")
    parser.add_argument(
        "--faults",
        help='JSON {"ACCOUNT": {"latency_ms": 100, "error_rate": 0.1, "seed": 1}, ...}',
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    try:
        accounts = [parse_account(a) for a in args.account]
        if args.accounts_file:
            accounts += load_accounts_file(args.accounts_file)
        raw = orjson.loads(args.faults) if args.faults else {}
        faults = {acc: Faults.from_dict(settings) for acc, settings in raw.items()}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        parser.error(str(exc))
    if not accounts:
        parser.error("give at least one --account ID:PASSCODE or --accounts-file")
    serve(args.host, args.port, accounts, args.data, faults, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
