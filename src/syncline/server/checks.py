"""What the server asks of sources and destinations: connection tests, browsing, and checking
a sync against its source before it is saved.

Each function opens the plugin, asks, and closes it; errors of the plugin become answers a
person can act on (``ok: false`` with the reason for a test, a 422 naming the field for a sync).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from syncline.config.models import ModelConfig, SyncConfig
from syncline.engine import checks
from syncline.errors import SynclineError
from syncline.server.errors import BadRequestError, FieldError, InvalidInputError
from syncline.server.project.definitions import field_errors, validate_connection
from syncline.server.settings import source_fence

__all__ = [
    "browse_columns",
    "browse_schemas",
    "browse_tables",
    "check_sync",
    "key_problems",
    "test_connection",
]


@contextmanager
def opened_source(name: str, config: dict[str, Any], root: Path) -> Iterator[Any]:
    """The source plugin, open for the ``with`` block (a 400 with the reason if it cannot)."""
    from syncline.sources.registry import open_source

    model = validate_connection("source", config)
    try:
        source_fence(root).check(name, model)  # inside the project, never Syncline's own files
        source = open_source(name, model, root)
    except SynclineError as exc:
        raise BadRequestError(f"source `{name}`: {exc}") from exc
    try:
        yield source
    except SynclineError as exc:
        raise BadRequestError(f"source `{name}`: {exc}") from exc
    finally:
        source.close()


def test_connection(kind: str, name: str, config: dict[str, Any], root: Path) -> dict[str, Any]:
    """Try the connection: ``{"ok": True}`` or ``{"ok": False, "error": why}``."""
    try:
        if kind == "source":
            with opened_source(name, config, root) as source:
                source.check()
        else:
            _check_destination(config)
    except (SynclineError, BadRequestError) as exc:
        return {"ok": False, "error": f"{kind} `{name}`: {exc}"}
    return {"ok": True, "message": f"{kind} `{name}`: connection works"}


def _check_destination(config: dict[str, Any]) -> None:
    from syncline.destinations.registry import destination_client

    client = destination_client(validate_connection("destination", config))
    try:
        client.check()
    finally:
        client.close()


def browse_schemas(name: str, config: dict[str, Any], root: Path) -> list[str]:
    """The schemas of a source."""
    with opened_source(name, config, root) as source:
        return list(source.schemas())


def browse_tables(name: str, config: dict[str, Any], root: Path, schema: str) -> list[str]:
    """The tables of ``schema``."""
    with opened_source(name, config, root) as source:
        return list(source.tables(schema))


def browse_columns(
    name: str, config: dict[str, Any], root: Path, *, table: str | None, query: str | None
) -> list[dict[str, str]]:
    """The columns of a table or query, as ``{"name", "type"}``."""
    from syncline.sources.registry import model_sql

    try:
        model = ModelConfig(table=table, query=query)
    except ValidationError as exc:
        raise InvalidInputError(field_errors(exc, "query")) from None
    with opened_source(name, config, root) as source:
        return [{"name": c.name, "type": c.type} for c in source.columns(model_sql(model, source))]


def check_sync(sync: SyncConfig, source_config: dict[str, Any], root: Path, *,
               keys: bool = True) -> list[FieldError]:
    """Check a sync against its source: model readable, key unique and non-null, columns mapped
    exist, an event's identity and name mapped. Every problem is returned, not the first.

    ``keys=False`` leaves out the key's nulls and duplicates: the dashboard's wizard warns about
    them and lets the user go on, since each run reports those rows as invalid."""
    from syncline.config.dbt import resolve_model
    from syncline.sources.registry import model_sql

    try:
        with opened_source(sync.source, source_config, root) as source:
            try:
                model = resolve_model(sync.model, source_config, root, sync=None,
                                      source=sync.source)
            except SynclineError as exc:
                return [FieldError(field="body.config.model", reason=str(exc))]
            sql = model_sql(model, source)
            try:
                names = {c.name for c in source.columns(sql)}
            except SynclineError as exc:
                return [FieldError(field="body.config.model", reason=str(exc))]
            problems = _missing_columns(sync, names)
            if keys and sync.sync_key in names:
                problems += key_problems(source, sql, sync.sync_key)
            return problems
    except BadRequestError as exc:
        return [FieldError(field="body.config.source", reason=str(exc))]


def _missing_columns(sync: SyncConfig, names: set[str]) -> list[FieldError]:
    return _as_fields(checks.missing_columns(sync, names))


def key_problems(source: Any, sql: str, key: str) -> list[FieldError]:
    return _as_fields(checks.key_problems(source, sql, key))


def _as_fields(problems: list[checks.Problem]) -> list[FieldError]:
    """The engine's problems (``syncline validate`` reports the same) as the API's 422 fields."""
    return [FieldError(field=f"body.config.{p.field}", reason=p.reason) for p in problems]
