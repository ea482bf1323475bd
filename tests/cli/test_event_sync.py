"""Event syncs end to end: one CleverTap event per new sync key, counted in the sandbox."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import Project

ORDERS = 250

EVENT_SYNC = """\
  orders:
    source: warehouse
    model:
      {model}
    destination: clevertap
    object: event
    sync_key: order_id
    identity_column: user_id
    {event_name}
    timestamp_column: ordered_at
    items_column: items
    history: {history}
    in_doubt: {in_doubt}
    batch_size: {batch_size}
    in_flight: 4
    mappings:
      columns:
        - {{from: order_id, to: Order ID, type: number}}
        - {{from: transaction_value, to: Transaction Value, type: number}}
        - {{from: currency, to: Currency}}
        - {{from: product_category, to: Product Category}}
        - {{from: discount_applied, to: Discount Applied, type: boolean}}
"""


class EventProject(Project):
    def add_orders(self, first: int, count: int) -> None:
        self.sql(
            f"""
            INSERT INTO orders
            SELECT i AS order_id, 1 + i % 40 AS user_id,
                   TIMESTAMP '2026-01-01 00:00:00' + to_seconds(i * 60) AS ordered_at,
                   CAST(10 + i % 90 + 0.5 AS DECIMAL(10, 2)) AS transaction_value,
                   CASE WHEN i % 2 = 0 THEN 'USD' ELSE 'EUR' END AS currency,
                   CASE WHEN i % 3 = 0 THEN 'books' ELSE 'games' END AS product_category,
                   i % 4 = 0 AS discount_applied,
                   [{{'name': 'item ' || i, 'category': 'books', 'quantity': 1 + i % 3,
                      'price': 9.5}}] AS items
            FROM range({first}, {first + count}) t(i)
            """
        )

    def create_orders(self, count: int) -> None:
        self.sql(
            "CREATE TABLE orders (order_id BIGINT, user_id INTEGER, ordered_at TIMESTAMP, "
            "transaction_value DECIMAL(10, 2), currency VARCHAR, product_category VARCHAR, "
            "discount_applied BOOLEAN, "
            "items STRUCT(name VARCHAR, category VARCHAR, quantity INTEGER, price DOUBLE)[])"
        )
        self.add_orders(1, count)

    def configure_events(self, *, history: str = "send", in_doubt: str = "skip",
                         batch_size: int = 1000, model: str = "table: main.orders",
                         event_name: str = "event_name: Charged") -> None:
        text = self.config_path.read_text().split("  orders:\n")[0]
        self.config_path.write_text(text + EVENT_SYNC.format(
            history=history, in_doubt=in_doubt, batch_size=batch_size, model=model,
            event_name=event_name))

    def events(self, name: str | None = "Charged") -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.sandbox.events(self.account["account_id"], name=name)
        return events

    def order_counts(self) -> Counter[int]:
        return Counter(int(e["evtData"]["Order ID"]) for e in self.events())


@pytest.fixture
def events_project(tmp_path: Path, sandbox_account: dict[str, Any]) -> EventProject:
    project = EventProject.create(tmp_path, sandbox_account, users=40)
    project.create_orders(ORDERS)
    project.configure_events()
    return project


def test_first_run_raises_one_event_per_row_and_second_none(events_project: EventProject) -> None:
    first = events_project.run_json("orders")
    assert (first["status"], first["sent"], first["accepted"]) == ("succeeded", ORDERS, ORDERS)
    counts = events_project.order_counts()
    assert set(counts) == set(range(1, ORDERS + 1))
    assert set(counts.values()) == {1}
    by_user = Counter(str(e["identity"]) for e in events_project.events())
    assert by_user["1"] == len([i for i in range(1, ORDERS + 1) if 1 + i % 40 == 1])
    second = events_project.run_json("orders")
    assert (second["sent"], second["planned"]["new"]) == (0, 0)
    assert len(events_project.events()) == ORDERS


def test_a_timestamp_sync_key_is_found_again_by_the_next_diff(
    events_project: EventProject,
) -> None:
    """The snapshot keeps the key as the diff's SQL writes it ('2026-01-01 00:01:00'), not as
    Python would print it ('2026-01-01T00:01:00'): otherwise every run would raise all again."""
    config = events_project.config_path
    config.write_text(config.read_text().replace("sync_key: order_id", "sync_key: ordered_at"))
    first = events_project.run_json("orders")
    assert (first["status"], first["sent"]) == ("succeeded", ORDERS)
    second = events_project.run_json("orders")
    assert (second["planned"]["new"], second["sent"]) == (0, 0)
    assert len(events_project.events()) == ORDERS


def test_new_rows_raise_exactly_their_events(events_project: EventProject) -> None:
    events_project.run_json("orders")
    events_project.add_orders(ORDERS + 1, 17)
    summary = events_project.run_json("orders")
    assert (summary["planned"]["new"], summary["sent"]) == (17, 17)
    assert set(events_project.order_counts().values()) == {1}
    assert len(events_project.events()) == ORDERS + 17


def test_history_skip_sends_only_later_rows(events_project: EventProject) -> None:
    events_project.configure_events(history="skip")
    plan = events_project.cli_json("plan", "orders")
    assert plan["history"].startswith("skip")
    assert plan["planned"]["new"] == 0
    first = events_project.run_json("orders")
    assert first["sent"] == 0
    assert events_project.events() == []
    events_project.add_orders(ORDERS + 1, 5)
    later = events_project.run_json("orders")
    assert later["sent"] == 5
    assert sorted(events_project.order_counts()) == list(range(ORDERS + 1, ORDERS + 6))


def test_charged_arrives_with_items_and_converted_types(events_project: EventProject) -> None:
    events_project.run_json("orders")
    event = next(e for e in events_project.events() if e["evtData"]["Order ID"] == 8)
    data = event["evtData"]
    assert data["Transaction Value"] == 18.5
    assert data["Currency"] == "USD"
    assert data["Discount Applied"] is True
    assert data["Items"] == [{"name": "item 8", "category": "books", "quantity": 3,
                              "price": 9.5}]
    assert event["ts"] == 1767225600 + 8 * 60


def test_bad_values_are_rejected_with_reason(events_project: EventProject) -> None:
    model = (
        "query: \"SELECT order_id, user_id, CASE WHEN order_id = 3 THEN 'not a date' "
        "WHEN order_id = 5 THEN CAST(epoch_ms(ordered_at) AS VARCHAR) "
        "ELSE strftime(ordered_at, '%Y-%m-%dT%H:%M:%SZ') END AS ordered_at, "
        "transaction_value, currency, product_category, discount_applied, "
        "CASE WHEN order_id = 7 THEN NULL ELSE items END AS items, "
        "CASE WHEN order_id = 9 THEN 'App Launched' ELSE 'Charged' END AS action "
        "FROM main.orders WHERE order_id <= 10\""
    )
    events_project.configure_events(model=model, event_name="event_name_column: action")
    summary = events_project.run_json("orders")
    assert summary["sent"] == 8  # order 3 (bad timestamp) and 9 (restricted name) never leave
    assert summary["rejected"] == 2
    rows = {r["sync_key"]: r for r in events_project.cli_json("rejections",
                                                             str(summary["run_id"]))}
    assert rows["3"]["code"] == "bad_value"
    assert rows["3"]["column"] == "ordered_at"
    assert "not a date" in rows["3"]["message"]
    assert rows["9"]["code"] == "513"
    assert "restricted system event" in rows["9"]["message"]
    ts = {e["evtData"]["Order ID"]: e["ts"] for e in events_project.events()}
    assert ts[5] == 1767225600 + 5 * 60  # epoch milliseconds, converted to seconds
    assert ts[4] == 1767225600 + 4 * 60  # an ISO string


def test_ambiguous_upload_failures_are_in_doubt_never_silently_resent(
    events_project: EventProject,
) -> None:
    events_project.configure_events(batch_size=25)
    events_project.set_faults(drop_rate=0.3, burst_429=5, seed=5)
    first = events_project.run_json("orders")
    assert first["in_doubt"] > 0
    assert first["in_doubt"] == len(first["in_doubt_keys"])
    assert first["accepted"] + first["in_doubt"] == ORDERS  # 429s were retried, drops were not
    counts = events_project.order_counts()
    assert set(counts.values()) == {1}
    doubtful = set(first["in_doubt_keys"])
    assert {str(k) for k in range(1, ORDERS + 1)} - {str(k) for k in counts} == doubtful
    events_project.set_faults()
    resent = events_project.run_json("orders", "--resend-in-doubt")
    assert (resent["in_doubt_resent"], resent["in_doubt"]) == (len(doubtful), 0)
    assert resent["sent"] == len(doubtful)
    assert set(events_project.order_counts()) == set(range(1, ORDERS + 1))
    listed = events_project.cli_json("in-doubt", "orders")
    assert {r["action"] for r in listed} == {"pending", "resent"}
    assert {r["sync_key"] for r in listed if r["action"] == "resent"} == doubtful


def test_in_doubt_keys_are_skipped_by_default(events_project: EventProject) -> None:
    events_project.configure_events(batch_size=25)
    events_project.set_faults(drop_rate=0.5, seed=8)
    first = events_project.run_json("orders")
    assert first["in_doubt"] > 0
    events_project.set_faults()
    second = events_project.run_json("orders")
    assert (second["in_doubt_skipped"], second["in_doubt"]) == (first["in_doubt"], 0)
    listed = events_project.cli_json("in-doubt", "orders")
    skipped = {r["sync_key"] for r in listed if r["action"] == "skipped"}
    assert skipped == set(first["in_doubt_keys"])
    assert second["sent"] == 0  # marked as seen, not resent: no event is ever duplicated
    assert len(events_project.events()) == ORDERS - first["in_doubt"]


def test_full_on_an_event_sync_is_refused_unless_events_are_to_be_resent(
    events_project: EventProject,
) -> None:
    """`run --full` on events used to resend (and so duplicate) every event, silently."""
    events_project.run_json("orders")
    refused = events_project.cli("run", "orders", "--full")
    assert refused.returncode == 2
    assert "duplicated" in refused.stderr and "--resend-events" in refused.stderr
    assert len(events_project.events()) == ORDERS
    assert len(events_project.cli_json("runs", "orders")) == 1  # no run was started
    resent = events_project.run_json("orders", "--full", "--resend-events")
    assert (resent["status"], resent["sent"]) == ("succeeded", ORDERS)
    assert set(events_project.order_counts().values()) == {2}  # asked for, and said so
