"""The few SQL fragments that differ per diff-store dialect; everything else is shared.

The diff algorithm (engine/diff/sql.py) is written once; this table says how each engine spells
the parts that differ: its fast hash, text type, schema DDL and snapshot upsert.

Hash input (the *text form*): the mapping salt followed by every hashed column cast to text, a
NULL replaced by a marker no ordinary value uses (``\\N``), joined with a unit separator. So a NULL
hashes differently from an empty string and a mapping change re-sends every row.

DuckDB reading a DuckDB source in place (``diff: source``) hashes the *typed form* instead:
``hash(salt, c1, ..., cn)`` over the columns' own values, which DuckDB combines in order (a NULL
in another position, or NULL against '', hashes differently). Casting every value to text was
most of the row hash's cost (10M rows: 3.5-4.3 CPU-s against 1.2-1.3, bench/PROFILING.md).
Nested columns (LIST, STRUCT, MAP, ARRAY, UNION) keep their text part in the typed form:
DuckDB's ``hash()`` gives NULL, ``[]`` and ``[NULL]`` one value, and a struct of NULL fields the
NULL struct's. A snapshot records its form (``DiffSQL.form_read``), and the planner moves one
written in the other form to this one on its first plan (rows that did not change get the new
hash), so an upgrade sends nothing again. ``diff: local`` keeps the text form: its stage table
takes its column types from the Arrow batches of whatever source, and a typed hash would
change with a type (an INTEGER turned DOUBLE, a DECIMAL's scale) where the text may not.
Hash choice per dialect:
- DuckDB: ``hash()`` (64-bit, 4-5x faster than md5 on 10M rows); a collision
  would make one changed row look unchanged, odds ~1e-19 per row, accepted.
- Snowflake ``HASH``, BigQuery ``FARM_FINGERPRINT``, Databricks ``xxhash64``: each engine's own
  fast 64-bit hash. PostgreSQL, MySQL/MariaDB, Redshift: ``md5`` (the built-in every version has).
- SQLite has no hash function: the planner registers ``syncline_hash`` (blake2b, 64 bits) on its
  own connection.

SQLite keeps Syncline's tables in the source file itself with a ``syncline_`` name prefix (it has
no schemas; an attached file could not be read by the source's own read-only connection, which
is how the plan's rows are streamed). Everyone else gets a ``syncline`` schema. MySQL/MariaDB: a
``syncline`` database, shared by the server's databases, so table names there start with the
source database's name; keys compare byte for byte (``utf8mb4_bin``), not case-insensitively.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlglot import exp

__all__ = ["DIALECTS", "NULL_MARKER", "SEPARATOR", "TEXT_FORM", "TYPED_FORM", "DiffDialect",
           "nested"]

# the row hash's forms, as a snapshot records them (DiffSQL.form_write)
TEXT_FORM, TYPED_FORM = 1, 2
NULL_MARKER = "\\N"
SEPARATOR = "\x1f"
_UPSERT_COLS = "(sync_key, row_hash, status, run_id) VALUES (:k, :h, :s, :r)"


@dataclass(frozen=True)
class DiffDialect:
    """How one engine spells the diff's dialect-specific parts.

    ``hash_expr`` is filled with ``{args}``: the text parts, already joined by ``concat``.
    """

    sqlglot: str
    hash_expr: str
    hash_type: str
    text_type: str
    key_type: str
    create_schema: str
    upsert: str
    merge: str
    """The snapshot journal's merge (engine/diff/sql.py): ``{table}`` upserted from ``{select}``,
    a query of (sync_key, row_hash, status, run_id) rows with distinct keys (unused without
    ``keyed_snapshot``: the merge is then an UPDATE and an INSERT, written once in sql.py)."""
    concat: str = "concat_ws('{sep}', {args})"
    schema: str | None = "syncline"
    status_type: str = "VARCHAR(16)"
    key_collate: str = ""
    catalog: str | None = None
    """DuckDB: the attached diff file holding Syncline's schema (see diff/store.py), named in
    every table so they resolve while the source is the default catalog."""
    temp_work: bool = False
    """Work tables (bad keys, keys to send, the plan) are TEMP tables of the diff's own
    connection: DuckDB then keeps them in memory (spilling beyond its limit) instead of writing
    and compressing a copy of the planned rows into the database file."""
    keyed_snapshot: bool = True
    """The snapshot table has a PRIMARY KEY on ``sync_key``. DuckDB's has none: DuckDB holds a
    table's key index in memory, whole, and it grows with the keys (a 10M-key snapshot did not
    fit 200MB, so the diff's memory limit had to grow with the machine). Without the key, the
    snapshot's writes keep keys unique themselves (``DiffSQL.journal_merge``, ``Snapshot``), and
    ``upsert`` is a plain INSERT that the caller runs after deleting the same keys."""

    typed_hash: bool = False
    """``hash_expr`` also takes typed values of any type (DuckDB): the typed form is possible,
    and the snapshot records which form its hashes are in (a ``hashform`` table)."""

    def quote(self, name: str) -> str:
        """An identifier quoted for this dialect, whatever characters it holds."""
        return exp.to_identifier(name, quoted=True).sql(dialect=self.sqlglot)

    def literal(self, value: str) -> str:
        """A string literal, escaped for this dialect (user text is never pasted raw)."""
        return exp.Literal.string(value).sql(dialect=self.sqlglot)

    def schema_name(self) -> str:
        """Syncline's schema, quoted (with its catalog where there is one)."""
        assert self.schema is not None
        if self.catalog is None:
            return self.quote(self.schema)
        return f"{self.quote(self.catalog)}.{self.quote(self.schema)}"

    def table(self, name: str) -> str:
        """A Syncline work table: ``syncline.<name>``, or ``syncline_<name>`` without schemas."""
        if self.schema is None:
            return self.quote(f"syncline_{name}")
        return f"{self.schema_name()}.{self.quote(name)}"

    def work_table(self, name: str) -> str:
        """A table that lives for one plan: ``temp.main.<name>`` where work tables are TEMP."""
        return f"temp.main.{self.quote(name)}" if self.temp_work else self.table(name)

    def row_hash(self, salt: str, columns: Sequence[str], prefix: str = "",
                 typed: Collection[str] | None = None) -> str:
        """The row-hash expression over ``columns`` (qualified by ``prefix``), salted.

        ``typed``: the typed form, these columns hashed as their own values and the others as
        text (where ``typed_hash``; None: the text form).
        """
        marker = self.literal(NULL_MARKER)

        def text(c: str) -> str:
            return f"COALESCE(CAST({prefix}{self.quote(c)} AS {self.text_type}), {marker})"

        if typed is not None and self.typed_hash:
            parts = [self.literal(salt)] + [
                f"{prefix}{self.quote(c)}" if c in typed else text(c) for c in columns]
            return self.hash_expr.format(args=", ".join(parts))
        parts = [self.literal(salt)] + [text(c) for c in columns]
        if self.concat == "pipes":
            joined = f" || {self.literal(SEPARATOR)} || ".join(parts)
        else:
            joined = self.concat.format(sep=SEPARATOR, args=", ".join(parts))
        return self.hash_expr.format(args=joined)

    def key(self, column: str, prefix: str = "") -> str:
        """The sync key as text: the snapshot's key type whatever the model's column type."""
        return f"CAST({prefix}{self.quote(column)} AS {self.text_type}){self.key_collate}"


