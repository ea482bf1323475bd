"""Open a source by its config `type`: built-ins and `syncline.sources` entry points, one path."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, cast

import sqlglot
from sqlglot import exp

from syncline.config.models import ModelConfig
from syncline.errors import ConfigError, ModelError
from syncline.sources.base import Source, SourceCapabilities
from syncline.sources.model_query import check_model_query
from syncline.sources.sql_connect import DIALECTS as SQL_DIALECTS

__all__ = ["capabilities_of", "model_sql", "open_source"]

_Opener = Callable[[str, Any, Path], Source]


_BUILTINS: dict[str, str] = {
    "duckdb": "syncline.sources.duckdb:open_duckdb_source",
    "files": "syncline.sources.files:open_files_source",
    "google_sheets": "syncline.sources.sheets:open_sheets_source",
    **{kind: "syncline.sources.sql:open_sql_source"
       for kind in ("sqlite", "postgres", "mysql", "mariadb", "redshift", "snowflake", "bigquery",
                    "databricks")},
}
"""Each built-in type's opener as `module:function`, imported only when a source of that type
opens: a broken optional source does not break the others, and a run on DuckDB does not pay
for the Google Sheets client's cryptography."""


def _builtin(kind: str) -> _Opener | None:
    target = _BUILTINS.get(kind)
    if target is None:
        return None
    module, function = target.split(":")
    return cast(_Opener, getattr(import_module(module), function))


def _opener(kind: str) -> _Opener | None:
    """The built-in opener of `kind`, else the one plugin registering it (only that one loads)."""
    builtin = _builtin(kind)
    if builtin is not None:
        return builtin
    for ep in entry_points(group="syncline.sources", name=kind):
        try:
            return cast(_Opener, ep.load())
        except Exception as exc:  # a broken plugin: say which, whatever it raised
            raise ConfigError(f"source type `{kind}` is registered as {ep.value!r} but it cannot "
                              f"be loaded ({exc!r}); reinstall the package that provides it"
                              ) from exc
    return None


def open_source(name: str, config: Any, root: Path) -> Source:
    """Open source `name` from its validated config; unknown type is a ConfigError."""
    kind = str(getattr(config, "type", ""))
    opener = _opener(kind)
    if opener is None:
        known = sorted({*_BUILTINS, *(ep.name for ep in entry_points(group="syncline.sources"))})
        raise ConfigError(f"source `{name}`: unknown type `{kind}`; known types: "
                          f"{', '.join(known)}. Fix `type:` or install the plugin.")
    return opener(name, config, root)


def capabilities_of(config: Any) -> SourceCapabilities | None:
    """What a built-in source of this config says of itself once opened, told from the config
    alone (a GET of the dashboard opens nothing); None for a plugin, whose capabilities only
    opening it tells. A test checks each built-in's opened source agrees."""
    kind = str(getattr(config, "type", ""))
    if kind in ("files", "google_sheets"):  # read into DuckDB, never written
        return SourceCapabilities(dialect="duckdb", writable=False)
    read_only = bool(getattr(config, "read_only", False))
    if kind == "duckdb":
        return SourceCapabilities(dialect="duckdb", writable=not read_only)
    if kind in SQL_DIALECTS:
        return SourceCapabilities(dialect=SQL_DIALECTS[kind][1], writable=not read_only)
    return None


def model_sql(model: ModelConfig, source: Source | None = None) -> str:
    """The model as a relation: a quoted `schema.table`, or the query as a subquery.

    sqlglot quotes each identifier so names with spaces, quotes or mixed case survive.
    """
    dialect = source.capabilities.dialect if source is not None else "duckdb"
    if model.query is not None:
        check_model_query(model.query, dialect)  # one read-only SELECT, or a ModelError
        return f"({model.query.strip().rstrip(';')}) AS syncline_model"
    if model.table is None:  # a dbt model: `config.dbt.resolve_model` gives its table first
        raise ModelError(f"dbt model `{model.dbt}` was not resolved to its table")
    parts = _split(model.table)
    table = exp.Table(this=exp.to_identifier(parts[-1], quoted=True),
                      db=exp.to_identifier(parts[-2], quoted=True) if len(parts) > 1 else None,
                      catalog=exp.to_identifier(parts[-3], quoted=True) if len(parts) > 2 else None)
    return table.sql(dialect=dialect)


def _split(name: str) -> list[str]:
    """Split `schema.table`; parts may already be quoted ("My Schema"."a.b")."""
    try:
        parsed = sqlglot.parse_one(name, into=exp.Table, dialect="duckdb")
        parts = [p.name for p in parsed.parts]
    except sqlglot.errors.SqlglotError:
        if any(c in name for c in "\"`;'"):
            raise ModelError(f"model table `{name}` is not a table name: a quote is not closed "
                             "or it holds SQL; write `schema.table`, quoting names with spaces "
                             "or dots, e.g. `\"My Schema\".\"My Table\"` (a query goes in "
                             "`query:`)") from None
        parts = name.split(".")
    if len(parts) > 3:
        raise ModelError(f"model table `{name}` has {len(parts)} parts; write `schema.table` or "
                         "`catalog.schema.table`, quoting names that contain dots")
    if not parts or any(not p for p in parts):
        raise ModelError(f"model table `{name}` is not `schema.table`; quote names with "
                         "spaces or dots, e.g. `\"My Schema\".\"My Table\"`.")
    return parts
