"""The dashboard's "+ New Source" forms: which fields each source type asks for, how a submitted
form becomes the config ``syncline.yml`` would hold, and how a saved source reads back.

One table of fields per type keeps the page in step with the config models
(``config/sources.py``): the model still validates what the form builds, so a field this table
gets wrong is a 422 naming it, never a broken source. Warehouse types whose driver is an extra
(Snowflake, BigQuery, Redshift, Databricks) are offered only when the extra is installed.
"""

from __future__ import annotations

import importlib.util
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Literal

from syncline.sources._optional import EXTRAS

__all__ = [
    "FORMS",
    "FormField",
    "SourceForm",
    "config_from_form",
    "form_for",
    "location",
    "offered",
    "values_of",
]

Input = Literal["text", "password", "number", "checkbox", "select", "textarea"]


@dataclass(frozen=True)
class FormField:
    """One input of a source form; ``password`` inputs are the config's secrets."""

    name: str
    label: str
    input: Input = "text"
    required: bool = False
    placeholder: str = ""
    options: tuple[str, ...] = ()
    advanced: bool = False
    """Shown folded under *Advanced*."""


@dataclass(frozen=True)
class SourceForm:
    """A source type as the dashboard offers it."""

    type: str
    label: str
    fields: tuple[FormField, ...]
    note: str = ""
    extra: str | None = None
    """The ``syncline[...]`` extra its driver comes from, when it is one."""
    types: tuple[str, ...] = field(default=())
    """Other ``type`` values this form edits (``mariadb`` with ``mysql``)."""
    clears: bool = False
    """An emptied field is sent as ``None`` (cleared): every text field of the type is
    optional. Otherwise it is left out, and the model's default or the saved value holds."""

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.input == "password")


def _file(what: str, placeholder: str) -> tuple[FormField, ...]:
    return (
        FormField("path", f"{what} (relative to the project folder)", required=True,
                  placeholder=placeholder),
        FormField("read_only", "Read only (the diff then runs in Syncline's own file)",
                  "checkbox"),
    )


def _network(port: int, host: str = "Host", database: str = "Database",
             password: str = "Password", *more: FormField) -> tuple[FormField, ...]:
    return (
        FormField("host", host, placeholder="db.example.com"),
        FormField("port", "Port", "number", placeholder=str(port)),
        FormField("database", database),
        FormField("user", "User"),
        FormField("password", password, "password"),
        *more,
        FormField("read_only", "Read only (never write to this source: the diff runs in "
                  "Syncline's own file)", "checkbox"),
        FormField("query", "Driver options (key=value&…)", placeholder="sslmode=require",
                  advanced=True),
        FormField("url", "Or a SQLAlchemy URL instead of host, port, database, user and "
                  "password", "password", advanced=True),
    )


FORMS: dict[str, SourceForm] = {form.type: form for form in (
    SourceForm("postgres", "PostgreSQL", _network(5432), extra="postgres", clears=True),
    SourceForm("mysql", "MySQL / MariaDB", _network(3306), extra="mysql", types=("mariadb",),
               clears=True),
    SourceForm("sqlite", "SQLite", _file("SQLite file", "warehouse.sqlite")),
    SourceForm("duckdb", "DuckDB", _file("DuckDB file", "warehouse.duckdb")),
    SourceForm("files", "Files (CSV, Parquet, JSON lines)", (
        FormField("tables", "Tables, one per line as `name: path or glob` (relative to the "
                  "project folder; the format follows the extension)", "textarea",
                  required=True, placeholder="users: exports/users*.csv"),
    )),
    SourceForm("google_sheets", "Google Sheets", (
        FormField("spreadsheet_id", "Spreadsheet ID (from its address)", required=True),
        FormField("range", "Range", placeholder="Sheet1"),
        FormField("table", "Table name (models read main.<table>)", placeholder="sheet"),
        FormField("api_key", "API key (a sheet shared with anyone with the link)", "password"),
        FormField("service_account_json", "Or a service account's JSON key", "password"),
        FormField("base_url", "Sheets API address", placeholder="https://sheets.googleapis.com",
                  advanced=True),
    ), note="Give an API key or a service account key, not both."),
    SourceForm("snowflake", "Snowflake", _network(
        443, "Account identifier", "Database", "Password", FormField("warehouse", "Warehouse"),
        FormField("role", "Role")), extra="snowflake", clears=True),
    SourceForm("bigquery", "BigQuery", _network(443, "Project ID", "Dataset"),
               note="Credentials come from the server's Google application default "
                    "credentials, or `credentials_path=` in the driver options.",
               extra="bigquery", clears=True),
    SourceForm("redshift", "Amazon Redshift", _network(5439), extra="redshift", clears=True),
    SourceForm("databricks", "Databricks", _network(443, "Server hostname", "Catalog",
                                                    "Access token"),
               note="Put the warehouse's `http_path=...` in the driver options.",
               extra="databricks", clears=True),
)}


