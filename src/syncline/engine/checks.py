"""Checks of a project against its sources, without sending anything.

``syncline validate`` runs every check and prints one line each; the server's sync form
(``server/checks.py``) asks the same questions of one sync before saving it. The questions live
here, below both, so the CLI never imports the server and the two cannot disagree: is the model
readable, do the columns the sync names exist, is the sync key unique and non-null, does a dbt
model resolve to a table. Nothing here talks to the destination.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlglot

from syncline.config.dbt import resolve_model
from syncline.config.load import LoadedProject
from syncline.config.models import SyncConfig
from syncline.engine import deletes
from syncline.engine.mapping import resolve_mapping
from syncline.errors import ConfigError, SynclineError
from syncline.sources.base import Source
from syncline.sources.registry import model_sql, open_source

__all__ = ["Check", "Problem", "key_problems", "missing_columns", "validate_project"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a sync: the field of its config at fault and why."""

    field: str
    """Dotted path in the sync's config: ``sync_key``, ``mappings.columns.0.from``, ``model``."""
    reason: str


@dataclass(frozen=True)
class Check:
    """One line of ``syncline validate``: what was checked, whether it passed, and the detail."""

    subject: str
    """``config``, ``source warehouse``, ``sync users``."""
    what: str
    ok: bool
    detail: str = ""


def missing_columns(sync: SyncConfig, names: set[str]) -> list[Problem]:
    """Every column the sync names (key, identity, event name, timestamp, items, mappings)
    that the model does not have."""
    wanted: list[tuple[str, str | None]] = [
        ("sync_key", sync.sync_key),
        ("identity_column", sync.identity_column),
        ("event_name_column", sync.event_name_column),
        ("timestamp_column", sync.timestamp_column),
        ("items_column", sync.items_column),
    ]
    wanted += [(f"mappings.columns.{i}.from", m.from_) for i, m in enumerate(sync.mappings.columns)]
    known = ", ".join(sorted(names))
    return [
        Problem(field, f"column `{column}` is not in the model (its columns: {known})")
        for field, column in wanted
        if column is not None and column not in names
    ]


def key_problems(source: Source | Any, sql: str, key: str) -> list[Problem]:
    """The sync key null in some rows, or not unique: one query, counted in the source."""
    dialect = getattr(getattr(source, "capabilities", None), "dialect", None) or "duckdb"
    column = sqlglot.exp.to_identifier(key, quoted=True).sql(dialect=dialect)
    # ``sql`` is a relation (a quoted table, or ``(query) AS alias``), as sources stream them
    query = (f"(SELECT count(*) AS n, count(DISTINCT {column}) AS d, count({column}) AS nn "
             f"FROM {sql}) AS syncline_key_check")
    rows = [row for batch in source.stream(query) for row in batch.to_pylist()]
    if not rows:
        return []
    n, distinct, non_null = rows[0]["n"], rows[0]["d"], rows[0]["nn"]
    problems: list[Problem] = []
    if non_null < n:
        problems.append(Problem(
            "sync_key",
            f"`{key}` is null in {n - non_null} row(s); the sync key must be non-null "
            f"(those rows would be rejected): pick another column or filter them out",
        ))
    if distinct < non_null:
        problems.append(Problem(
            "sync_key",
            f"`{key}` is not unique ({non_null - distinct} duplicate value(s)); the sync "
            f"key must identify one row",
        ))
    return problems


def validate_project(loaded: LoadedProject, syncs: list[str] | None = None) -> Iterator[Check]:
    """Every check of the project's sources and syncs (of ``syncs`` only, when given), in
    order; a source that cannot be reached skips the checks of the syncs reading it."""
    project = loaded.project
    unknown = [n for n in syncs or [] if n not in project.syncs]
    if unknown:
        raise ConfigError(f"no sync {', '.join(f'`{n}`' for n in unknown)} in syncline.yml "
                          f"(known: {', '.join(sorted(project.syncs)) or 'none'})")
    names = syncs if syncs else sorted(project.syncs)
    wanted_sources = sorted({project.syncs[n].source for n in names} if syncs
                            else set(project.sources))
    opened: dict[str, Source] = {}
    try:
        for name in wanted_sources:
            try:
                source = open_source(name, project.sources[name], loaded.root)
            except SynclineError as exc:
                yield Check(f"source {name}", "reachable", False, str(exc))
                continue
            try:
                source.check()
            except SynclineError as exc:
                source.close()
                yield Check(f"source {name}", "reachable", False, str(exc))
                continue
            opened[name] = source
            yield Check(f"source {name}", "reachable", True)
        for name in names:
            sync = project.syncs[name]
            if sync.source in opened:
                yield from _sync_checks(loaded, name, sync, opened[sync.source])
            else:
                yield Check(f"sync {name}", "checked", False,
                            f"source `{sync.source}` could not be reached")
    finally:
        for source in opened.values():
            source.close()


def _sync_checks(loaded: LoadedProject, name: str, sync: SyncConfig,
                 source: Source) -> Iterator[Check]:
    subject = f"sync {name}"
    try:
        model = resolve_model(sync.model, loaded.project.sources[sync.source], loaded.root,
                              sync=name, source=sync.source)
    except SynclineError as exc:
        yield Check(subject, "dbt model resolves", False, str(exc))
        return
    if sync.model.dbt is not None:
        yield Check(subject, "dbt model resolves", True, f"{sync.model.dbt} → {model.table}")
    sql = model_sql(model, source)
    try:
        columns = source.columns(sql)
    except SynclineError as exc:
        yield Check(subject, "model readable", False, str(exc))
        return
    yield Check(subject, "model readable", True, f"{len(columns)} columns")
    names = {c.name for c in columns}
    problems = missing_columns(sync, names)
    if not problems:
        try:  # the mapping's own rules: types, excluded columns, reserved names
            if sync.object == "delete":
                deletes.erasure_mapping(name, sync, columns)
            else:
                resolve_mapping(name, sync, columns)
        except SynclineError as exc:
            problems = [Problem("mappings", str(exc))]
    yield Check(subject, "mapped columns exist", not problems,
                "; ".join(f"{p.field}: {p.reason}" for p in problems))
    if sync.sync_key in names:
        try:
            key = key_problems(source, sql, sync.sync_key)
        except SynclineError as exc:
            key = [Problem("sync_key", str(exc))]
        yield Check(subject, f"sync key `{sync.sync_key}` unique and non-null", not key,
                    "; ".join(p.reason for p in key))
