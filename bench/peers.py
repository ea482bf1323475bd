"""The peers, drt and dlt, run from their own venv against the same receiver and the same rows.

They are never Syncline dependencies: ``ensure_venv`` builds ``bench/.work/peers-venv`` with pip
(the one network use of the harness, at set-up time, never during a measurement). drt reads the
same DuckDB file through its ``duckdb`` profile and posts with its generic REST API destination
in batch mode; dlt reads the same DuckDB file as Arrow batches and posts from a
``@dlt.destination`` function in parallel load workers (``bench/peer_dlt.py``, ``DLT_TUNING``).
Both build the same CleverTap records Syncline sends, 1,000 per request.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Literal

import orjson

from bench.measure import Measured, run_measured
from bench.servers import ACCOUNT, PASSCODE

__all__ = [
    "DLT_TUNING",
    "PEER_PACKAGES",
    "PeerKind",
    "dlt_run",
    "drt_run",
    "ensure_venv",
    "peer_versions",
    "write_drt_project",
]

PEER_PACKAGES = ("drt-core", "dlt", "sqlalchemy<2.1", "duckdb", "pyarrow")
PeerKind = Literal["profile", "event"]
HERE = Path(__file__).parent

# dlt's fastest documented set-up for this job ("Optimizing dlt": file rotation and parallel
# load workers): load files of 10,000 rows, so 1M rows give 100 load jobs, run by 15 workers
# at once (the uploads CleverTap allows in flight, as Syncline uses). Normalising Arrow items is
# a file copy, so one normalize worker suffices.
DLT_TUNING = {
    "DATA_WRITER__FILE_MAX_ITEMS": "10000",
    "LOAD__WORKERS": "15",
    "NORMALIZE__WORKERS": "1",
}

# drt renders one Jinja template per request; these give the exact records Syncline sends.
_PROFILE = (
    '{"type":"profile","identity":{{ r.user_id|tojson_safe }},"profileData":{'
    '"Name":{{ r.name|tojson_safe }},"Email":{{ r.email|tojson_safe }},'
    '"Phone":{{ r.phone|tojson_safe }},"Gender":{{ r.gender|tojson_safe }},'
    '"city":{{ r.city|tojson_safe }},"plan":{{ r.plan|tojson_safe }},'
    '"score":{{ r.score|tojson_safe }},"signup_date":{{ r.signup_date|tojson_safe }},'
    '"updated_at":{{ r.updated_d|tojson_safe }}}}'
)
_EVENT = (
    '{"type":"event","identity":{{ r.user_id|tojson_safe }},"evtName":"Charged",'
    '"ts":{{ r.ts|tojson_safe }},"evtData":{'
    '"Transaction Value":{{ r.transaction_value|tojson_safe }},'
    '"Currency":{{ r.currency|tojson_safe }},'
    '"Discount Applied":{{ r.discount_applied|tojson_safe }},'
    '"Items":{{ r["items"]|tojson_safe }}}}'
)
_MODELS = {
    "profile": "SELECT user_id, name, email, phone, gender, city, plan, score, "
    "'$D_' || epoch(signup_date)::BIGINT AS signup_date, updated_at, "
    "'$D_' || epoch(updated_at)::BIGINT AS updated_d FROM main.users",
    "event": "SELECT order_id, user_id, epoch(ordered_at)::BIGINT AS ts, transaction_value, "
    "currency, discount_applied, items FROM main.orders",
}


def venv_python(work: Path) -> Path:
    return work / "peers-venv" / "bin" / "python"


def ensure_venv(work: Path) -> str | None:
    """Build the peers' venv once; answer why not when it cannot be built (offline, ...)."""
    python = venv_python(work)
    if python.exists() and _has_peers(python):
        return None
    try:
        subprocess.run([sys.executable, "-m", "venv", str(work / "peers-venv")], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES],
                       check=True, capture_output=True, timeout=900)  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        return f"peers venv not built ({exc}); install {', '.join(PEER_PACKAGES)} by hand"
    return None if _has_peers(python) else "peers venv lacks drt or dlt after pip install"


