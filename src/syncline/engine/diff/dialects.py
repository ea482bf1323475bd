"""The few SQL fragments that differ per diff-store dialect; everything else is shared.

Hash choice for DuckDB: `hash()` (a 64-bit non-cryptographic hash) is 4-5x faster than md5 on
10M rows (PERFORMANCE.md). A collision would make a changed row look unchanged; at 64 bits the
odds for one changed row are ~1e-19, accepted. The hashed value is a list of VARCHARs headed by
the mapping salt, so a NULL element hashes differently from an empty string.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DIALECTS", "DiffDialect"]


@dataclass(frozen=True)
class DiffDialect:
    """Templates for one dialect: `{args}`, `{schema}`, `{table}` are filled in by the planner."""

    hash_expr: str
    hash_type: str
    create_schema: str
    upsert: str


DIALECTS: dict[str, DiffDialect] = {
    "duckdb": DiffDialect(
        hash_expr="hash(list_value({args}))",
        hash_type="UBIGINT",
        create_schema="CREATE SCHEMA IF NOT EXISTS {schema}",
        upsert="INSERT OR REPLACE INTO {table}",
    ),
}
