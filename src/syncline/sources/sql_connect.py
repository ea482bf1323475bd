"""Connecting to a SQL source: the SQLAlchemy URL or SQLite file for each type, and driver
errors turned into messages that say what to fix (credentials, host, database, table, SQL)."""

from __future__ import annotations

import sqlite3
import urllib.parse
from pathlib import Path

import sqlalchemy as sa

from syncline.config.sources import (
    SnowflakeSourceConfig,
    SQLiteSourceConfig,
    SQLSourceConfig,
)
from syncline.errors import ConfigError, ModelError, SourceError
from syncline.sources._optional import require_for

__all__ = ["DIALECTS", "create_sql_engine", "map_sql_error"]

# source type -> (SQLAlchemy driver name, sqlglot dialect)
DIALECTS: dict[str, tuple[str, str]] = {
    "sqlite": ("sqlite+pysqlite", "sqlite"),
    "postgres": ("postgresql+psycopg", "postgres"),
    "mysql": ("mysql+pymysql", "mysql"),
    "mariadb": ("mysql+pymysql", "mysql"),
    "redshift": ("redshift+psycopg2", "redshift"),
    "snowflake": ("snowflake", "snowflake"),
    "bigquery": ("bigquery", "bigquery"),
    "databricks": ("databricks", "databricks"),
}


_MESSAGES: list[tuple[tuple[str, ...], type[SourceError], str]] = [
    (("password authentication failed", "access denied for user", "role \"",
      "authentication failed"), SourceError,
     "the database refused the credentials; check `user` and `password` (or the env var "
     "the password comes from)"),
    (("connection refused", "could not translate host name", "can't connect",
      "name or service not known", "timeout expired", "could not connect", "unknown mysql server"),
     SourceError, "the database server cannot be reached; check `host` and `port`, and that "
     "the server is running and accepts connections from this machine"),
    (("unable to open database file",), SourceError,
     "the SQLite file cannot be opened; check `path`"),
    (("database \"", "unknown database"), SourceError,
     "the database does not exist; check `database` (or the URL's path)"),
    (("no such table", "does not exist", "doesn't exist", "unknown table"), ModelError,
     "a table in the model does not exist; check the schema and table names "
     "(identifiers are case-sensitive when quoted)"),
    (("syntax error", "error in your sql syntax", "incomplete input"), ModelError,
     "the model's SQL has a syntax error; fix the query"),
    (("no such column", "unknown column", "column \""), ModelError,
     "a column in the model does not exist; check its name"),
    (("read-only", "read only", "readonly"), ModelError,
     "the model tried to write; a model must be a SELECT"),
]


def map_sql_error(exc: sa.exc.SQLAlchemyError, where: str, doing: str) -> SourceError:
    """A driver error as a ``SourceError``/``ModelError`` that says what to fix."""
    orig = getattr(exc, "orig", None) or exc
    detail = " ".join(str(orig).split())
    low = detail.lower()
    for needles, cls, advice in _MESSAGES:
        if any(n in low for n in needles):
            return cls(f"{where}: error while {doing}: {advice} ({detail})")
    return SourceError(f"{where}: error while {doing}: {detail}")


def _url(config: SQLSourceConfig, driver: str) -> sa.URL | str:
    if isinstance(config, SQLiteSourceConfig):
        raise TypeError("SQLite sources are opened from a path")
    if config.url is not None:
        return config.url.get_secret_value()
    query = dict(config.query)
    if isinstance(config, SnowflakeSourceConfig):
        query |= {k: v for k, v in (("warehouse", config.warehouse), ("role", config.role)) if v}
    return sa.URL.create(
        driver,
        username=config.user,
        password=None if config.password is None else config.password.get_secret_value(),
        host=config.host,
        port=config.port,
        database=config.database,
        query=query,
    )


def _sqlite_engine(name: str, config: SQLiteSourceConfig, root: Path) -> sa.Engine:
    path = Path(config.path)
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise ConfigError(
            f"source `{name}`: SQLite file `{path}` does not exist; check `path` "
            f"(relative paths start at the project folder `{root}`)"
        )
    # models only read: the file is opened read-only whatever `read_only` says
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    return sa.create_engine(
        "sqlite+pysqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=sa.NullPool
    )


def create_sql_engine(name: str, config: SQLSourceConfig, root: Path) -> sa.Engine:
    """The engine for a SQL source; a missing driver or a bad URL is a ``ConfigError``."""
    driver, _ = DIALECTS[config.type]
    if isinstance(config, SQLiteSourceConfig):
        return _sqlite_engine(name, config, root)
    require_for(config.type, source=name)
    try:
        return sa.create_engine(_url(config, driver), pool_pre_ping=True)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:
        raise ConfigError(
            f"source `{name}`: `url` is not a valid SQLAlchemy URL for {config.type} ({exc}); "
            f"expected e.g. `{driver}://user:${{PASSWORD}}@host:port/database`"
        ) from exc
