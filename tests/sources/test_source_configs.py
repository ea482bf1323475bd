"""The source config models parse from YAML-shaped dicts through one discriminated union."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from syncline.config.models import DuckDBSourceConfig
from syncline.config.sources import (
    BigQuerySourceConfig,
    DatabricksSourceConfig,
    FilesSourceConfig,
    GoogleSheetsSourceConfig,
    MySQLSourceConfig,
    PostgresSourceConfig,
    RedshiftSourceConfig,
    SnowflakeSourceConfig,
    SQLiteSourceConfig,
)

# the union the lead adds to config/models.py (kept here to prove it discriminates)
SourceConfig = Annotated[
    DuckDBSourceConfig | SQLiteSourceConfig | PostgresSourceConfig | MySQLSourceConfig
    | RedshiftSourceConfig | SnowflakeSourceConfig | BigQuerySourceConfig
    | DatabricksSourceConfig | FilesSourceConfig | GoogleSheetsSourceConfig,
    Field(discriminator="type"),
]
ADAPTER: TypeAdapter[object] = TypeAdapter(SourceConfig)


@pytest.mark.parametrize(
    ("data", "cls"),
    [
        ({"type": "sqlite", "path": "w.db"}, SQLiteSourceConfig),
        ({"type": "postgres", "host": "db", "database": "d", "user": "u", "password": "p"},
         PostgresSourceConfig),
        ({"type": "mariadb", "url": "mysql+pymysql://u@h/d"}, MySQLSourceConfig),
        ({"type": "snowflake", "host": "acct", "warehouse": "wh", "user": "u"},
         SnowflakeSourceConfig),
        ({"type": "files", "tables": {"t": {"path": "data/*.csv"}}}, FilesSourceConfig),
        ({"type": "google_sheets", "spreadsheet_id": "x", "api_key": "k"},
         GoogleSheetsSourceConfig),
    ],
    ids=["sqlite", "postgres", "mariadb", "snowflake", "files", "sheets"],
)
def test_union_picks_the_model(data: dict[str, object], cls: type) -> None:
    assert type(ADAPTER.validate_python(data)) is cls


def test_unknown_keys_and_secrets() -> None:
    with pytest.raises(ValidationError, match="passwd"):
        ADAPTER.validate_python({"type": "postgres", "host": "h", "passwd": "x"})
    with pytest.raises(ValidationError, match="format"):
        ADAPTER.validate_python({"type": "files", "tables": {"t": {"path": "a", "format": "xls"}}})
    parsed = ADAPTER.validate_python({"type": "postgres", "host": "h", "password": "hunter2"})
    assert "hunter2" not in repr(parsed)
