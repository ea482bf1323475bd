"""CSV, Parquet and JSON-lines files as a source, read with an in-memory DuckDB.

Each configured table is a DuckDB view over its files (a path, a glob or a list of them), so a
model is plain DuckDB SQL over those views and streams as Arrow without loading whole files.
``DuckDBViews`` is shared with the Google Sheets source, which registers an Arrow table instead.

Before the first model runs, the in-memory DuckDB is locked down (``sources.duckdb.LOCKED_DOWN``):
external access off except for exactly the files the views read (``allowed_paths``), and the
configuration locked, so a model can read its source's files and nothing else on the machine.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from syncline.config.sources import FilesSourceConfig, FileTableConfig
from syncline.errors import ConfigError, ModelError, SourceError
from syncline.sources.base import Column, SourceCapabilities
from syncline.sources.duckdb import LOCKED_DOWN
from syncline.sources.model_query import check_duckdb_select

__all__ = ["DuckDBViews", "FilesSource", "open_files_source", "quote_ident"]

_Fn = Callable[[duckdb.DuckDBPyConnection], Any]

_FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}
_READERS = {"csv": "read_csv_auto", "parquet": "read_parquet", "jsonl": "read_json_auto"}


def quote_ident(name: str) -> str:
    """A DuckDB identifier, always quoted (spaces, quotes and case survive)."""
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


class DuckDBViews:
    """A read-only source whose tables are views in a private in-memory DuckDB."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.capabilities = SourceCapabilities(dialect="duckdb", writable=False)
        self._con = duckdb.connect(":memory:")
        self._tables: list[str] = []
        self._allowed_paths: list[str] = []
        self._locked = False

    def schemas(self) -> list[str]:
        """Always ``main``: the views live there."""
        return ["main"]

    def tables(self, schema: str) -> list[str]:
        """The configured tables."""
        if schema != "main":
            raise ModelError(f"source `{self.name}`: schema `{schema}` does not exist (use `main`)")
        return sorted(self._tables)

    def columns(self, model_sql: str) -> list[Column]:
        """Columns of a model with DuckDB's type names (DuckDB describes it without reading)."""
        sql = self._select(model_sql)
        rows = self._run(lambda c: c.execute(f"DESCRIBE {sql}").fetchall())
        return [Column(str(r[0]), str(r[1])) for r in rows]

    def stream(self, model_sql: str, batch_rows: int = 10_000) -> Iterator[pa.RecordBatch]:
        """Stream a model in batches of ``batch_rows`` through DuckDB's Arrow reader."""
        sql = self._select(model_sql)
        cursor = self._con.cursor()
        try:
            reader = self._run(lambda _: _reader(cursor, sql, batch_rows))
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except duckdb.Error as exc:
                    raise self._error(exc) from exc
                if batch.num_rows:
                    yield batch
        finally:
            cursor.close()

    def close(self) -> None:
        """Close the in-memory database."""
        self._con.close()

    def _select(self, model_sql: str) -> str:
        """The SELECT over the model, once the connection is locked down; one SELECT only."""
        if not self._locked:
            paths = ", ".join(exp.Literal.string(p).sql("duckdb") for p in self._allowed_paths)
            self._con.execute(f"SET allowed_paths = [{paths}]")
            for setting, value in LOCKED_DOWN.items():
                self._con.execute(f"SET {setting} = {str(value).lower()}")
            self._locked = True
        body = _body(model_sql)
        sql = body if body.upper().startswith(("SELECT", "WITH")) else f"SELECT * FROM {body}"
        return check_duckdb_select(self._con, sql, f"source `{self.name}`")

    def _run(self, fn: _Fn) -> Any:
        try:
            return fn(self._con)
        except duckdb.Error as exc:
            raise self._error(exc) from exc

    def _error(self, exc: duckdb.Error, table: str | None = None) -> SourceError:
        what = f"table `{table}`" if table else "the model"
        detail = " ".join(str(exc).split())
        if isinstance(exc, duckdb.ParserException):
            return ModelError(f"source `{self.name}`: {what} has a syntax error; fix the query "
                              f"({detail})")
        if isinstance(exc, duckdb.CatalogException | duckdb.BinderException):
            return ModelError(f"source `{self.name}`: {what} names a table or column that does "
                              f"not exist (tables: {', '.join(self.tables('main'))}) ({detail})")
        if isinstance(exc, duckdb.IOException):
            return SourceError(f"source `{self.name}`: {what}: a file cannot be read; check "
                               f"`path` ({detail})")
        return ModelError(f"source `{self.name}`: {what} cannot be read; check that its files "
                          f"share one shape and format ({detail})")


