"""Scheduled runs for ``syncline serve``: schedule parsing, an injectable clock, the scheduler."""

from __future__ import annotations

from syncline.scheduler.clock import Clock, ManualClock, SystemClock
from syncline.scheduler.project import schedules_of
from syncline.scheduler.schedule import CronSchedule, IntervalSchedule, Schedule, parse_schedule
from syncline.scheduler.scheduler import ScheduledSync, Scheduler

__all__ = [
    "Clock",
    "CronSchedule",
    "IntervalSchedule",
    "ManualClock",
    "Schedule",
    "ScheduledSync",
    "Scheduler",
    "SystemClock",
    "parse_schedule",
    "schedules_of",
]