def peer_versions(work: Path) -> str:
    """The peers' own versions and their engines' (drt-core, dlt, duckdb, pyarrow), one line."""
    names = ("drt-core", "dlt", "duckdb", "pyarrow")
    code = ("import importlib.metadata as m; print(', '.join(n + ' ' + m.version(n) for n in "
            f"{names!r}))")
    probe = subprocess.run([str(venv_python(work)), "-c", code], capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else "unknown"


def _has_peers(python: Path) -> bool:
    probe = subprocess.run([str(python), "-c", "import drt, dlt, duckdb, sqlalchemy, pyarrow"],
                           capture_output=True)  # fmt: skip
    return probe.returncode == 0


def write_drt_project(root: Path, duckdb_file: Path, url: str, kind: PeerKind,
                      cursor: bool = False) -> Path:  # fmt: skip
    """A drt project (and its HOME with profiles.yml) posting ``kind`` records to ``url``.

    ``cursor`` makes the profile sync incremental on ``updated_at`` (drt's watermark), the
    only way drt avoids re-sending every row.
    """
    (root / "home" / ".drt").mkdir(parents=True, exist_ok=True)
    (root / "syncs").mkdir(parents=True, exist_ok=True)
    profiles = {"bench": {"type": "duckdb", "database": str(duckdb_file)}}
    (root / "home" / ".drt" / "profiles.yml").write_bytes(orjson.dumps(profiles))
    (root / "drt_project.yml").write_bytes(orjson.dumps({"name": "bench", "profile": "bench"}))
    record = _PROFILE if kind == "profile" else _EVENT
    sync: dict[str, object] = {
        "name": "bench",
        "model": _MODELS[kind],
        "destination": {
            "type": "rest_api", "url": f"{url}/1/upload", "method": "POST",
            "headers": {"X-CleverTap-Account-Id": ACCOUNT, "X-CleverTap-Passcode": PASSCODE,
                        "Content-Type": "application/json"},
            "body_mode": "batch", "max_records_per_request": 1000,
            "batch_template": '{"d":[{% for r in rows %}' + record
            + '{% if not loop.last %},{% endif %}{% endfor %}]}',
        },
        # drt paces requests (10/s by default): lifted so it runs as fast as it can.
        "sync": {"batch_size": 1000, "rate_limit": {"requests_per_second": 100000}},
    }  # fmt: skip
    if cursor:
        sync["sync"] = {**sync["sync"], "mode": "incremental", "cursor_field": "updated_at"}  # type: ignore[dict-item]
    (root / "syncs" / "bench.yml").write_bytes(orjson.dumps(sync))
    return root


def drt_run(work: Path, project: Path) -> Measured:
    """``drt run`` in the project, HOME pointing at its own profiles.yml."""
    drt = work / "peers-venv" / "bin" / "drt"
    env = {**os.environ, "HOME": str(project / "home"), "DRT_TELEMETRY": "0",
           "DO_NOT_TRACK": "1"}  # fmt: skip
    return run_measured([str(drt), "run", "--select", "bench"], cwd=project, env=env)


def dlt_run(work: Path, state: Path, duckdb_file: Path, url: str, kind: PeerKind,
            cursor: bool = False) -> Measured:  # fmt: skip
    """Run ``bench/peer_dlt.py`` in the peers venv, tuned; its pipeline state lives in ``state``."""
    argv = [str(venv_python(work)), str(HERE / "peer_dlt.py"), "--duckdb", str(duckdb_file),
            "--url", url, "--kind", kind, "--account", ACCOUNT, "--passcode", PASSCODE]  # fmt: skip
    if cursor:
        argv.append("--cursor")
    state.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **DLT_TUNING, "DLT_DATA_DIR": str(state / "data"),
           "DLT_PROJECT_DIR": str(state), "RUNTIME__DLTHUB_TELEMETRY": "false"}  # fmt: skip
    return run_measured(argv, cwd=state, env=env)
