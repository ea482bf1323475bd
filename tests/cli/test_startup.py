"""Start-up: a command imports only what it uses (issue #18: start-up was 16% of W1's Python time).

Each check runs the real CLI in a fresh interpreter and reads ``sys.modules`` as it exits, so
a module-level import added anywhere on the path (runner, registry, CLI) makes it fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from tests.cli.helpers import Project

# prints which of the named modules the command imported, after the command has run
_PROBE = """\
import atexit, sys
import orjson
names = sys.argv[1].split(",")
atexit.register(lambda: sys.stderr.write(
    "\\nIMPORTED " + orjson.dumps(sorted(n for n in names if n in sys.modules)).decode() + "\\n"))
sys.argv = ["syncline", *sys.argv[2:]]
from syncline.cli.main import main
main()
"""

# what a run of a DuckDB project without alerts has no use for: the alerts (mail, TLS,
# webhooks) and the Google Sheets source (its cryptography)
NOT_FOR_A_PLAIN_RUN = ("syncline.alerts", "smtplib", "syncline.sources.sheets", "cryptography")
# a run with nothing to send builds no HTTP client, no record and normalises no phone number
NOT_FOR_NOTHING_TO_SEND = ("httpx", "httpcore", "certifi", "phonenumbers", "pyarrow.compute")
# `syncline --version` needs only the command line itself
NOT_FOR_VERSION = ("sqlalchemy", "pydantic", "pyarrow", "duckdb", "httpx", "sqlglot",
                   "syncline.store", "syncline.config", "syncline.engine")


def _imported(env: dict[str, str], names: tuple[str, ...], *args: str) -> tuple[list[str], Any]:
    done = subprocess.run([sys.executable, "-c", _PROBE, ",".join(names), *args], env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    line = [ln for ln in done.stderr.splitlines() if ln.startswith("IMPORTED ")][-1]
    return orjson.loads(line.removeprefix("IMPORTED ")), done.stdout


def test_a_run_without_alerts_imports_neither_alerts_nor_other_sources(
        tmp_path: Path, sandbox_account: dict[str, Any]) -> None:
    project = Project.create(tmp_path, sandbox_account, users=20)
    imported, out = _imported(project.env, NOT_FOR_A_PLAIN_RUN, "run", "users",
                              "--project", str(project.root), "--json")
    summary = orjson.loads(out)
    assert summary["status"] == "succeeded_with_rejections"  # the run did its whole work
    assert summary["accepted"] > 0
    assert imported == []


def test_a_run_with_nothing_to_send_loads_no_http_client(
        tmp_path: Path, sandbox_account: dict[str, Any]) -> None:
    project = Project.create(tmp_path, sandbox_account, users=20)
    first, _ = _imported(project.env, NOT_FOR_NOTHING_TO_SEND, "run", "users",
                         "--project", str(project.root), "--json")
    assert "httpx" in first  # the probe sees a run that sends
    # the fixture's rejected rows (a bad phone, a bad email) would be retried, and their records
    # built, on every run: fixed and sent once, the next run has nothing at all to build or send
    project.sql("UPDATE users SET phone = '+14155550004' WHERE user_id = 4")
    project.sql("UPDATE users SET email = 'user2@example.com' WHERE user_id = 2")
    fixed, _ = _imported(project.env, NOT_FOR_NOTHING_TO_SEND, "run", "users",
                         "--project", str(project.root), "--json")
    assert "pyarrow.compute" in fixed  # the probe sees a run that builds records
    imported, out = _imported(project.env, NOT_FOR_NOTHING_TO_SEND, "run", "users",
                              "--project", str(project.root), "--json")
    summary = orjson.loads(out)
    assert summary["status"].startswith("succeeded")  # the fixture's invalid keys stay so
    assert summary["counts"]["sent"] == 0 and summary["counts"]["rejected"] == 0
    assert summary["planned"]["unchanged"] > 0
    assert imported == []


def test_version_imports_no_engine() -> None:
    imported, out = _imported(dict(os.environ), NOT_FOR_VERSION, "--version")
    assert out.startswith("syncline ")
    assert imported == []