def _installed(form: SourceForm) -> bool:
    if form.extra is None or form.extra in ("postgres", "mysql"):
        return True  # always offered: *Test* says which extra to install when it is missing
    module = EXTRAS[form.type][0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package is missing
        return False


def offered() -> list[SourceForm]:
    """The source types the *+ New Source* page offers here, in order."""
    return [form for form in FORMS.values() if _installed(form)]


def form_for(type_: str) -> SourceForm | None:
    """The form that edits a source of ``type_`` (``None``: a plugin's, edited in YAML)."""
    for form in FORMS.values():
        if type_ == form.type or type_ in form.types:
            return form
    return None


def config_from_form(
    form: SourceForm, submitted: dict[str, str], saved: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The config a submitted form stands for.

    Every setting is given (an emptied one as ``None``, so it is cleared rather than kept);
    a secret left blank is left out, so the saved one stays (``store_connection``).
    """
    config: dict[str, Any] = {"type": submitted.get("type") or form.type}
    for f in form.fields:
        raw = submitted.get(f.name, "").strip()
        if f.input == "checkbox":
            config[f.name] = f.name in submitted and submitted[f.name] != ""
        elif f.input == "password":
            if raw:
                config[f.name] = raw
        elif f.name == "query":
            config[f.name] = dict(urllib.parse.parse_qsl(raw))
        elif f.name == "tables":
            config[f.name] = _tables(raw, (saved or {}).get("tables") or {})
        elif not raw:
            config[f.name] = None
        elif f.input == "number":
            config[f.name] = int(raw) if raw.isdigit() else raw  # the model says what is wrong
        else:
            config[f.name] = raw
    return {k: v for k, v in config.items() if v is not None or form.clears}


def _tables(text: str, saved: dict[str, Any]) -> dict[str, Any]:
    """``name: path`` lines as a files source's tables, keeping a saved table's format and
    delimiter while its path is unchanged. A line without ``name:`` is given to the model as
    is, which then names what is wrong."""
    tables: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, path = line.partition(":")
        if not sep:
            tables[line.strip()] = {}
            continue
        old = saved.get(name.strip()) or {}
        table = {**old, "path": path.strip()} if old.get("path") == path.strip() else {
            "path": path.strip()}
        tables[name.strip()] = table
    return tables


def values_of(form: SourceForm, settings: dict[str, Any], references: dict[str, str]) -> dict[
        str, Any]:
    """A saved source's settings as the form's field values (references as their ``${VAR}``)."""
    values: dict[str, Any] = {**settings, **references}
    if isinstance(values.get("query"), dict):
        values["query"] = urllib.parse.urlencode(values["query"])
    if isinstance(values.get("tables"), dict):
        values["tables"] = "\n".join(
            f"{name}: {t['path'] if isinstance(t['path'], str) else ', '.join(t['path'])}"
            for name, t in values["tables"].items())
    return {k: v for k, v in values.items() if k not in form.secrets or k in references}


def location(type_: str, settings: dict[str, Any], references: dict[str, str],
             secrets: dict[str, str]) -> str:
    """Where a source points, for the Connections list: a file, a server, a sheet."""
    values = {**settings, **references}
    if type_ in ("duckdb", "sqlite"):
        return str(values.get("path", ""))
    if type_ == "files":
        return ", ".join(f"{name}: {t['path']}" for name, t in values.get("tables", {}).items())
    if type_ == "google_sheets":
        return f"sheet {values.get('spreadsheet_id', '')} ({values.get('range', 'Sheet1')})"
    if values.get("host"):
        user = f"{values['user']}@" if values.get("user") else ""
        port = f":{values['port']}" if values.get("port") else ""
        database = f"/{values['database']}" if values.get("database") else ""
        return f"{user}{values['host']}{port}{database}"
    if "url" in references:
        return f"URL from {references['url']}"
    if "url" in secrets:
        return "a SQLAlchemy URL (secret)"
    return ""
