"""SQL sources against real SQLite files, PostgreSQL and MariaDB on this machine."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from syncline.config.sources import MySQLSourceConfig, PostgresSourceConfig, SQLiteSourceConfig
from syncline.errors import ConfigError, ModelError, SourceError
from syncline.sources.sql import SQLSource, open_sql_source, quote_table

TABLE = 'Big "Quoted" Users'
ROWS: list[tuple[Any, ...]] = [
    (1, Decimal("12.50"), "Zoë Ångström 東京", dt.date(1990, 5, 17),
     dt.datetime(2024, 1, 2, 3, 4, 5), True),
    (2, Decimal("-0.01"), "plain", dt.date(2000, 1, 1), dt.datetime(2023, 12, 31, 23, 59, 59),
     False),
    (3, None, None, None, None, None),
]
DDL = (
    "CREATE TABLE {t} (id INTEGER PRIMARY KEY, amount DECIMAL(10,2), {name} VARCHAR(100), "
    "born DATE, seen_at {ts}, active BOOLEAN)"
)


def _fill(engine: sa.Engine, dialect: str, schema: str | None, ts: str = "TIMESTAMP") -> str:
    """Create the mixed-type table; returns the model SQL selecting it."""
    table = quote_table(dialect, schema, TABLE)
    name = engine.dialect.identifier_preparer.quote("Full Name")
    with engine.begin() as conn:
        conn.exec_driver_sql(DDL.format(t=table, name=name, ts=ts))
        cols = ", ".join(["id", "amount", name, "born", "seen_at", "active"])
        params = ", ".join(f":p{i}" for i in range(6))
        for row in ROWS:
            values = [_sqlite_value(v) for v in row] if dialect == "sqlite" else row
            conn.execute(sa.text(f"INSERT INTO {table} ({cols}) VALUES ({params})"),
                         {f"p{i}": v for i, v in enumerate(values)})
    return f"SELECT * FROM {table}"


def _sqlite_value(value: object) -> object:
    """SQLite stores what its driver can bind: decimals as floats, dates as ISO text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _check_stream(source: SQLSource, model: str) -> None:
    cols = source.columns(model)
    assert [c.name for c in cols] == ["id", "amount", "Full Name", "born", "seen_at", "active"]
    batches = list(source.stream(model + " ORDER BY id", batch_rows=2))
    assert [b.num_rows for b in batches] == [2, 1]
    got = [tuple(r.values()) for b in batches for r in b.to_pylist()]
    expected = [tuple(float(v) if isinstance(v, Decimal) and source.capabilities.dialect == "sqlite"
                      else v for v in row) for row in ROWS]
    assert got == expected
    assert batches[0].schema == batches[1].schema


def _sqlite(tmp_path: Path, read_only: bool = False) -> tuple[SQLSource, str]:
    path = tmp_path / "w.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    model = _fill(engine, "sqlite", None, ts="DATETIME")
    engine.dispose()
    cfg = SQLiteSourceConfig(type="sqlite", path="w.db", read_only=read_only)
    return open_sql_source("lite", cfg, tmp_path), model


def test_sqlite_check_browse_stream(tmp_path: Path) -> None:
    source, model = _sqlite(tmp_path)
    try:
        source.check()
        assert source.schemas() == ["main"]
        assert source.tables("main") == [TABLE]
        assert source.capabilities.dialect == "sqlite" and source.capabilities.writable
        types = {c.name: c.type for c in source.columns(model)}
        assert types["amount"] == "DECIMAL(10,2)" and types["born"] == "DATE"
        _check_stream(source, model)
    finally:
        source.close()


def test_sqlite_missing_file_and_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"source `lite`: SQLite file .*nope.db` does not exist"):
        open_sql_source("lite", SQLiteSourceConfig(type="sqlite", path="nope.db"), tmp_path)
    source, _ = _sqlite(tmp_path, read_only=True)
    try:
        assert not source.capabilities.writable
        with pytest.raises(ModelError, match=r"table in the model does not exist.*missing"):
            source.columns('SELECT * FROM "missing"')
        with pytest.raises(ModelError, match="syntax error"):
            source.columns("SELEC * FROM x")
        with pytest.raises(ModelError, match="no such table: nope"):
            list(source.stream("SELECT * FROM nope"))
        with pytest.raises(ModelError, match="column"):
            source.columns(f"SELECT nope FROM {quote_table('sqlite', None, TABLE)}")
        with pytest.raises(ModelError, match=r"schema `elsewhere` does not exist.*known: main"):
            source.tables("elsewhere")
    finally:
        source.close()


