"""Pydantic models of the SQL, file and Google Sheets sources in ``syncline.yml``.

Secrets (passwords, API keys, service-account JSON) are ``${ENV_VAR}`` references resolved by
the config loader before validation, so these models only ever see the resolved value, kept in a
``SecretStr`` so it is never printed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from syncline.config.dbt import DbtConfig

__all__ = [
    "BigQuerySourceConfig",
    "DatabricksSourceConfig",
    "FileTableConfig",
    "FilesSourceConfig",
    "GoogleSheetsSourceConfig",
    "MySQLSourceConfig",
    "PostgresSourceConfig",
    "RedshiftSourceConfig",
    "SQLSourceConfig",
    "SQLiteSourceConfig",
    "SnowflakeSourceConfig",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SQLiteSourceConfig(_Strict):
    """A SQLite database file (relative paths are relative to the project folder)."""

    type: Literal["sqlite"]
    path: str = Field(min_length=1)
    read_only: bool = False
    """Open the file with ``mode=ro``; the diff then runs in Syncline's own DuckDB file."""
    dbt: DbtConfig | None = None
    """The dbt project building this database, for models written ``{dbt: model_name}``."""


class _NetworkSQLConfig(_Strict):
    """Either ``url`` (a SQLAlchemy URL) or host/port/database/user/password."""

    url: SecretStr | None = None
    """SQLAlchemy URL, e.g. ``postgresql+psycopg://user:${PG_PASSWORD}@host/db``."""
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    database: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    query: dict[str, str] = Field(default_factory=dict)
    """Extra URL query parameters passed to the driver (e.g. ``sslmode: require``)."""
    read_only: bool = False
    """Never write to this source: the diff runs in Syncline's own DuckDB file."""
    dbt: DbtConfig | None = None
    """The dbt project building this warehouse, for models written ``{dbt: model_name}``."""

    @model_validator(mode="after")
    def _url_or_host(self) -> _NetworkSQLConfig:
        if self.url is not None and self.host is not None:
            raise ValueError("give either `url:` or `host:` (with port/database/user), not both")
        if self.url is None and self.host is None:
            raise ValueError("give `url:` (a SQLAlchemy URL) or `host:` with database and user")
        return self


class PostgresSourceConfig(_NetworkSQLConfig):
    """PostgreSQL through psycopg 3 (``pip install 'syncline[postgres]'``)."""

    type: Literal["postgres"]


class MySQLSourceConfig(_NetworkSQLConfig):
    """MySQL or MariaDB through PyMySQL (``pip install 'syncline[mysql]'``)."""

    type: Literal["mysql", "mariadb"]


class RedshiftSourceConfig(_NetworkSQLConfig):
    """Amazon Redshift (``pip install 'syncline[redshift]'``)."""

    type: Literal["redshift"]


class SnowflakeSourceConfig(_NetworkSQLConfig):
    """Snowflake (``pip install 'syncline[snowflake]'``); ``host`` is the account identifier."""

    type: Literal["snowflake"]
    warehouse: str | None = None
    role: str | None = None


class BigQuerySourceConfig(_NetworkSQLConfig):
    """Google BigQuery (``pip install 'syncline[bigquery]'``); ``host`` is the project id."""

    type: Literal["bigquery"]


class DatabricksSourceConfig(_NetworkSQLConfig):
    """Databricks SQL warehouse (``pip install 'syncline[databricks]'``)."""

    type: Literal["databricks"]


class FileTableConfig(_Strict):
    """One table over a set of files: a path or glob, or a list of them."""

    path: str | list[str]
    format: Literal["csv", "parquet", "jsonl"] | None = None
    """Inferred from the file extension when omitted."""
    delimiter: str | None = None
    """CSV only; sniffed when omitted."""


class FilesSourceConfig(_Strict):
    """CSV, Parquet or JSON-lines files read with DuckDB; each table is a view over its files."""

    type: Literal["files"]
    tables: dict[str, FileTableConfig] = Field(min_length=1)


class GoogleSheetsSourceConfig(_Strict):
    """A Google Sheets range read with the Sheets API v4; the first row is the header.

    Authenticate with ``api_key`` (sheets shared as "anyone with the link") or with
    ``service_account_json`` (the key file's content, e.g. ``${GOOGLE_SERVICE_ACCOUNT_JSON}``;
    share the sheet with the service account's email).
    """

    type: Literal["google_sheets"]
    spreadsheet_id: str = Field(min_length=1)
    range: str = "Sheet1"
    table: str = Field(default="sheet", min_length=1)
    """Name of the table the range is exposed as (models read ``main.<table>``)."""
    api_key: SecretStr | None = None
    service_account_json: SecretStr | None = None
    base_url: str = "https://sheets.googleapis.com"
    timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _one_auth(self) -> GoogleSheetsSourceConfig:
        if (self.api_key is None) == (self.service_account_json is None):
            raise ValueError("give exactly one of `api_key` or `service_account_json`")
        return self


SQLSourceConfig = (
    SQLiteSourceConfig
    | PostgresSourceConfig
    | MySQLSourceConfig
    | RedshiftSourceConfig
    | SnowflakeSourceConfig
    | BigQuerySourceConfig
    | DatabricksSourceConfig
)
"""Every source read through SQLAlchemy."""
