"""What the wizard shows of the model's data before a sync exists: its first rows, how good a
sync key a column is (null and duplicate keys, with counts and examples), and which column most
likely names the user of an event.

A sync key with nulls or duplicates is warned about, not refused: the engine reports those rows
as invalid (``null_key``, ``duplicate_key``, every row of a duplicated key) on each run and sends
the rest, exactly as ``syncline run`` does, so a user may knowingly go on. The queries run
through the source's own ``stream`` on the model's relation, which is one read-only SELECT
(``sources/model_query.py``).
"""

from __future__ import annotations

from typing import Any

import sqlglot

__all__ = ["PREVIEW_ROWS", "first_rows", "key_warnings", "user_like_column"]

PREVIEW_ROWS = 10
_EXAMPLES = 3
_CELL = 80
_USER_LIKE = ("identity", "user_id", "userid", "customer_id", "customerid", "member_id",
              "account_id", "profile_id", "client_id", "user", "customer", "email",
              "email_address", "phone", "mobile")
"""Column names that usually name a person, best first (our choice, used only as a default)."""


def _rows(source: Any, relation: str) -> list[dict[str, Any]]:
    return [row for batch in source.stream(relation, batch_rows=PREVIEW_ROWS)
            for row in batch.to_pylist()]


def _quoted(source: Any, column: str) -> str:
    dialect = getattr(getattr(source, "capabilities", None), "dialect", None) or "duckdb"
    return sqlglot.exp.to_identifier(column, quoted=True).sql(dialect=dialect)


def _cell(value: Any) -> str:
    text = "null" if value is None else str(value)
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def first_rows(source: Any, sql: str) -> list[list[str]]:
    """The model's first rows (``sql`` is its relation), each value as short text."""
    rows = _rows(source, f"(SELECT * FROM {sql} LIMIT {PREVIEW_ROWS}) AS syncline_preview")
    return [[_cell(v) for v in row.values()] for row in rows[:PREVIEW_ROWS]]


def key_warnings(source: Any, sql: str, key: str) -> list[str]:
    """What is wrong with ``key`` as a sync key, with counts and examples (empty: nothing)."""
    column = _quoted(source, key)
    counts = _rows(source, f"(SELECT count(*) AS n, count({column}) AS nn FROM {sql}) "
                           "AS syncline_key_check")
    if not counts:
        return []
    total, non_null = counts[0]["n"], counts[0]["nn"]
    warnings: list[str] = []
    if non_null < total:
        warnings.append(
            f"`{key}` is null in {total - non_null} of {total} row(s): each run reports those "
            "rows as invalid (null_key) and does not send them. Pick another column or filter "
            "them out of the model to send them."
        )
    groups = (f"SELECT {column} AS k, count(*) AS n FROM {sql} WHERE {column} IS NOT NULL "
              f"GROUP BY {column} HAVING count(*) > 1")
    dups = _rows(source, f"(SELECT count(*) AS d, sum(n) AS r FROM ({groups}) AS g) "
                         "AS syncline_dups")
    if dups and dups[0]["d"]:
        top = _rows(source, f"(SELECT k, n FROM ({groups}) AS g ORDER BY n DESC, k "
                            f"LIMIT {_EXAMPLES}) AS syncline_dup_examples")
        examples = ", ".join(f"`{_cell(d['k'])}` ({d['n']} rows)" for d in top)
        warnings.append(
            f"`{key}` is not unique: {dups[0]['d']} value(s) appear more than once, in "
            f"{dups[0]['r']} row(s), e.g. {examples}. Each run reports every row of a "
            "duplicated key as invalid (duplicate_key) and does not send it. Pick a column "
            "that identifies one row to send them."
        )
    return warnings


def user_like_column(names: list[str], sync_key: str | None) -> str | None:
    """The column most likely naming the user of an event, never the sync key (an event's key
    identifies the event, e.g. an order, not the person)."""
    others = [n for n in names if n != sync_key]
    by_lower = {n.lower(): n for n in others}
    for wanted in _USER_LIKE:
        if wanted in by_lower:
            return by_lower[wanted]
    return next((n for n in others if "user" in n.lower() or "customer" in n.lower()), None)
