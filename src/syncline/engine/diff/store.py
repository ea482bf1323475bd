"""Diff stores: where the snapshot lives and the diff runs (a DuckDB connection or a SQL source).

A store runs the rendered statements, writes snapshot rows, and streams the plan's rows as Arrow.
Each snapshot write is one transaction that is committed (durable) when the call returns: DuckDB
autocommits one statement from an Arrow table (WAL); SQL databases get one ``executemany`` in one
transaction, which SQLAlchemy sends as multi-row INSERTs (psycopg, pymysql), so 1,000 keys cost
one round trip or a few rather than 1,000.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from syncline.engine.diff.dialects import DIALECTS, DiffDialect
from syncline.engine.diff.sql import DiffSQL
from syncline.errors import ConfigError, ModelError, SourceError
from syncline.sources.base import Source
from syncline.sources.duckdb import wait_for_lock

__all__ = ["DiffStore", "DuckDBStore", "SQLStore", "sql_store"]


class DiffStore(Protocol):
    """What the planner and the snapshot need from the place the diff runs."""

    dialect: DiffDialect
    namespace: str
    """Prefix of the sync's table names (MySQL: the source database's name)."""
    location: str
    """Where the snapshot lives, as error messages name it."""

    def execute(self, statements: Sequence[str]) -> None:
        """Run ``statements`` in order, committed together when the call returns."""

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """All rows of a (small) result."""

    def write(self, statements: Sequence[str], columns: Mapping[str, Sequence[Any]]) -> None:
        """Run ``statements`` in order, each once per row of ``columns`` (bound ``:name``
        parameters, one list per name, all of one length), in one transaction (several: a
        snapshot without a key deletes a key before it inserts it)."""

    def stream(self, sql: str, rows: int) -> Iterator[pa.RecordBatch]:
        """The rows of ``sql`` as Arrow batches, without holding them all in memory."""

    def close(self) -> None:
        """Release what the store opened."""


class DuckDBStore:
    """Syncline's own DuckDB file (``.syncline/diff/<sync>.duckdb``), where the snapshot lives.

    The file is attached to an in-memory connection as catalog ``syncline_diff``. For a DuckDB
    source (`diff: source`), the user's file is attached beside it, read-only, while a plan
    reads it, so the diff still runs in SQL without copying the model, and the user's file is
    never written: DuckDB allows one writing process per file but any number of readers, so
    syncs of one warehouse run side by side from separate processes (docs/design-notes.md).
    """

    CATALOG = "syncline_diff"

    def __init__(self, conn: duckdb.DuckDBPyConnection, path: Path,
                 source: Path | None = None) -> None:
        self.dialect = replace(DIALECTS["duckdb"], catalog=self.CATALOG)
        self.namespace, self.location = "", f"the file {path}"
        self._conn, self._source = conn, source
        conn.execute(f"ATTACH {self.dialect.literal(str(path))} AS {self.CATALOG}")
        self._lock_down([path, *([source] if source is not None else [])])
        # the plan's statements, queries and stream share one cursor: its TEMP work tables are
        # visible to it alone. Snapshot writes use cursors of their own, so they can commit
        # while the plan is being streamed.
        self._work = conn.cursor()
        self._work.execute(f"USE {self.CATALOG}")
        alias = source.stem if source is not None else ""
        # the user's catalog keeps its usual name (a query may spell it) unless that is taken
        self._alias = alias if alias.isidentifier() and alias.lower() not in {
            "memory", "temp", "system", "main", self.CATALOG} else "source"

    def _lock_down(self, files: list[Path]) -> None:
        """No file but these two (and their WALs) from now on, and no setting changed again.

        A model query of a DuckDB source runs on this connection, with the rights of the
        process (the server's too): DuckDB's own guards keep it from reading anything else
        (`read_text`, another ATTACH, extensions). Spilling to ``temp_directory`` still works.
        """
        allowed = [str(f) + suffix for f in files for suffix in ("", ".wal")]
        spill = self._conn.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
        literals = ", ".join(self.dialect.literal(p) for p in allowed)
        for statement in (f"SET allowed_paths = [{literals}]",
                          f"SET allowed_directories = [{self.dialect.literal(str(spill))}]",
                          "SET enable_external_access = false",
                          "SET autoinstall_known_extensions = false",
                          "SET autoload_known_extensions = false",
                          "SET lock_configuration = true"):
            self._conn.execute(statement)

    @contextmanager
    def reading_source(self) -> Iterator[None]:
        """The DuckDB source attached read-only, as the default catalog, for a plan's reads."""
        if self._source is None:
            yield
            return
        cur, alias = self._work, self.dialect.quote(self._alias)
        path = self.dialect.literal(str(self._source))
        try:
            wait_for_lock(lambda: cur.execute(f"ATTACH {path} AS {alias} (READ_ONLY)"))
        except duckdb.Error as exc:
            raise SourceError(f"cannot read the DuckDB file {self._source} ({exc}); check that "
                              "no other process keeps it open for writing.") from exc
        try:
            cur.execute(f"USE {alias}")
            yield
        finally:
            cur.execute(f"USE {self.CATALOG}")
            cur.execute(f"DETACH {alias}")

    def adopt_legacy_snapshot(self, snapshot: str, name: str, form: str) -> None:
        """Copy a snapshot older versions kept in the source's `syncline` schema.

        Only into an empty snapshot; the snapshot guard then judges what was copied. Its
        hashes are in the text form: ``form`` (the hash-form table) loses any row it had, in
        the same transaction, so the next plan migrates them (diff/dialects.py).
        """
        if self._source is None:
            return
        with self.reading_source():
            found = self.query(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = "
                f"{self.dialect.literal(self._alias)} AND schema_name = 'syncline' AND "
                f"table_name = {self.dialect.literal(name)}")[0][0]
            if found and not self.query(f"SELECT count(*) FROM (SELECT 1 FROM {snapshot} "
                                        "LIMIT 1)")[0][0]:
                legacy = f'{self.dialect.quote(self._alias)}."syncline".{self.dialect.quote(name)}'
                cols = "sync_key, row_hash, status, run_id"
                self.execute([f"INSERT INTO {snapshot} ({cols}) SELECT {cols} FROM {legacy}",
                              f"DELETE FROM {form}"])

    def unkey_snapshot(self, sql: DiffSQL, name: str) -> bool:
        """Rebuild a snapshot older versions created with a PRIMARY KEY without it, once.

        DuckDB keeps a key's index in memory, whole (diff/dialects.py ``keyed_snapshot``); a
        snapshot that kept it would keep the memory it costs. One transaction: a crash leaves
        the keyed table as it was. Answers whether it rebuilt one.
        """
        keyed = self.query(
            "SELECT count(*) FROM duckdb_constraints() WHERE database_name = "
            f"{self.dialect.literal(self.CATALOG)} AND schema_name = "
            f"{self.dialect.literal(self.dialect.schema or '')} AND table_name = "
            f"{self.dialect.literal(name)} AND constraint_type = 'PRIMARY KEY'")[0][0]
        if keyed:
            self.execute(sql.unkey_snapshot(name))
        return bool(keyed)

    def execute(self, statements: Sequence[str]) -> None:
        """Statements in one transaction."""
        _in_transaction(self._work, statements)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """All rows."""
        return self._work.execute(sql).fetchall()

    def write(self, statements: Sequence[str], columns: Mapping[str, Sequence[Any]]) -> None:
        """Columns registered as an Arrow table `__syncline_in`: the statements, one commit.

        ``statements`` read their rows from `__syncline_in` (columns k, h, s, r), not
        parameters: DuckDB's executemany costs about a millisecond per row.
        """
        if isinstance(statements, str):  # a str is a Sequence[str] too: one letter a statement
            raise TypeError("write() takes a list of statements")
        keys = columns["k"]
        if not keys:
            return
        n = len(keys)
        table = pa.table({
            "k": pa.array(keys, pa.string()),
            "h": pa.array(columns.get("h", [None] * n), pa.uint64()),  # DuckDB's hash()
            "s": pa.array(columns.get("s", [None] * n), pa.string()),
            "r": pa.array(columns.get("r", [None] * n), pa.int64()),
        })
        self._run_with("__syncline_in", table, statements)

    def load(self, statement: str, batch: pa.RecordBatch) -> None:
        """Run ``statement`` with ``batch`` registered as `__syncline_batch` (staging a model)."""
        self._run_with("__syncline_batch", batch, [statement])

    def _run_with(self, name: str, data: pa.Table | pa.RecordBatch,
                  statements: Sequence[str]) -> None:
        """Run ``statements`` on their own cursor, in one transaction when there are several,
        with ``data`` visible to them as table ``name``."""
        cur = self._conn.cursor()
        try:
            cur.register(name, data)
            if len(statements) == 1:  # autocommit
                cur.execute(statements[0])
            else:
                _in_transaction(cur, statements)
        finally:
            cur.unregister(name)
            cur.close()

    def stream(self, sql: str, rows: int,
               params: Mapping[str, str] | None = None) -> Iterator[pa.RecordBatch]:
        """DuckDB's streaming Arrow reader, on the work cursor (the plan is a TEMP table);
        ``params``: values of the query's ``$name`` parameters."""
        relation = self._work.sql(sql) if params is None else self._work.sql(sql, params=params)
        yield from relation.to_arrow_reader(rows)

    def close(self) -> None:
        """Close the connection (a cursor of the source's, or the local file's own)."""
        self._work.close()
        self._conn.close()


def _in_transaction(cur: duckdb.DuckDBPyConnection, statements: Sequence[str]) -> None:
    """Run ``statements`` on ``cur`` in one transaction, rolled back if one fails."""
    cur.execute("BEGIN TRANSACTION")
    try:
        for statement in statements:
            cur.execute(statement)
        cur.execute("COMMIT")
    except duckdb.Error:
        cur.execute("ROLLBACK")
        raise


class SQLStore:
    """A writable SQL source (SQLite, PostgreSQL, MySQL/MariaDB) reached through SQLAlchemy.

    Statements run on the planner's own engine; the plan's rows are read back through the
    source's ``stream`` (server-side cursor, the source's own Arrow typing), so a pushed-down
    plan gives the engine exactly the values a local plan would.
    """

    def __init__(self, engine: sa.Engine, source: Source, dialect: DiffDialect,
                 owns_engine: bool, namespace: str = "") -> None:
        """``namespace``: the prefix of the table names (MySQL/MariaDB: ``<database>__``, one
        ``syncline`` database serving every database of the server)."""
        self.dialect, self._engine, self._source = dialect, engine, source
        self._owns = owns_engine
        self.namespace = namespace
        self.location = (f"the `syncline_*` tables of source `{source.name}`"
                         if dialect.schema is None else
                         f"the `syncline` schema of source `{source.name}`")
        if dialect.sqlglot == "mysql":
            self.location = (f"the `syncline` database beside `{namespace.removesuffix('__')}` "
                             f"(source `{source.name}`)")

    def execute(self, statements: Sequence[str]) -> None:
        """One transaction (MySQL commits DDL implicitly: each CREATE is then its own)."""
        with self._engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """All rows."""
        with self._engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]

    def write(self, statements: Sequence[str], columns: Mapping[str, Sequence[Any]]) -> None:
        """One executemany per statement in one transaction, committed when the call returns."""
        if isinstance(statements, str):
            raise TypeError("write() takes a list of statements")
        names = list(columns)
        rows = [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
        if not rows:
            return
        with self._engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement), rows)

    def stream(self, sql: str, rows: int) -> Iterator[pa.RecordBatch]:
        """Through the source: a server-side cursor and the source's type conversion."""
        yield from self._source.stream(sql, rows)

    def close(self) -> None:
        """Dispose of the planner's own engine (a shared one belongs to the source)."""
        if self._owns:
            self._engine.dispose()


