"""Read every sync's ``schedule:`` from a project, reporting all bad ones at once."""

from __future__ import annotations

from collections.abc import Mapping

from syncline.config.models import SyncConfig
from syncline.errors import ConfigError
from syncline.scheduler.schedule import CronSchedule, IntervalSchedule, parse_schedule

__all__ = ["schedules_of"]


def schedules_of(
    syncs: Mapping[str, SyncConfig], default_timezone: str | None = None
) -> dict[str, IntervalSchedule | CronSchedule]:
    """The schedule of each scheduled sync (manual-only syncs are left out).

    A sync's own ``timezone`` (when ``SyncConfig`` has one) wins over ``default_timezone``.

    Raises:
        ConfigError: one line per sync whose schedule or time zone is invalid, each naming
            the sync, so a user fixes them all in one pass.
    """
    found: dict[str, IntervalSchedule | CronSchedule] = {}
    problems: list[str] = []
    for name, sync in sorted(syncs.items()):
        if not sync.schedule:
            continue
        zone = getattr(sync, "timezone", None) or default_timezone
        try:
            found[name] = parse_schedule(sync.schedule, timezone=zone)
        except ConfigError as exc:
            problems.append(f"sync `{name}`: {exc}")
    if problems:
        raise ConfigError("\n".join(problems))
    return found
