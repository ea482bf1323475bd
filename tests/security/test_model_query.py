"""Hole 1: a model query escapes its wrapper. A model is exactly one read-only SELECT."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from syncline.config.sources import PostgresSourceConfig
from syncline.errors import SourceError
from syncline.sources import sql as sql_source
from syncline.sources.sql import open_sql_source

from ..server.served import Served
from .conftest import ATTACK, victim_rows

ATTACKS = [
    ATTACK,
    "SELECT 1; DROP TABLE main.victim",
    "WITH gone AS (DELETE FROM main.victim RETURNING *) SELECT * FROM gone",
    "SELECT * INTO main.copied FROM main.victim",
    "DROP TABLE main.victim",
]


@pytest.mark.parametrize("query", ATTACKS)
def test_a_model_that_writes_is_refused_and_the_table_survives(app: Served, query: str) -> None:
    with app.api() as api:
        described = api.post("/api/sources/wh/columns", json={"query": query})
        assert described.status_code == 400, described.text
        assert "exactly one SELECT" in described.json()["error"]
        made = api.post("/api/syncs", json={"name": "evil", "config": {
            "source": "wh", "destination": "ct", "object": "profile", "sync_key": "id",
            "model": {"query": query}}})
        assert made.status_code in (400, 404, 422), made.text
    assert victim_rows(app.root / "wh.duckdb") == 3


def test_a_query_in_a_get_is_refused_unrun(app: Served) -> None:
    with app.api() as api:
        got = api.get("/api/sources/wh/columns", params={"query": ATTACK})
        assert got.status_code == 400 and "POST" in got.json()["error"]
        table = api.get("/api/sources/wh/columns", params={"table": "main.victim"})
        assert [c["name"] for c in table.json()["columns"]] == ["id"]
    assert victim_rows(app.root / "wh.duckdb") == 3


def _pg(pg_db: str) -> dict[str, Any]:
    return {"type": "postgres", "host": "127.0.0.1", "port": 5432, "database": pg_db,
            "user": "postgres"}


def _pg_victims(pg_db: str) -> int:
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={pg_db}") as conn:
        row = conn.execute("SELECT count(*) FROM victim").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("query", [
    "SELECT 1) AS x; COMMIT; DROP TABLE victim; SELECT * FROM (SELECT 1",
    "SELECT 1) AS x; COMMIT; DELETE FROM victim; SELECT * FROM (SELECT 1",
])
def test_postgres_commit_does_not_leave_the_read_only_transaction(
    app: Served, pg_db: str, query: str
) -> None:
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={pg_db}",
                         autocommit=True) as conn:
        conn.execute("CREATE TABLE victim AS SELECT generate_series(1, 3) AS id")
    with app.api() as api:
        body = {"kind": "source", "name": "pg", "config": _pg(pg_db)}
        assert api.post("/api/connections", json=body).status_code == 201
        described = api.post("/api/sources/pg/columns", json={"query": query})
        assert described.status_code == 400, described.text
    assert _pg_victims(pg_db) == 3


def test_postgres_runs_one_statement_per_call_even_past_the_parser(
    pg_db: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second layer: were the sqlglot check fooled, the extended protocol and the read-only
    transaction still refuse a second statement."""
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={pg_db}",
                         autocommit=True) as conn:
        conn.execute("CREATE TABLE victim AS SELECT generate_series(1, 3) AS id")
    monkeypatch.setattr(sql_source, "check_model_query", lambda *a, **k: None)
    source = open_sql_source("pg", PostgresSourceConfig.model_validate(_pg(pg_db)), tmp_path)
    try:
        for query in ("SELECT 1) AS x; COMMIT; DROP TABLE victim; SELECT * FROM (SELECT 1",):
            with pytest.raises(SourceError, match="multiple commands"):
                source.columns(f"({query}) AS syncline_model")
            with pytest.raises(SourceError, match="multiple commands"):
                list(source.stream(f"({query}) AS syncline_model"))
    finally:
        source.close()
    assert _pg_victims(pg_db) == 3
