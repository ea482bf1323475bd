"""A sample DuckDB warehouse (users and orders) generated in SQL, for demos and tests.

Built with ``range()`` and hash-based picks so 50k users take well under a second, with no
downloads. It looks like a real CRM table: Indian phone numbers typed the national way
(``98123 45678``, sent in E.164 with the sync's ``phone_region: IN``), genders spelled ``male`` /
``female``, a ``tags`` list sent as a CleverTap multi-value property. A few rows are deliberately
bad (invalid phone and email, a duplicate and a null user_id) so a first run shows rejections
with their reasons.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

__all__ = ["add_sample_orders", "build_sample_warehouse", "change_sample_rows",
           "remove_sample_user"]

_FIRST = [
    "Aarav", "Priya", "James", "Olivia", "Liam", "Emma", "Noah", "Ava", "Arjun", "Ananya",
    "Lucas", "Mia", "Ethan", "Sofia", "Rohan", "Isha", "Oliver", "Amelia", "Kabir", "Zara",
    "Mateo", "Chloe", "Vikram", "Grace", "Hugo", "Leah", "Omar", "Nora", "Kenji", "Aisha",
]  # fmt: skip
_LAST = [
    "Sharma", "Patel", "Smith", "Johnson", "Brown", "Garcia", "Khan", "Singh", "Williams",
    "Martin", "Lopez", "Nguyen", "Kim", "Müller", "Rossi", "Dubois", "Silva", "Taylor",
    "Mehta", "Reddy", "Clarke", "Evans", "Wilson", "Iyer", "Tanaka", "Cohen", "Ali", "Novak",
]  # fmt: skip
_PLANS = ["free", "starter", "pro", "enterprise"]
_COUNTRIES = [("US", "+1415"), ("IN", "+9198"), ("GB", "+447")]
_CATEGORIES = ["Books", "Electronics", "Fashion", "Home", "Grocery", "Toys"]
_TAGS = ["newsletter", "vip", "beta", "mobile", "churn-risk", "referral", "trial"]


def _lit(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def build_sample_warehouse(
    path: Path, *, users: int = 50_000, orders: int = 20_000, seed: int = 7
) -> None:
    """Create (or replace) ``main.users`` and ``main.orders`` in the DuckDB file at ``path``."""
    with duckdb.connect(str(path)) as con:
        con.execute(_users_sql(users, seed))
        con.execute(_bad_rows_sql(users))
        con.execute(_orders_sql(orders, users, seed, replace=True))


def _users_sql(users: int, seed: int) -> str:
    first, last = _lit(_FIRST), _lit(_LAST)
    codes = _lit([c for _, c in _COUNTRIES])
    countries = _lit([c for c, _ in _COUNTRIES])
    return f"""
    CREATE OR REPLACE TABLE main.users AS
    WITH r AS (SELECT range AS i, CAST(hash(range, {seed}) // 2 AS BIGINT) AS h FROM range({users}))
    SELECT
        'u' || lpad(CAST(i + 1 AS VARCHAR), 7, '0') AS user_id,
        {first}[1 + (h % {len(_FIRST)})] || ' ' || {last}[1 + ((h // 31) % {len(_LAST)})]
            AS full_name,
        lower({first}[1 + (h % {len(_FIRST)})]) || '.' || (i + 1) || '@example.com' AS email,
        CASE WHEN (h // 7) % 3 = 1  -- India: typed as a national number, "98123 45678"
            THEN '98' || substr(lpad(CAST((h // 1000) % 1000000000 AS VARCHAR), 9, '0'), 1, 3)
                 || ' ' || substr(lpad(CAST((h // 1000) % 1000000000 AS VARCHAR), 9, '0'), 4, 5)
            ELSE {codes}[1 + ((h // 7) % 3)] || substr(lpad(CAST((h // 1000) % 1000000000
                 AS VARCHAR), 9, '0'), 1, [7, 8, 9][1 + ((h // 7) % 3)])
        END AS phone,
        CASE (h // 11) % 3 WHEN 0 THEN 'male' WHEN 1 THEN 'female' ELSE 'F' END AS gender,
        DATE '1960-01-01' + CAST((h // 13) % 16000 AS INTEGER) AS birthday,
        {_lit(_PLANS)}[1 + ((h // 17) % 4)] AS plan,
        {countries}[1 + ((h // 7) % 3)] AS country,
        TIMESTAMP '2023-01-01' + to_seconds(CAST((h // 19) % 60000000 AS BIGINT)) AS signup_at,
        CAST(((h // 23) % 500000) / 100.0 AS DECIMAL(12, 2)) AS lifetime_value,
        list_distinct([{_lit(_TAGS)}[1 + ((h // 29) % {len(_TAGS)})],
                       {_lit(_TAGS)}[1 + ((h // 31) % {len(_TAGS)})]])[1:1 + (h // 37) % 3]
            AS tags
    FROM r
    """


def _bad_rows_sql(users: int) -> str:
    """Bad rows a user should see rejected: phone, email, a duplicate key and a null key."""
    return f"""
    UPDATE main.users SET phone = '12345' WHERE user_id = 'u0000003';
    UPDATE main.users SET email = 'not-an-email' WHERE user_id = 'u0000005';
    INSERT INTO main.users SELECT * REPLACE ('Dup Licate' AS full_name)
        FROM main.users WHERE user_id = 'u0000007';
    INSERT INTO main.users SELECT * REPLACE (NULL AS user_id)
        FROM main.users WHERE user_id = 'u{min(users, 9):07d}';
    """


def _orders_sql(n: int, users: int, seed: int, *, replace: bool, start: int = 0) -> str:
    cats = _lit(_CATEGORIES)
    head = "CREATE OR REPLACE TABLE main.orders AS" if replace else "INSERT INTO main.orders"
    return f"""
    {head}
    WITH r AS (SELECT range AS i, CAST(hash(range, {seed}, 'o') // 2 AS BIGINT) AS h
               FROM range({start}, {start + n}))
    SELECT
        'o' || lpad(CAST(i + 1 AS VARCHAR), 8, '0') AS order_id,
        'u' || lpad(CAST(1 + h % {max(users, 1)} AS VARCHAR), 7, '0') AS user_id,
        TIMESTAMP '2024-01-01' + to_seconds(CAST((h // 3) % 30000000 AS BIGINT)) AS ordered_at,
        CAST(((h // 5) % 50000) / 100.0 + 1 AS DECIMAL(12, 2)) AS transaction_value,
        ['USD', 'INR', 'GBP'][1 + ((h // 7) % 3)] AS currency,
        {cats}[1 + ((h // 11) % {len(_CATEGORIES)})] AS product_category,
        (h // 13) % 4 = 0 AS discount_applied,
        [{{'name': 'Item ' || ((h // 17) % 100), 'category': {cats}[1 + ((h // 19) % 6)],
           'quantity': CAST(1 + (h // 23) % 3 AS INTEGER),
           'price': CAST(((h // 29) % 20000) / 100.0 AS DOUBLE)}}] AS items
    FROM r
    """


def change_sample_rows(path: Path, *, fraction: float = 0.01, seed: int = 11) -> int:
    """Change the plan of about ``fraction`` of the users; return how many rows changed."""
    modulus = max(1, round(1 / fraction)) if fraction > 0 else 0
    if modulus == 0:
        return 0
    with duckdb.connect(str(path)) as con:
        row = con.execute(
            f"""UPDATE main.users SET plan = CASE plan WHEN 'pro' THEN 'enterprise' ELSE 'pro' END
                WHERE user_id IS NOT NULL AND hash(user_id, {seed}) % {modulus} = 0"""
        ).fetchone()
    return int(row[0]) if row else 0


def remove_sample_user(path: Path, user_id: str = "u0000010") -> str:
    """Delete one user from ``main.users`` (a sync with ``on_removed: delete`` deletes it)."""
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM main.users WHERE user_id = ?", [user_id])
    return user_id


def add_sample_orders(path: Path, n: int, seed: int = 13) -> None:
    """Append ``n`` new orders (new order ids) to ``main.orders``."""
    with duckdb.connect(str(path)) as con:
        start_row = con.execute("SELECT count(*) FROM main.orders").fetchone()
        users_row = con.execute("SELECT count(*) FROM main.users").fetchone()
        start = int(start_row[0]) if start_row else 0
        users = int(users_row[0]) if users_row else 1
        con.execute(_orders_sql(n, users, seed, replace=False, start=start))
