"""Pydantic models of ``alerts:`` in ``syncline.yml``: where alerts go and when they fire.

An alert rule names one channel, the conditions that fire it, and the syncs it watches. A sync
may tighten or loosen the conditions of every rule that watches it (``alerts:`` on the sync),
so a project sets its defaults once and the noisy sync gets its own threshold.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = [
    "AlertChannel",
    "AlertConditions",
    "AlertRule",
    "AppriseChannel",
    "EmailChannel",
    "SlackChannel",
    "WebhookChannel",
    "parse_period",
]

_PERIOD = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_period(text: str) -> timedelta:
    """``90s``, ``15m``, ``26h``, ``2d`` → a timedelta (ValueError naming the accepted forms)."""
    match = _PERIOD.match(text)
    if match is None:
        raise ValueError(f"`{text}` is not a period: write a number and s, m, h or d (e.g. 26h)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class WebhookChannel(_Strict):
    """A generic HTTP endpoint: POSTs the JSON body documented in README (*Alerts*)."""

    type: Literal["webhook"]
    url: SecretStr
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    """Extra request headers, e.g. ``Authorization: Bearer ${TOKEN}``."""


class SlackChannel(_Strict):
    """A Slack incoming webhook (``https://hooks.slack.com/services/...``)."""

    type: Literal["slack"]
    webhook_url: SecretStr


class EmailChannel(_Strict):
    """Mail through an SMTP server (STARTTLS when the server offers it and ``starttls``)."""

    type: Literal["email"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    ssl: bool = False
    """Implicit TLS (port 465) instead of STARTTLS."""

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class AppriseChannel(_Strict):
    """Any service Apprise knows (PagerDuty, Teams, Discord, Opsgenie, ...): its URL form."""

    type: Literal["apprise"]
    url: SecretStr


AlertChannel = Annotated[
    WebhookChannel | SlackChannel | EmailChannel | AppriseChannel,
    Field(discriminator="type"),
]


class AlertConditions(_Strict):
    """When an alert fires. Every condition is off unless set."""

    run_failed: bool | None = None
    """A run ended `failed` (the whole run: a wrong passcode, a lost snapshot, a crash)."""
    rejected_percent_over: float | None = Field(default=None, ge=0, le=100)
    """Rejected (and fields-dropped) records above this share of the rows the run planned."""
    in_doubt: bool | None = None
    """Any event left in doubt (its upload may or may not have reached CleverTap)."""
    duration_over: str | None = None
    """A run took longer than this period (``45m``)."""
    volume_change_factor: float | None = Field(default=None, gt=1)
    """Planned rows more than N× or less than 1/N of the median of the last runs."""
    volume_baseline_runs: int = Field(default=10, ge=3, le=100)
    """How many earlier runs make the volume median (at least 3 are needed to judge)."""
    not_succeeded_within: str | None = None
    """No successful run for this long (``26h``): judged by the server every minute and by
    ``syncline alerts check``."""

    @field_validator("duration_over", "not_succeeded_within")
    @classmethod
    def _period(cls, value: str | None) -> str | None:
        if value is not None:
            parse_period(value)
        return value

    def merged(self, override: AlertConditions | None) -> AlertConditions:
        """These conditions with a sync's own settings on top (only what the sync sets)."""
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_unset=True))


class AlertRule(_Strict):
    """One entry of ``alerts:``: a channel, its conditions, the syncs it watches."""

    channel: AlertChannel
    when: AlertConditions = Field(default_factory=lambda: AlertConditions(run_failed=True))
    syncs: Literal["all"] | list[str] = "all"

    def watches(self, sync: str) -> bool:
        return self.syncs == "all" or sync in self.syncs
