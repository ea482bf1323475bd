"""The physical anchor: what DuckDB itself takes for the work underneath a Syncline run.

Two bare operations, each timed inside its own child process around the query alone (no
interpreter start-up, no imports), so Syncline's figures can be read as a ratio over the engine:

- ``json``: W1's records as JSON, written by DuckDB (``COPY (SELECT {...}) TO ... (FORMAT JSON)``):
  the same CleverTap profile records, one a line, nulls included (Syncline leaves them out).
- ``diff``: W2's diff as one query: the model's (key, row hash) against a (key, hash) snapshot
  table, counting the keys new or changed. Key and hash are rendered by Syncline's own DuckDB
  diff dialect, and DuckDB gets the engine's memory limit, so it is the same join on the same
  terms, without the NULL/duplicate-key pass, the materialised plan or the counts.
  ``diff-prepare`` writes that snapshot (untimed) before the rows change, without a key, as
  Syncline's DuckDB snapshot is (engine/diff/dialects.py ``keyed_snapshot``).

Run: ``python -m bench.anchor json|diff|diff-prepare WAREHOUSE WORKFILE``; prints one JSON object
(``wall_s``, ``cpu_s``, ``rows``). CPU is the whole process's (DuckDB's threads included).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import duckdb
import orjson

from bench.datagen import USER_COLUMNS
from syncline.engine.diff.dialects import DIALECTS
from syncline.engine.planner import MEMORY_LIMIT

__all__ = ["main"]

_D = DIALECTS["duckdb"]

# The records Syncline sends for W1 (the peers build the same ones): dates as "$D_<epoch>".
_JSON = """
COPY (SELECT 'profile' AS type, user_id AS identity, {{
    'Name': name, 'Email': email, 'Phone': phone, 'Gender': gender, 'city': city,
    'plan': plan, 'score': score,
    'signup_date': '$D_' || epoch(signup_date)::BIGINT,
    'updated_at': '$D_' || epoch(updated_at)::BIGINT}} AS profileData
  FROM w.main.users) TO '{out}' (FORMAT JSON)
"""


def _model() -> str:
    key = _D.key("user_id", "m.")
    digest = _D.row_hash("bench", USER_COLUMNS[1:], "m.", set(USER_COLUMNS[1:]))  # typed
    return f"SELECT {key} AS k, {digest} AS h FROM w.main.users AS m"


def _diff() -> str:
    return (f"SELECT count(*) FROM ({_model()}) AS d LEFT JOIN snap AS s ON s.sync_key = d.k "
            "WHERE s.sync_key IS NULL OR s.row_hash <> d.h")  # fmt: skip


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(op: str, warehouse: Path, work: Path) -> dict[str, float]:
    """Run ``op``; answer its wall and CPU seconds and the rows it produced."""
    con = duckdb.connect(str(work.with_suffix(".duckdb")))
    con.execute("SET enable_progress_bar = false")
    if op != "json":  # the diff under the plan's own limit; writing 1M records as JSON
        # does not fit 100MB (DuckDB keeps COPY's output order), so it runs at DuckDB's default
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("ATTACH '" + str(warehouse).replace("'", "''") + "' AS w (READ_ONLY)")
    if op == "diff-prepare":
        con.execute("CREATE OR REPLACE TABLE snap (sync_key VARCHAR NOT NULL, row_hash UBIGINT)")
        con.execute(f"INSERT INTO snap {_model()}")
        con.close()
        return {"wall_s": 0.0, "cpu_s": 0.0, "rows": 0.0}
    sql = _JSON.format(out=str(work.with_suffix(".json")).replace("'", "''")) if op == "json" \
        else _diff()  # fmt: skip
    cpu, started = _cpu(), time.perf_counter()
    row = con.execute(sql).fetchone()
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    con.close()
    return {"wall_s": wall, "cpu_s": cpu, "rows": float(row[0]) if row else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.anchor", description=__doc__)
    parser.add_argument("op", choices=["json", "diff", "diff-prepare"])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("work", type=Path, help="a path without suffix for the anchor's files")
    args = parser.parse_args(argv)
    sys.stdout.write(orjson.dumps(run(args.op, args.warehouse, args.work)).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
