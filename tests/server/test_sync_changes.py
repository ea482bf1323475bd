"""What the edit's confirm step says an edit does to the next run (by the snapshot's rules)."""

from __future__ import annotations

from typing import Any

from syncline.config.models import SyncConfig
from syncline.server.project.sync_changes import changed_settings, snapshot_impact
from syncline.sources.base import Column

COLUMNS = [Column("order_id", "VARCHAR"), Column("user_id", "VARCHAR"),
           Column("amount", "DOUBLE")]
EVENT: dict[str, Any] = {
    "source": "wh", "model": {"table": "main.orders"}, "destination": "ct", "object": "event",
    "sync_key": "order_id", "identity_column": "user_id", "event_name": "Charged",
}


def sync(**changes: Any) -> SyncConfig:
    return SyncConfig.model_validate({**EVENT, **changes})


def test_an_unchanged_sync_has_nothing_to_say() -> None:
    assert snapshot_impact(sync(), sync(), COLUMNS) == ([], [])
    assert changed_settings(sync(), sync()) == []


def test_a_new_event_key_warns_of_duplicate_events() -> None:
    warnings, _ = snapshot_impact(sync(), sync(sync_key="user_id"), COLUMNS)
    assert len(warnings) == 1 and "CleverTap will hold each event twice" in warnings[0]
    assert changed_settings(sync(), sync(sync_key="user_id")) == [
        ("sync_key", '"order_id"', '"user_id"')]


def test_another_model_is_a_new_key_space() -> None:
    warnings, _ = snapshot_impact(sync(), sync(model={"query": "SELECT 1"}), None)
    assert "keyed by `order_id` values of wh `main.orders`" in warnings[0]


def test_moving_off_a_dbt_model_names_the_model() -> None:
    warnings, _ = snapshot_impact(sync(model={"dbt": "orders"}), sync(), None)
    assert "keyed by `order_id` values of wh dbt model `orders`" in warnings[0]


def test_profiles_to_events_sends_nothing_for_rows_already_sent() -> None:
    profile = {"object": "profile", "identity_column": None, "event_name": None}
    warnings, _ = snapshot_impact(sync(**profile), sync(), COLUMNS)
    assert "will not raise an event" in warnings[0]


def test_an_event_mapping_change_applies_to_new_rows_only() -> None:
    renamed = sync(mappings={"sync_all": True, "columns": [{"from": "amount", "to": "Total"}]})
    warnings, notes = snapshot_impact(sync(), renamed, COLUMNS)
    assert warnings == [] and "only rows with new keys are sent" in notes[0]
