"""A model is exactly one read-only query: checked with sqlglot before a source ever runs it.

A model's SQL is written by whoever may define a sync, and it runs with the source's credentials.
Census and Hightouch do the same and confine it to one read-only query; so do we, in three
layers, any one of which stops a model that tries to write:

1. here: the text must parse, in the source's dialect, as one ``SELECT`` (or ``WITH … SELECT``,
   ``UNION``…) with nothing inside that writes, locks or creates (a ``DELETE … RETURNING`` in a
   CTE, ``SELECT … INTO``, ``FOR UPDATE``); a second statement is refused, not run;
2. the source runs it on a read-only connection or transaction;
3. the driver cannot run two statements in one call (PostgreSQL's extended protocol, PyMySQL
   without ``MULTI_STATEMENTS``, ``sqlite3``, DuckDB's own parser checked in ``sources.duckdb``).

A query sqlglot cannot parse is refused too, with the parser's reason: a view in the database
is the way to use syntax sqlglot does not know.
"""

from __future__ import annotations

import duckdb
import sqlglot
from sqlglot import exp

from syncline.errors import ModelError

__all__ = ["check_duckdb_select", "check_model_query"]

# anything that writes, locks, creates, or that sqlglot could only keep as raw text (Command)
_FORBIDDEN: tuple[type, ...] = (
    exp.DML, exp.DDL, exp.Into, exp.Lock, exp.Command, exp.Transaction, exp.Commit,
    exp.Rollback, exp.Set, exp.Pragma, exp.Use, exp.Copy, exp.Attach, exp.Detach, exp.Grant,
    exp.TruncateTable, exp.Create, exp.Drop, exp.Alter, exp.Insert, exp.Update, exp.Delete,
    exp.Merge, exp.LoadData,
)


def check_model_query(sql: str, dialect: str, where: str = "model") -> exp.Query:
    """The parsed query if ``sql`` is exactly one read-only query, else a ``ModelError``.

    Args:
        sql: the model's SQL (a trailing ``;`` is fine).
        dialect: the source's sqlglot dialect (``postgres``, ``duckdb``, ``mysql``...).
        where: what the message names, e.g. ``source `warehouse```.
    """
    hint = ("a model must be exactly one SELECT (or WITH … SELECT) statement that only reads; "
            "fix the model's query")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise ModelError(f"{where}: the model's SQL has a syntax error for {dialect} "
                         f"({_reason(exc)}); {hint}. If the database accepts syntax Syncline "
                         "cannot parse, put the query in a view and use the view as the model's "
                         "table") from None
    if len(statements) != 1:
        raise ModelError(f"{where}: the query has {len(statements)} statements; {hint}")
    query = statements[0]
    if not isinstance(query, exp.Query):
        kind = query.key.upper()
        raise ModelError(f"{where}: the query is a {kind} statement, not a SELECT; {hint}")
    bad = next((node for node in query.walk() if isinstance(node, _FORBIDDEN)), None)
    if bad is not None:
        raise ModelError(f"{where}: the query contains {bad.key.upper()} "
                         f"(`{bad.sql(dialect=dialect)[:80]}`); {hint}")
    return query


def _reason(exc: sqlglot.errors.SqlglotError) -> str:
    """The parser's reason without the terminal colours sqlglot puts around the bad token."""
    errors = getattr(exc, "errors", None)
    if errors:
        first = errors[0]
        return (f"{first.get('description')} at line {first.get('line')}, column "
                f"{first.get('col')}, near `{first.get('highlight')}`")
    return " ".join(str(exc).split())[:300]


def check_duckdb_select(conn: duckdb.DuckDBPyConnection, sql: str, where: str) -> str:
    """``sql`` if DuckDB's own parser sees exactly one SELECT in it, else a ``ModelError``.

    The statement a DuckDB source is about to run, checked by the parser that will run it: no
    difference between sqlglot's reading and DuckDB's can smuggle a second statement through.
    """
    try:
        statements = conn.extract_statements(sql)
    except duckdb.Error as exc:
        reason = " ".join(str(exc).split())[:300]
        raise ModelError(f"{where}: the model's query is not valid DuckDB SQL ({reason}); "
                         "fix the query") from None
    kinds = [s.type for s in statements]
    if kinds != [duckdb.StatementType.SELECT]:
        names = ", ".join(k.name for k in kinds) or "nothing"
        raise ModelError(f"{where}: the model runs {names}; a model must be exactly one SELECT "
                         "(or WITH … SELECT) statement that only reads; fix the model's query")
    return sql
