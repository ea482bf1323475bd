"""A throw-away PostgreSQL database on the local server, for the dashboard's source tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tests.servers import need_postgres

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@contextmanager
def postgres_database(rows: int = 3) -> Iterator[str]:
    """A new database holding ``public.customers`` (``rows`` rows); dropped afterwards."""
    need_postgres()
    import psycopg

    name = f"syncline_ui_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}",
                             autocommit=True) as conn:
            conn.execute("CREATE TABLE customers (id text PRIMARY KEY, email text)")
            for i in range(rows):
                conn.execute("INSERT INTO customers VALUES (%s, %s)", (f"c{i}", f"c{i}@x.io"))
        yield name
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
