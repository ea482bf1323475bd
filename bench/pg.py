"""W4: a PostgreSQL source with the diff pushed down (the snapshot lives in PostgreSQL).

The harness creates its own database on the local server (127.0.0.1:5432, user postgres,
trust), loads the users with COPY from a DuckDB-written CSV, and drops the database at the end.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from bench import datagen
from bench import project as sl
from bench.servers import Receiver
from bench.workloads import Bench, ideal, run_syncline

__all__ = ["DSN", "available", "w4_postgres"]

DSN = "host=127.0.0.1 port=5432 user=postgres"
DATABASE = "syncline_bench"

_TABLE = """CREATE TABLE public.users (
  user_id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, gender TEXT, city TEXT,
  plan TEXT, score DOUBLE PRECISION, signup_date DATE, updated_at TIMESTAMP)"""


def available() -> str | None:
    """None when the server answers; else why W4 is skipped."""
    try:
        with psycopg.connect(DSN + " dbname=postgres", connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"W4 skipped: no PostgreSQL at 127.0.0.1:5432 ({str(exc).strip()[:120]})"


def _admin(sql: str) -> None:
    with psycopg.connect(DSN + " dbname=postgres", autocommit=True) as con:
        con.execute(sql.encode())


def _load(csv: Path) -> None:
    copy = "COPY public.users FROM STDIN (FORMAT csv, HEADER true)"
    with psycopg.connect(f"{DSN} dbname={DATABASE}") as con:
        con.execute(_TABLE)
        with con.cursor().copy(copy) as cp, csv.open("rb") as f:
            while chunk := f.read(1 << 20):
                cp.write(chunk)
        con.execute("ANALYZE public.users")


def _change(percent: int) -> int:
    """Change ``percent``% of the rows inside PostgreSQL (a fixed slice by key)."""
    with psycopg.connect(f"{DSN} dbname={DATABASE}") as con:
        cur = con.execute(
            "UPDATE public.users SET score = score + 1, updated_at = TIMESTAMP '2025-06-02' "
            "WHERE abs(hashtext(user_id)) %% 100 < %s",
            (percent,),
        )
        return cur.rowcount


def w4_postgres(b: Bench) -> None:
    n = b.sizes.postgres
    d = b.fresh("w4")
    duck, csv = d / "gen.duckdb", d / "users.csv"
    datagen.make_users(duck, n)
    datagen.to_csv(duck, "users", csv)
    _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    _admin(f"CREATE DATABASE {DATABASE}")
    try:
        _load(csv)
        source = {
            "type": "postgres",
            "host": "127.0.0.1",
            "port": 5432,
            "database": DATABASE,
            "user": "postgres",
        }
        sync = {
            **sl.profile_sync(),
            "model": {"query": "SELECT * FROM public.users"},
            "diff": "source",
        }
        proj = sl.write_project(d / "syncline", source, {"users": sync})
        with Receiver("sink") as sink:
            run_syncline(b, sink, "W4 (Postgres)", "initial load → minimal sink", n, proj, "users")
        changed = _change(1)
        with Receiver("sandbox") as rx:
            r = run_syncline(b, rx, "W4 (Postgres)", "run, 1% changed", n, proj, "users", plan=True)
            r.ideal = ideal(r.sent, changed)
            r = run_syncline(
                b, rx, "W4 (Postgres)", "run, nothing changed", n, proj, "users", plan=True
            )
            r.ideal = ideal(r.sent, 0)
    finally:
        _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
