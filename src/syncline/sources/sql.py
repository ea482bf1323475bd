"""SQL sources through SQLAlchemy 2: SQLite, PostgreSQL, MySQL/MariaDB and warehouse dialects.

Rows leave the database through a server-side cursor (``stream_results`` + ``yield_per``) and
become Arrow batches with a schema fixed from the column types before the first row, so memory
stays flat and every batch of a model has the same schema. Model queries run in a read-only
transaction where the database has one, so a model can never change the data it reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlglot import exp

from syncline.config.sources import SQLSourceConfig
from syncline.errors import ModelError, SourceError
from syncline.sources.base import Column, SourceCapabilities
from syncline.sources.model_query import check_model_query
from syncline.sources.sql_connect import DIALECTS, create_sql_engine, map_sql_error
from syncline.sources.sql_types import (
    describe_cursor,
    infer_type,
    sqlite_describe,
    to_arrow,
)

__all__ = ["SQLSource", "SQLSourceConfig", "open_sql_source", "quote_table"]

_SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"}
)
_BEGIN_READ_ONLY = {
    "postgresql": "SET TRANSACTION READ ONLY",
    "mysql": "START TRANSACTION READ ONLY",
}


def quote_table(dialect: str, schema: str | None, table: str) -> str:
    """``schema.table`` as SQL with both parts quoted for ``dialect`` (a sqlglot name)."""
    return exp.table_(table, db=schema, quoted=True).sql(dialect=dialect)


class SQLSource:
    """A SQLAlchemy-backed source; see ``open_sql_source``."""

    def __init__(self, name: str, engine: sa.Engine, dialect: str, writable: bool) -> None:
        self.name = name
        self.capabilities = SourceCapabilities(dialect=dialect, writable=writable)
        self._engine = engine

    def check(self) -> None:
        """Connect and run ``SELECT 1``."""
        try:
            with self._engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, "connecting") from exc

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine: the planner runs the pushed-down diff through it."""
        return self._engine

    def schemas(self) -> list[str]:
        """Schemas (databases on MySQL) that are not the engine's own catalogs."""
        try:
            names = sa.inspect(self._engine).get_schema_names()
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, "listing schemas") from exc
        # Syncline's own snapshot schema (diff pushed down) is not a place to pick models from
        return sorted(n for n in names if n.lower() not in _SYSTEM_SCHEMAS | {"syncline"})

    def tables(self, schema: str) -> list[str]:
        """Tables and views of ``schema``."""
        if schema not in self.schemas():
            raise ModelError(
                f"source `{self.name}`: schema `{schema}` does not exist "
                f"(known: {', '.join(self.schemas()) or 'none'})"
            )
        try:
            insp = sa.inspect(self._engine)
            found = {*insp.get_table_names(schema), *insp.get_view_names(schema)}
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, f"listing tables of `{schema}`") from exc
        return sorted(t for t in found if not t.startswith("syncline_"))  # SQLite snapshots

    def columns(self, model_sql: str) -> list[Column]:
        """Columns of a model with the database's type names (runs it with LIMIT 0)."""
        return [Column(name, type_name) for name, type_name, _ in self._describe(model_sql)]

    def stream(self, model_sql: str, batch_rows: int = 10_000) -> Iterator[pa.RecordBatch]:
        """Stream a model through a server-side cursor as Arrow batches of ``batch_rows``."""
        # every column streams, whatever its type: whether it can be sent is the mapping's call,
        # and a column the mapping leaves out must never stop the model
        described = self._describe(model_sql)
        try:
            with self._engine.connect() as conn:
                self._begin_read_only(conn)
                result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(
                    _text(self._statement(model_sql))
                )
                try:
                    yield from self._batches(result, described, batch_rows)
                finally:
                    # a reader that stops early leaves rows on an unbuffered MySQL cursor
                    result.close()
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, "reading the model") from exc

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def _describe(self, model_sql: str) -> list[tuple[str, str, pa.DataType | None]]:
        # a bound LIMIT: psycopg then uses the extended protocol, one statement per call
        sql = _text(self._statement(model_sql), " LIMIT :syncline_limit")
        try:
            with self._engine.connect() as conn:
                self._begin_read_only(conn)
                result = conn.execute(sql.bindparams(syncline_limit=0))
                description = result.cursor.description
                dbapi = conn.connection.dbapi_connection
                result.close()
                if self.capabilities.dialect == "sqlite":
                    return sqlite_describe(dbapi, model_sql, [d[0] for d in description])
                return describe_cursor(self._engine.dialect.name, dbapi, description)
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, "reading the model's columns") from exc

    def _statement(self, model_sql: str) -> str:
        """The SELECT that reads the model, refused unless it is one read-only query.

        PostgreSQL then sees it through the extended protocol (a server-side cursor, or a
        bound parameter), which runs one statement per call whatever the text holds.
        """
        sql = _select_all(model_sql)
        check_model_query(sql, self.capabilities.dialect, f"source `{self.name}`")
        return sql

    def _batches(
        self,
        result: sa.CursorResult[Any],
        described: list[tuple[str, str, pa.DataType | None]],
        batch_rows: int,
    ) -> Iterator[pa.RecordBatch]:
        self._same_shape(list(result.keys()), [n for n, _, _ in described])
        partitions = result.partitions(batch_rows)
        first = next(partitions, None)
        if first is None:
            return
        # SQLite expressions and warehouse drivers give no usable type: the values decide
        schema = pa.schema([
            (n, t or infer_type([row[i] for row in first])) for i, (n, _, t) in enumerate(described)
        ])
        yield self._batch(first, schema)
        for rows in partitions:
            yield self._batch(rows, schema)

    def _same_shape(self, got: list[str], expected: list[str]) -> None:
        # the columns were read by an earlier query; an ALTER TABLE in between changes them
        if got != expected:
            raise ModelError(
                f"source `{self.name}`: the model's columns changed while it was being read "
                f"(expected {expected}, got {got}); run the sync again once the table's shape "
                f"is settled, and update its mappings if columns were renamed or dropped"
            )

    def _begin_read_only(self, conn: sa.Connection) -> None:
        statement = _BEGIN_READ_ONLY.get(self._engine.dialect.name)
        if statement is not None:
            conn.exec_driver_sql(statement)

    def _batch(self, rows: Sequence[sa.Row[Any]], schema: pa.Schema) -> pa.RecordBatch:
        arrays = []
        for i, field in enumerate(schema):
            values = [row[i] for row in rows]
            arrays.append(to_arrow(values, field, self.name))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _error(self, exc: sa.exc.SQLAlchemyError, doing: str) -> SourceError:
        return map_sql_error(exc, f"source `{self.name}` ({self.capabilities.dialect})", doing)


def _select_all(model_sql: str) -> str:
    """A SELECT over the model: a bare query is wrapped, a relation (``"s"."t"`` or
    ``(query) AS alias``, as ``sources.registry.model_sql`` renders them) is selected from."""
    body = model_sql.strip().rstrip(";").strip()
    if body.upper().startswith(("SELECT", "WITH")):
        return f"SELECT * FROM ({body}) AS _syncline_model"
    return f"SELECT * FROM {body}"


def _text(sql: str, ours: str = "") -> sa.TextClause:
    # a colon in user SQL ('10:30', ::casts) must not become a bind parameter; ``ours`` may bind
    return sa.text(sql.replace(":", "\\:") + ours)


def open_sql_source(name: str, config: SQLSourceConfig, root: Path) -> SQLSource:
    """Open a SQL source; a missing driver is a ``ConfigError`` naming the extra to install.

    Args:
        name: the source's name in ``syncline.yml`` (used in every message).
        config: its validated config.
        root: the project folder, against which a relative SQLite path resolves.
    """
    _, dialect = DIALECTS[config.type]
    return SQLSource(name, create_sql_engine(name, config, root), dialect, not config.read_only)