def test_sqlite_value_not_fitting_its_type_names_column(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with sqlite3.connect(path) as conn:
        conn.execute('CREATE TABLE t (id INTEGER, "n m" INTEGER)')
        conn.execute("INSERT INTO t VALUES (1, 5), (2, 'not a number')")
    conn.close()
    source = open_sql_source("lite", SQLiteSourceConfig(type="sqlite", path=str(path)), tmp_path)
    try:
        with pytest.raises(ModelError, match=r"column `n m` holds 'not a number'.*CAST"):
            list(source.stream("SELECT * FROM t"))
    finally:
        source.close()


def test_sqlite_model_cannot_write(tmp_path: Path) -> None:
    source, _ = _sqlite(tmp_path)
    try:
        with pytest.raises(SourceError):
            list(source.stream(f"DELETE FROM {quote_table('sqlite', None, TABLE)} RETURNING id"))
    finally:
        source.close()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {quote_table('sqlite', None, TABLE)}"
                                    ).scalar() == 3
    engine.dispose()


@pytest.mark.integration
def test_postgres_check_browse_stream(pg_db: str) -> None:
    engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_db}")
    with engine.begin() as conn:
        conn.exec_driver_sql('CREATE SCHEMA "Sales Team"')
        conn.exec_driver_sql('CREATE SEQUENCE "Sales Team".seq')
        conn.exec_driver_sql(
            'CREATE TABLE "Sales Team".odd (i interval, u uuid, j jsonb, t time, "a:b" text)')
        conn.exec_driver_sql(
            "INSERT INTO \"Sales Team\".odd VALUES ('1 day', gen_random_uuid(), '{\"k\": 1}', "
            "'10:30', '50%%')")
    model = _fill(engine, "postgres", "Sales Team")
    engine.dispose()
    cfg = PostgresSourceConfig(type="postgres", host="127.0.0.1", port=5432, database=pg_db,
                               user="postgres")
    source = open_sql_source("pg", cfg, Path("."))
    try:
        source.check()
        assert "Sales Team" in source.schemas() and "pg_catalog" not in source.schemas()
        assert source.tables("Sales Team") == [TABLE, "odd"]
        types = {c.name: c.type for c in source.columns(model)}
        assert types == {"id": "int4", "amount": "numeric", "Full Name": "varchar",
                         "born": "date", "seen_at": "timestamp", "active": "bool"}
        _check_stream(source, model)
        # every type streams (the mapping decides what is sent): intervals as text, arrays as
        # lists of text
        odd = next(source.stream('SELECT i, ARRAY[\'a\', NULL] AS l, ARRAY[1, 2] AS n '
                                 'FROM "Sales Team".odd')).to_pylist()[0]
        assert odd == {"i": "1 day, 0:00:00", "l": ["a", None], "n": ["1", "2"]}
        numbers = next(source.stream("SELECT x::numeric AS x FROM (VALUES ('NaN'), "
                                     "('Infinity'), ('-Infinity'), ('1.5')) v(x)")).to_pylist()
        assert [r["x"] for r in numbers] == [None, None, None, Decimal("1.5")]
        rows = next(source.stream('SELECT u, j, t, "a:b", \'x:y\' AS c FROM "Sales Team".odd'))
        row = rows.to_pylist()[0]
        assert row["j"] == '{"k": 1}' and row["t"] == "10:30:00" and row["a:b"] == "50%"
        assert row["c"] == "x:y" and len(str(row["u"])) == 36
        with pytest.raises(ModelError, match=r"read only|read-only"):
            list(source.stream("SELECT nextval('\"Sales Team\".seq') AS n"))
        with pytest.raises(ModelError, match=r"table in the model does not exist.*nope"):
            source.columns('SELECT * FROM "Sales Team"."nope"')
        with pytest.raises(ModelError, match="syntax error"):
            source.columns("SELECT FROM WHERE")
    finally:
        source.close()


@pytest.mark.integration
def test_postgres_connection_errors(pg_db: str) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        (dict(host="127.0.0.1", port=1, database=pg_db, user="postgres"), "cannot be reached"),
        (dict(host="127.0.0.1", port=5432, database="no_such_db_x", user="postgres"),
         "database does not exist"),
        (dict(host="127.0.0.1", port=5432, database=pg_db, user="nobody_here"), "credentials"),
    ]
    for fields, message in cases:
        cfg = PostgresSourceConfig.model_validate({"type": "postgres", **fields})
        source = open_sql_source("pg", cfg, Path("."))
        try:
            with pytest.raises(SourceError, match=f"source `pg` \\(postgres\\).*{message}"):
                source.check()
        finally:
            source.close()
    with pytest.raises(ConfigError, match="not a valid SQLAlchemy URL"):
        nonsense = PostgresSourceConfig.model_validate({"type": "postgres", "url": "::nonsense"})
        open_sql_source("pg", nonsense, Path("."))