class FilesSource(DuckDBViews):
    """Tables over CSV/Parquet/JSON-lines files; see ``open_files_source``."""

    def __init__(self, name: str, config: FilesSourceConfig, root: Path) -> None:
        super().__init__(name)
        self._config = config
        self._root = root
        try:
            for table, spec in config.tables.items():
                self._add(table, spec)
        except BaseException:
            self.close()
            raise

    def check(self) -> None:
        """Every table's files exist and read (the first row of each)."""
        for table, spec in self._config.tables.items():
            self._files(table, spec)
            try:
                self._con.execute(f"SELECT * FROM {quote_ident(table)} LIMIT 1").fetchall()
            except duckdb.Error as exc:
                raise self._error(exc, table) from exc

    def _files(self, table: str, spec: FileTableConfig) -> list[str]:
        patterns = [spec.path] if isinstance(spec.path, str) else spec.path
        files: list[str] = []
        for pattern in patterns:
            full = pattern if Path(pattern).is_absolute() else str(self._root / pattern)
            matched = sorted(glob.glob(full))
            if not matched:
                raise SourceError(
                    f"source `{self.name}`, table `{table}`: no file matches `{full}`; check "
                    f"`path` (relative paths start at the project folder `{self._root}`)"
                )
            files.extend(matched)
        return files

    def _add(self, table: str, spec: FileTableConfig) -> None:
        files = self._files(table, spec)
        fmt = spec.format or _FORMATS.get(Path(files[0]).suffix.lower())
        if fmt is None:
            raise ConfigError(
                f"source `{self.name}`, table `{table}`: cannot tell the format of `{files[0]}`; "
                f"set `format:` to csv, parquet or jsonl"
            )
        args: list[exp.Expression] = [exp.Array(expressions=[exp.Literal.string(f) for f in files])]
        if fmt == "csv" and spec.delimiter is not None:
            delim = exp.Literal.string(spec.delimiter)
            args.append(exp.EQ(this=exp.column("delim"), expression=delim))
        call = exp.Anonymous(this=_READERS[fmt], expressions=args).sql(dialect="duckdb")
        try:
            self._con.execute(f"CREATE VIEW {quote_ident(table)} AS SELECT * FROM {call}")
        except duckdb.Error as exc:
            raise self._error(exc, table) from exc
        self._tables.append(table)
        self._allowed_paths.extend(files)


def open_files_source(name: str, config: FilesSourceConfig, root: Path) -> FilesSource:
    """Open a files source; relative paths and globs resolve against ``root``."""
    return FilesSource(name, config, root)


def _reader(cursor: duckdb.DuckDBPyConnection, sql: str, batch_rows: int) -> Any:
    relation = cursor.sql(sql)
    if relation is None:
        raise ModelError(f"the model returns no rows: it must be a SELECT ({sql[:80]})")
    if hasattr(relation, "to_arrow_reader"):  # duckdb >= 1.4
        return relation.to_arrow_reader(batch_rows)
    return relation.fetch_arrow_reader(batch_rows)


def _body(model_sql: str) -> str:
    return model_sql.strip().rstrip(";")
