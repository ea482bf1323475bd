"""Schedule expressions: intervals, cron in a time zone (DST included), and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncline.errors import ConfigError
from syncline.scheduler import CronSchedule, IntervalSchedule, parse_schedule


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("every 30s", 30), ("every 15m", 900), ("every 1h", 3600), ("every 1d", 86400),
     ("  every   2H ", 7200)],
)
def test_intervals_parse(text: str, seconds: int) -> None:
    schedule = parse_schedule(text)
    assert schedule == IntervalSchedule(seconds=seconds, text=" ".join(text.split()))
    assert schedule.next_after(utc(2026, 1, 1)) == utc(2026, 1, 1) + timedelta(seconds=seconds)


def test_cron_in_paris_fires_at_the_right_utc_instant_across_dst() -> None:
    schedule = parse_schedule("0 9 * * *", timezone="Europe/Paris")
    # winter (UTC+1) then summer (UTC+2): clocks went forward on 2026-03-29
    assert schedule.next_after(utc(2026, 3, 27, 12)) == utc(2026, 3, 28, 8)
    assert schedule.next_after(utc(2026, 3, 28, 8)) == utc(2026, 3, 29, 7)
    assert schedule.next_after(utc(2026, 10, 24, 8)) == utc(2026, 10, 25, 8)  # back to UTC+1


def test_hourly_cron_in_a_time_zone() -> None:
    schedule = parse_schedule("0 * * * *", timezone="Asia/Kolkata")  # UTC+5:30
    assert schedule.next_after(utc(2026, 5, 1, 10, 0)) == utc(2026, 5, 1, 10, 30)


def test_wall_time_skipped_by_spring_forward_fires_after_the_gap() -> None:
    schedule = parse_schedule("30 2 * * *", timezone="Europe/Paris")
    # 02:30 does not exist on 2026-03-29 in Paris: fires at 03:00 CEST = 01:00 UTC
    assert schedule.next_after(utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1)


def test_wall_time_repeated_by_fall_back_fires_once() -> None:
    schedule = parse_schedule("30 2 * * *", timezone="Europe/Paris")
    first = schedule.next_after(utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    assert schedule.next_after(first) == utc(2026, 10, 26, 1, 30)  # not 02:30 CET the same night


def test_cron_defaults_to_utc_and_shows_its_zone() -> None:
    assert parse_schedule("*/5 * * * *").next_after(utc(2026, 1, 1, 0, 1)) == utc(2026, 1, 1, 0, 5)
    assert isinstance(parse_schedule("@hourly"), CronSchedule)
    assert parse_schedule("0 * * * *", "Europe/Paris").text == "0 * * * * (Europe/Paris)"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("every 15 minutes", "every <number><unit>"),
        ("every 0m", "must be positive"),
        ("61 * * * *", "five-field cron"),
        ("0 * * *", "five-field cron"),
        ("0 * * * * *", "five-field cron"),
        ("hourly", "five-field cron"),
    ],
)
def test_invalid_expressions_name_the_expression_and_an_example(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_schedule(text)
    message = str(info.value)
    assert f"`{text}`" in message
    assert needle in message
    assert "every 15m" in message


def test_unknown_time_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown time zone `Mars/Olympus`.*Europe/Paris"):
        parse_schedule("0 * * * *", timezone="Mars/Olympus")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_schedule("every 1m").next_after(datetime(2026, 1, 1))
