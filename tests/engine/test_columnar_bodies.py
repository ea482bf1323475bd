"""A sync whose bodies are encoded by column leaves the sandbox exactly as the dict path did.

The same demo-like table (text with unicode, quotes, backslashes and control characters, NaN,
whole floats, booleans, dates, timestamps, multi-values, nulls, a row the rules reject) is synced
twice, into two sandbox accounts: once as the engine does now (``encode_rows``), once with the
client's column encoding taken away, so the engine encodes one dict per record as it did
before. Profiles, events and the rejected rows' records must come out identical.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from syncline.config.load import load_project
from syncline.destinations.clevertap.client import CleverTapClient
from syncline.engine.runner import Runner
from syncline.store import StateStore
from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer

ACCOUNTS = ("COL-ACC", "DICT-ACC")
PASSCODE = "pass-col"

PROJECT = """\
version: 1
sources:
  warehouse:
    type: duckdb
    path: warehouse.duckdb
destinations:
  clevertap:
    type: clevertap
    account_id: ${{CLEVERTAP_ACCOUNT_ID}}
    passcode: ${{CLEVERTAP_PASSCODE}}
    endpoint: ${{CLEVERTAP_ENDPOINT}}
syncs:
  people:
    source: warehouse
    model: {{table: main.people}}
    destination: clevertap
    object: profile
    sync_key: id
    batch_size: 7
    in_flight: 2
    on_null: {on_null}
    mappings:
      sync_all: true
      columns:
        - {{from: tags, to: tags, multi_value: set}}
        - {{from: extra, to: extra, multi_value: add}}
  orders:
    source: warehouse
    model: {{table: main.orders}}
    destination: clevertap
    object: event
    sync_key: order_id
    identity_column: user_id
    event_name: Charged
    timestamp_column: at
    items_column: items
    batch_size: 5
    in_flight: 2
    mappings:
      columns:
        - {{from: amount, to: Amount, type: number}}
        - {{from: note, to: Note}}
        - {{from: promo, to: Promo, type: boolean}}
"""

PEOPLE = r"""
CREATE TABLE people AS
SELECT i AS id,
  CASE i % 7 WHEN 0 THEN 'Zoë "Z" \back' WHEN 1 THEN 'tab' || chr(9) || 'nl' || chr(10) || 'x'
    WHEN 2 THEN '日本語 😀' WHEN 3 THEN NULL WHEN 4 THEN chr(1) || 'ctl' ELSE 'Person ' || i END
    AS name,
  CASE WHEN i = 13 THEN 'not-an-email' WHEN i % 5 = 0 THEN NULL
    ELSE 'p' || i || '@example.com' END AS email,
  CASE i % 3 WHEN 0 THEN 'M' WHEN 1 THEN 'F' ELSE NULL END AS gender,
  CASE i % 6 WHEN 0 THEN 'NaN'::DOUBLE WHEN 1 THEN 3.0 WHEN 2 THEN NULL WHEN 3 THEN 1e20
    WHEN 4 THEN -0.0 ELSE i / 7.0 END AS score,
  CASE WHEN i % 4 = 0 THEN NULL ELSE i * 1000000007 END AS visits,
  CASE i % 3 WHEN 0 THEN true WHEN 1 THEN false ELSE NULL END AS vip,
  CASE WHEN i % 5 = 1 THEN NULL ELSE DATE '1900-01-01' + (i * 997)::INTEGER END AS signup,
  TIMESTAMP '2024-02-29 23:59:59' + to_seconds((i * 3600)::BIGINT) AS seen,
  CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN [] WHEN 2 THEN ['a', 'b"c', 'a', NULL]
    ELSE ['ü', 'x\y'] END AS tags,
  CASE WHEN i % 2 = 0 THEN ['one'] ELSE NULL END AS extra,
  (i % 9)::DECIMAL(10, 2) / 4 AS price
FROM range(1, 41) t(i)
"""

ORDERS = r"""
CREATE TABLE orders AS
SELECT 'o' || i AS order_id, 'u' || (i % 6) AS user_id,
  TIMESTAMP '2024-01-01' + to_seconds((i * 7919)::BIGINT) AS at,
  CASE i % 4 WHEN 0 THEN 'NaN'::DOUBLE WHEN 1 THEN 10.0 WHEN 2 THEN NULL ELSE i / 3.0 END
    AS amount,
  CASE i % 3 WHEN 0 THEN 'q"uote\' WHEN 1 THEN NULL ELSE 'ü' || chr(10) END AS note,
  i % 2 = 0 AS promo,
  CASE WHEN i % 5 = 0 THEN NULL ELSE
    list_transform(range(1 + i % 3), lambda k: {'sku': 's' || k, 'price': k * 1.5, 'qty': k})
  END AS items
FROM range(1, 23) t(i)
"""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer([Account(a, {PASSCODE}) for a in ACCOUNTS]) as server:
        yield server


def _run(root: Path, server: SandboxServer, account: str, on_null: str) -> dict[str, Any]:
    root.mkdir()
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute(PEOPLE)
        con.execute(ORDERS)
    (root / "syncline.yml").write_text(PROJECT.format(on_null=on_null))
    env = {**os.environ, "CLEVERTAP_ACCOUNT_ID": account, "CLEVERTAP_PASSCODE": PASSCODE,
           "CLEVERTAP_ENDPOINT": server.url}  # fmt: skip
    env.pop("SYNCLINE_STATE_URL", None)
    store = StateStore(f"sqlite:///{root / 'state.db'}")
    try:
        runner = Runner(load_project(root, env=env), store)
        out: dict[str, Any] = {}
        for sync in ("people", "orders"):
            summary = runner.run(sync)
            assert summary.status.startswith("succeeded"), summary.error
            rejected = [(r.sync_key, r.code, r.message, r.column, r.record)
                        for r in store.rejections(summary.run_id or 0)]  # fmt: skip
            out[sync] = (summary.accepted, summary.rejected, sorted(rejected, key=str))
        return out
    finally:
        store.close()


@pytest.mark.parametrize("on_null", ["skip", "clear"])
def test_sandbox_holds_the_same_records_either_way(
    tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, on_null: str
) -> None:
    by_column = _run(tmp_path / "columns", sandbox, ACCOUNTS[0], on_null)
    monkeypatch.delattr(CleverTapClient, "encode_rows")  # the engine falls back to dicts
    by_dict = _run(tmp_path / "dicts", sandbox, ACCOUNTS[1], on_null)
    assert by_column == by_dict
    assert by_column["people"][0] > 30 and by_column["people"][1] >= 1  # row 13's email
    assert by_column["orders"][0] == 22
    profiles = [dict(sorted(sandbox.store.profiles(a, limit=1000))) for a in ACCOUNTS]
    people = [k for k in profiles[0] if not k.startswith("identity:u")]  # not the event users
    assert len(people) == by_column["people"][0]
    assert repr(profiles[0]) == repr(profiles[1])  # same values and types (1.0 is not 1)
    events = [[(e["identity"], e["name"], e["ts"], e["data"]) for e in sandbox.events(a)]
              for a in ACCOUNTS]  # fmt: skip
    assert len(events[0]) == 22
    assert repr(sorted(events[0], key=repr)) == repr(sorted(events[1], key=repr))