def _sqlite_hash(*parts: object) -> str:
    """SQLite has no hash function: 64 bits of blake2b over the text parts."""
    text = "\x1f".join("\\N" if p is None else str(p) for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _sqlite_engine(source_engine: sa.Engine, name: str) -> sa.Engine:
    """A read-write engine on the source's SQLite file, with `syncline_hash` registered."""
    with source_engine.connect() as conn:
        rows = conn.exec_driver_sql("PRAGMA database_list").fetchall()
    path = next((str(r[2]) for r in rows if r[1] == "main"), "")
    if not path:
        raise ConfigError(f"source `{name}`: `diff: source` needs a SQLite file, not an "
                          "in-memory database; use `diff: local`.")

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.create_function("syncline_hash", -1, _sqlite_hash, deterministic=True)
        # WAL: the source's reader and our snapshot writes do not block each other;
        # synchronous=FULL makes every commit durable when it returns
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    return sa.create_engine("sqlite+pysqlite://", creator=connect, poolclass=sa.NullPool)


def sql_store(source: Source, sync_name: str, namespace: str = "") -> SQLStore:
    """The diff store inside a writable SQL source (whether the diff may run there is decided
    by ``engine/placement.py``); a clear error when the source has no engine to run it on."""
    engine = getattr(source, "engine", None)
    dialect = DIALECTS.get(source.capabilities.dialect)
    if not isinstance(engine, sa.Engine) or dialect is None:
        raise ConfigError(f"sync `{sync_name}`: `diff: source` is not supported for source "
                          f"`{source.name}` ({source.capabilities.dialect}); use `diff: local`.")
    if dialect.sqlglot == "sqlite":
        return SQLStore(_sqlite_engine(engine, source.name), source, dialect, owns_engine=True)
    return SQLStore(engine, source, dialect, owns_engine=False, namespace=namespace)


def map_store_error(exc: Exception, sync_name: str, model: str, key: str) -> Exception:
    """A failed diff statement as a ModelError (bad model/key) or SourceError (rights)."""
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    low = text.lower()
    if any(w in low for w in ("permission", "denied", "read-only", "readonly", "privilege")):
        return SourceError(f"sync `{sync_name}`: the diff cannot write its `syncline` tables in "
                           f"the source ({text}); grant CREATE/INSERT there, or set "
                           "`diff: local` on the sync.")
    return ModelError(f"sync `{sync_name}`: planning failed on {model}: {text}. Check the key "
                      f"column `{key}` and the mapped columns exist in the model.")