def nested(type_name: str) -> bool:
    """A DuckDB type whose ``hash()`` loses NULL against empty (LIST, ARRAY, STRUCT, MAP,
    UNION): hashed as text in the typed form."""
    name = type_name.strip().upper()
    return name.endswith("]") or name.startswith(("STRUCT", "MAP", "UNION", "VARIANT"))


_MERGE = ("MERGE INTO {table} AS t USING (SELECT :k AS sync_key, :h AS row_hash, :s AS status, "
          ":r AS run_id) AS v ON t.sync_key = v.sync_key WHEN MATCHED THEN UPDATE SET "
          "row_hash = v.row_hash, status = v.status, run_id = v.run_id WHEN NOT MATCHED THEN "
          "INSERT (sync_key, row_hash, status, run_id) "
          "VALUES (v.sync_key, v.row_hash, v.status, v.run_id)")
_PG_UPSERT = (f"INSERT INTO {{table}} {_UPSERT_COLS} ON CONFLICT (sync_key) DO UPDATE SET "
              "row_hash = excluded.row_hash, status = excluded.status, run_id = excluded.run_id")
_COLS = "(sync_key, row_hash, status, run_id)"
# {select} always ends in a WHERE clause, which SQLite needs before its ON CONFLICT
_PG_MERGE = (f"INSERT INTO {{table}} {_COLS} {{select}} ON CONFLICT (sync_key) DO UPDATE SET "
             "row_hash = excluded.row_hash, status = excluded.status, run_id = excluded.run_id")
