"""When a sync is due: ``every 15m`` intervals and cron expressions in a time zone.

A schedule answers one question, ``next_after(instant)``, always with an aware UTC datetime, so
the scheduler never compares wall-clock times (which repeat or vanish when clocks change).

Daylight-saving rule for cron schedules, stated because cron implementations differ:

* a wall-clock time skipped when clocks go forward (02:30 in Paris on the last Sunday of March)
  fires at the first instant after the gap (03:00 local);
* a wall-clock time that happens twice when clocks go back fires once, at its first occurrence,
  so a daily ``30 2 * * *`` job never runs twice in one night.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from syncline.errors import ConfigError

__all__ = ["CronSchedule", "IntervalSchedule", "Schedule", "parse_schedule"]

_INTERVAL = re.compile(r"^every\s+(\d+)\s*([smhd])$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EXAMPLES = "`every 15m`, `every 1h`, `every 30s`, `every 1d` or a cron expression like `0 * * * *`"


class Schedule(Protocol):
    """A rule that says when a sync is next due."""

    @property
    def text(self) -> str:
        """The expression as the user wrote it (shown on pages and in errors)."""
        ...

    def next_after(self, instant: datetime) -> datetime:
        """The first due instant strictly after ``instant`` (aware, UTC)."""
        ...


@dataclass(frozen=True)
class IntervalSchedule:
    """Every N seconds, counted from the previous due instant (no wall-clock alignment)."""

    seconds: int
    text: str = ""

    def next_after(self, instant: datetime) -> datetime:
        return _utc(instant) + timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class CronSchedule:
    """A five-field cron expression read in a time zone (``Europe/Paris``; UTC by default)."""

    expression: str
    timezone: str = "UTC"
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", _zone(self.timezone, self.expression))

    @property
    def text(self) -> str:
        return self.expression if self.timezone == "UTC" else f"{self.expression} ({self.timezone})"

    def next_after(self, instant: datetime) -> datetime:
        cursor = croniter(self.expression, _utc(instant).astimezone(self._zone))
        while True:
            candidate = _utc(cursor.get_next(datetime))
            if not self._is_repeat(candidate):
                return candidate

    def _is_repeat(self, candidate: datetime) -> bool:
        """True for the second occurrence of a wall-clock time when clocks went back."""
        wall = candidate.astimezone(self._zone).replace(tzinfo=None)
        first = wall.replace(tzinfo=self._zone, fold=0).astimezone(UTC)
        return first != candidate


def parse_schedule(text: str, timezone: str | None = None) -> IntervalSchedule | CronSchedule:
    """Read a sync's ``schedule:`` value.

    Args:
        text: ``every <n><s|m|h|d>`` or a cron expression (five fields, or ``@hourly``...).
        timezone: IANA zone name the cron expression is read in; UTC when omitted. Intervals
            do not depend on a time zone.

    Raises:
        ConfigError: the expression or the time zone is not valid, naming it and an example.
    """
    stripped = " ".join(text.split())
    match = _INTERVAL.match(stripped)
    if match:
        seconds = int(match.group(1)) * _UNITS[match.group(2).lower()]
        if seconds <= 0:
            raise ConfigError(f"schedule `{text}`: the interval must be positive, e.g. `every 15m`")
        return IntervalSchedule(seconds=seconds, text=stripped)
    if stripped.lower().startswith("every"):
        raise ConfigError(
            f"schedule `{text}` is not a valid interval: write `every <number><unit>` with unit "
            f"s, m, h or d, e.g. `every 15m`"
        )
    if len(stripped.split()) not in (1, 5) or not croniter.is_valid(stripped):
        raise ConfigError(
            f"schedule `{text}` is neither an interval nor a valid five-field cron expression "
            f"(minute hour day-of-month month day-of-week); use {_EXAMPLES}"
        )
    return CronSchedule(expression=stripped, timezone=timezone or "UTC")


def _zone(name: str, expression: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"schedule `{expression}`: unknown time zone `{name}`; use an IANA name such as "
            f"`Europe/Paris`, `America/New_York` or `UTC`"
        ) from exc


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("schedules work on aware datetimes; got a naive one")
    return instant.astimezone(UTC)
