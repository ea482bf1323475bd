"""Fixtures for the SQL sources: a throw-away database per test on the local servers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from tests.servers import need_mariadb, need_postgres

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
MY = "mysql+pymysql://root@127.0.0.1:3306/{db}"


@pytest.fixture
def pg_db() -> Iterator[str]:
    """A fresh PostgreSQL database; yields its name and drops it afterwards."""
    need_postgres()
    import psycopg

    name = f"syncline_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def my_db() -> Iterator[str]:
    """A fresh MariaDB database; yields its name and drops it afterwards."""
    need_mariadb()
    import pymysql

    name = f"syncline_t_{uuid.uuid4().hex[:12]}"
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root")
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()
