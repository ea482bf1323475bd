"""The diff rendered for every dialect parses in that dialect, hashes with its own function and
quotes every identifier, so names with spaces, quotes or reserved words survive."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from syncline.engine.diff.dialects import DIALECTS
from syncline.engine.diff.sql import DiffSQL

HASHES = {
    "duckdb": "HASH",
    "snowflake": "HASH", "bigquery": "FARM_FINGERPRINT", "redshift": "MD5",
    "databricks": "XXHASH64", "postgres": "MD5", "mysql": "MD5", "sqlite": "SYNCLINE_HASH",
}
MODEL_TABLE = "analytics.users"
KEY, COLUMNS, SALT = "User Id", ["select", 'we"ird', "Plan"], "it's salt"


def _diff(name: str, model: str) -> DiffSQL:
    return DiffSQL(DIALECTS[name], "users", model, KEY, COLUMNS, SALT, "upsert")


def _statements(d: DiffSQL) -> list[str]:
    return [*d.setup(), *d.drop_work(), d.bad_keys(), *d.plan(full=False, skip=False),
            d.counts(), d.history_keys(), d.keys_rows(), d.invalid(), d.rows(), d.removed(),
            d.removed_rows()]


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_every_statement_parses_in_its_dialect(name: str) -> None:
    d = DIALECTS[name]
    model = ".".join(d.quote(p) for p in MODEL_TABLE.split("."))
    for statement in _statements(_diff(name, model)):
        sqlglot.parse_one(statement, read=d.sqlglot)
    sqlglot.parse_one(d.upsert.format(table=d.table("snapshot_users")) +
                      (" SELECT k, h, s, r FROM x" if name == "duckdb" else ""), read=d.sqlglot)


@pytest.mark.parametrize("name", ["snowflake", "bigquery", "redshift", "databricks", "postgres",
                                  "mysql", "sqlite"])
def test_the_dialects_own_hash_function_is_used(name: str) -> None:
    d = DIALECTS[name]
    plan = _diff(name, "t").plan(full=False, skip=False)[0]
    tree = sqlglot.parse_one(plan, read=d.sqlglot)
    names = {(f.sql_name() if not isinstance(f, exp.Anonymous) else f.name).upper()
             for f in tree.find_all(exp.Func)}
    names |= {type(f).__name__.upper() for f in tree.find_all(exp.Func)}
    wanted = str(HASHES[name]).upper()
    assert wanted in names or wanted.replace("_", "") in names, (name, names)


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_identifiers_are_quoted_and_salt_escaped(name: str) -> None:
    d = DIALECTS[name]
    sql = _diff(name, "t").plan(full=True, skip=False)[0]
    tree = sqlglot.parse_one(sql, read=d.sqlglot)
    columns = {c.name for c in tree.find_all(exp.Column)}
    assert {KEY, *COLUMNS} <= columns
    for ident in tree.find_all(exp.Identifier):
        if ident.name in {KEY, *COLUMNS, "snapshot_users", "plan_users", "syncline"}:
            assert ident.quoted, (name, ident.name)
    salts = [lit.this for lit in tree.find_all(exp.Literal) if lit.is_string]
    assert SALT in salts


def test_sqlite_tables_use_a_prefix_and_others_a_schema() -> None:
    assert DIALECTS["sqlite"].table("snapshot_users") == '"syncline_snapshot_users"'
    assert DIALECTS["postgres"].table("snapshot_users") == '"syncline"."snapshot_users"'
    assert DIALECTS["mysql"].table("snapshot_users") == "`syncline`.`snapshot_users`"
    assert DIALECTS["bigquery"].table("snapshot_users") == "`syncline`.`snapshot_users`"


def test_a_hostile_name_cannot_break_out_of_its_quotes() -> None:
    evil = 'x"; DROP TABLE users; --'
    for name, d in DIALECTS.items():
        sql = DiffSQL(d, "users", "t", evil, [evil], "s'; --", "upsert").bad_keys()
        tree = sqlglot.parse_one(sql, read=d.sqlglot)
        assert not list(tree.find_all(exp.Drop)), name
        assert evil in {c.name for c in tree.find_all(exp.Column)}, name


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_the_sync_log_renders_in_every_dialect(name: str) -> None:
    from datetime import UTC, datetime

    from syncline.config.synclog import SyncLogConfig
    from syncline.engine.synclog import SyncLogSQL

    d = DIALECTS[name]
    sql = SyncLogSQL(d, "", SyncLogConfig(enabled=True, schema="ops_log"))
    statements = [*sql.create(), sql.trim("it's", datetime(2026, 1, 1, tzinfo=UTC)),
                  sql.history("users", "k'1", 10)]
    if name != "duckdb":
        statements.append(sql.insert().replace(":", "@"))  # bound parameters, as placeholders
    for statement in statements:
        sqlglot.parse_one(statement, read=d.sqlglot)
    assert ("ops_log" in sql.table) and ("sync_log" in sql.table)


def test_the_typed_form_statements_quote_names_and_parse_in_duckdb() -> None:
    """The typed hash, the migration, the summary and the empty plan (DuckDB only)."""
    from dataclasses import replace

    d = DIALECTS["duckdb"]
    old = _diff("duckdb", '"analytics"."users"')
    new = replace(old, typed=frozenset(COLUMNS[:2]))
    assert (old.form, new.form) == (1, 2)
    statements = [*new.setup(), *new.migrate(old, "snapshot_users"), new.summary(),
                  *new.plan_nothing(), *new.form_write(2), new.form_read()]
    for statement in statements:
        sqlglot.parse_one(statement, read=d.sqlglot)
    tree = sqlglot.parse_one(new.summary(), read=d.sqlglot)
    for ident in tree.find_all(exp.Identifier):
        if ident.name in {KEY, *COLUMNS}:
            assert ident.quoted, ident.name
    hostile = DiffSQL(d, "users", "t", KEY, ['x"; DROP TABLE users; --'], "s'; --", "upsert",
                      typed=frozenset(['x"; DROP TABLE users; --']))
    assert not list(sqlglot.parse_one(hostile.summary(), read="duckdb").find_all(exp.Drop))
