"""Schedules read from a project's syncs: all errors at once, each naming its sync."""

from __future__ import annotations

import pytest

from syncline.config.models import SyncConfig
from syncline.errors import ConfigError
from syncline.scheduler import CronSchedule, IntervalSchedule, schedules_of


def sync(schedule: str | None) -> SyncConfig:
    return SyncConfig.model_validate(
        {"source": "wh", "model": {"table": "main.users"}, "destination": "ct",
         "object": "profile", "sync_key": "user_id", "schedule": schedule}
    )


def test_scheduled_syncs_are_read_and_manual_ones_left_out() -> None:
    found = schedules_of(
        {"a": sync("every 15m"), "b": sync("0 * * * *"), "c": sync(None)},
        default_timezone="Europe/Paris",
    )
    assert found == {
        "a": IntervalSchedule(seconds=900, text="every 15m"),
        "b": CronSchedule("0 * * * *", "Europe/Paris"),
    }


def test_every_invalid_schedule_is_reported_with_its_sync() -> None:
    with pytest.raises(ConfigError) as info:
        schedules_of({"a": sync("every soon"), "b": sync("every 1h"), "c": sync("99 * * * *")})
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("sync `a`: schedule `every soon`")
    assert lines[1].startswith("sync `c`: schedule `99 * * * *`")