@pytest.mark.integration
def test_mariadb_check_browse_stream(my_db: str) -> None:
    engine = sa.create_engine(f"mysql+pymysql://root@127.0.0.1:3306/{my_db}?charset=utf8mb4")
    model = _fill(engine, "mysql", my_db, ts="DATETIME")
    engine.dispose()
    cfg = MySQLSourceConfig.model_validate(
        {"type": "mariadb", "url": f"mysql+pymysql://root@127.0.0.1:3306/{my_db}?charset=utf8mb4"})
    source = open_sql_source("maria", cfg, Path("."))
    try:
        source.check()
        assert my_db in source.schemas() and "mysql" not in source.schemas()
        assert source.tables(my_db) == [TABLE]
        assert source.capabilities.dialect == "mysql"
        _check_stream(source, model)
        with pytest.raises(ModelError, match="does not exist"):
            source.columns(f"SELECT * FROM `{my_db}`.`nope`")
        with pytest.raises(ModelError, match="syntax error"):
            source.columns("SELECT FROM WHERE")
        bad = MySQLSourceConfig.model_validate({"type": "mysql", "host": "127.0.0.1",
                                                "user": "nobody_x", "password": "wrong"})
        cases = [(bad, "credentials"),
                 (bad.model_copy(update={"user": "root", "password": None, "port": 1}),
                  "cannot be reached"),
                 (bad.model_copy(update={"user": "root", "password": None,
                                         "database": "no_such_db_x"}),
                  "database does not exist")]
        for wrong_cfg, message in cases:
            wrong = open_sql_source("maria", wrong_cfg, Path("."))
            try:
                with pytest.raises(SourceError, match=f"source `maria` \\(mysql\\).*{message}"):
                    wrong.check()
            finally:
                wrong.close()
    finally:
        source.close()


@pytest.mark.integration
def test_mariadb_model_runs_read_only(my_db: str) -> None:
    url = f"mysql+pymysql://root@127.0.0.1:3306/{my_db}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INT)")
        conn.exec_driver_sql("CREATE FUNCTION bump() RETURNS INT MODIFIES SQL DATA "
                             "BEGIN INSERT INTO t VALUES (1); RETURN 1; END")
    engine.dispose()
    cfg = MySQLSourceConfig.model_validate({"type": "mysql", "url": url})
    source = open_sql_source("maria", cfg, Path("."))
    try:
        # a SELECT can still write through a function; the read-only transaction stops it
        with pytest.raises(ModelError, match="the model tried to write"):
            list(source.stream("SELECT bump() AS b"))
    finally:
        source.close()


def test_missing_extra_names_the_pip_install() -> None:
    from syncline.config.sources import SnowflakeSourceConfig

    cfg = SnowflakeSourceConfig.model_validate(
        {"type": "snowflake", "url": "snowflake://u:p@acct/db"})
    with pytest.raises(ConfigError, match=r"source `wh`.*pip install 'syncline\[snowflake\]'"):
        open_sql_source("wh", cfg, Path("."))


def test_network_config_needs_url_or_host() -> None:
    with pytest.raises(ValueError, match="give `url:`"):
        PostgresSourceConfig(type="postgres")
    with pytest.raises(ValueError, match="not both"):
        PostgresSourceConfig.model_validate(
            {"type": "postgres", "url": "postgresql://x", "host": "h"})
    cfg = PostgresSourceConfig.model_validate(
        {"type": "postgres", "url": "postgresql+psycopg://u:s3cret@h/db"})
    assert "s3cret" not in repr(cfg)


@pytest.mark.integration
def test_postgres_streams_in_flat_batches(pg_db: str) -> None:
    cfg = PostgresSourceConfig.model_validate(
        {"type": "postgres", "url": f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_db}"})
    source = open_sql_source("pg", cfg, Path("."))
    try:
        model = "SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 25000) AS g"
        sizes = [b.num_rows for b in source.stream(model, batch_rows=10_000)]
        assert sizes == [10_000, 10_000, 5_000]
    finally:
        source.close()


def test_sqlite_expressions_take_their_values_type(tmp_path: Path) -> None:
    source, _ = _sqlite(tmp_path)
    try:
        table = quote_table("sqlite", None, TABLE)
        sql = f'SELECT id + 1 AS next_id, amount * 2 AS twice, upper("Full Name") AS u FROM {table}'
        batch = next(source.stream(sql + " ORDER BY id"))
        assert batch.schema.types == [pa.int64(), pa.float64(), pa.string()]
        assert batch.column("next_id").to_pylist() == [2, 3, 4]
        assert batch.column("twice").to_pylist() == [25.0, -0.02, None]
        assert list(source.stream(f"SELECT * FROM {table} WHERE id > 100")) == []
    finally:
        source.close()


@pytest.mark.integration
def test_mariadb_reader_may_stop_early(my_db: str) -> None:
    cfg = MySQLSourceConfig.model_validate(
        {"type": "mysql", "url": f"mysql+pymysql://root@127.0.0.1:3306/{my_db}"})
    source = open_sql_source("maria", cfg, Path("."))
    try:
        stream = source.stream("SELECT * FROM information_schema.columns", batch_rows=5)
        assert next(stream).num_rows == 5
        stream.close()  # an unbuffered cursor left unread would warn (an error under pytest)
        source.check()
    finally:
        source.close()