_MERGE_SELECT = ("MERGE INTO {table} AS t USING ({select}) AS v ON t.sync_key = v.sync_key "
                 "WHEN MATCHED THEN UPDATE SET row_hash = v.row_hash, status = v.status, "
                 "run_id = v.run_id WHEN NOT MATCHED THEN INSERT (sync_key, row_hash, status, "
                 "run_id) VALUES (v.sync_key, v.row_hash, v.status, v.run_id)")

DIALECTS: dict[str, DiffDialect] = {
    "duckdb": DiffDialect(
        sqlglot="duckdb", hash_expr="hash({args})", hash_type="UBIGINT", text_type="VARCHAR",
        key_type="VARCHAR", create_schema="CREATE SCHEMA IF NOT EXISTS {schema}",
        upsert="INSERT INTO {table}", merge="", concat="list_value({args})",
        temp_work=True, keyed_snapshot=False, typed_hash=True),
    "sqlite": DiffDialect(
        sqlglot="sqlite", hash_expr="syncline_hash({args})", hash_type="TEXT", text_type="TEXT",
        key_type="TEXT", create_schema="", upsert=_PG_UPSERT, merge=_PG_MERGE, concat="{args}",
        schema=None),
    "postgres": DiffDialect(
        sqlglot="postgres", hash_expr="md5({args})", hash_type="TEXT", text_type="TEXT",
        key_type="TEXT", create_schema="CREATE SCHEMA IF NOT EXISTS {schema}", upsert=_PG_UPSERT,
        merge=_PG_MERGE),
    "mysql": DiffDialect(
        sqlglot="mysql", hash_expr="md5({args})", hash_type="CHAR(32)",
        text_type="CHAR CHARACTER SET utf8mb4", key_collate=" COLLATE utf8mb4_bin",
        key_type="VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        create_schema="CREATE DATABASE IF NOT EXISTS {schema}",
        upsert=(f"INSERT INTO {{table}} {_UPSERT_COLS} ON DUPLICATE KEY UPDATE "
                "row_hash = VALUES(row_hash), status = VALUES(status), run_id = VALUES(run_id)"),
        merge=(f"INSERT INTO {{table}} {_COLS} {{select}} ON DUPLICATE KEY UPDATE "
               "row_hash = VALUES(row_hash), status = VALUES(status), run_id = VALUES(run_id)")),
    "snowflake": DiffDialect(
        sqlglot="snowflake", hash_expr="HASH({args})", hash_type="NUMBER(19, 0)",
        text_type="VARCHAR", key_type="VARCHAR",
        create_schema="CREATE SCHEMA IF NOT EXISTS {schema}", upsert=_MERGE, merge=_MERGE_SELECT),
    "bigquery": DiffDialect(
        sqlglot="bigquery", hash_expr="FARM_FINGERPRINT({args})", hash_type="INT64",
        text_type="STRING", key_type="STRING", status_type="STRING",
        create_schema="CREATE SCHEMA IF NOT EXISTS {schema}", upsert=_MERGE, merge=_MERGE_SELECT,
        concat="ARRAY_TO_STRING([{args}], '{sep}')"),
    "redshift": DiffDialect(
        sqlglot="redshift", hash_expr="MD5({args})", hash_type="VARCHAR(32)",
        text_type="VARCHAR", key_type="VARCHAR(512)",
        create_schema="CREATE SCHEMA IF NOT EXISTS {schema}", upsert=_MERGE, merge=_MERGE_SELECT,
        concat="pipes"),
    "databricks": DiffDialect(
        sqlglot="databricks", hash_expr="XXHASH64({args})", hash_type="BIGINT",
        text_type="STRING", key_type="STRING", status_type="STRING",
        create_schema="CREATE SCHEMA IF NOT EXISTS {schema}", upsert=_MERGE, merge=_MERGE_SELECT),
}
