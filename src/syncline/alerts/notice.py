"""What an alert says: the same facts for every channel, worded once.

The webhook body (``Notice.payload``) is the documented contract (README, *Alerts*); Slack and
email get ``title`` and ``text``, which name the sync, the run, what happened, the counts and a
link to the run page when the project sets ``server_url``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["Notice"]

_HEADLINES = {
    "run_failed": "run failed",
    "rejected_percent_over": "too many rejected records",
    "in_doubt": "events left in doubt",
    "duration_over": "run took too long",
    "volume_change": "unusual volume",
    "not_succeeded_within": "no successful run",
    "test": "test alert",
}


@dataclass(frozen=True)
class Notice:
    """One alert, recovery or test message."""

    alert: str
    sync: str
    condition: str
    state: Literal["firing", "resolved", "test"]
    detail: str
    run_id: int | None = None
    run_status: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    url: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def title(self) -> str:
        what = _HEADLINES.get(self.condition, self.condition)
        if self.state == "resolved":
            return f"[Syncline] resolved: {self.sync}: {what}"
        if self.state == "test":
            return f"[Syncline] test alert from `{self.alert}`"
        return f"[Syncline] {self.sync}: {what}"

    @property
    def text(self) -> str:
        lines = [self.title.removeprefix("[Syncline] "), self.detail]
        if self.run_id is not None:
            lines.append(f"sync {self.sync}, run {self.run_id}"
                         + (f" ({self.run_status})" if self.run_status else ""))
        if self.counts:
            lines.append(", ".join(f"{k} {v:,}" for k, v in self.counts.items()))
        if self.error:
            lines.append(f"error: {self.error}")
        if self.url:
            lines.append(self.url)
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        """The webhook's JSON body."""
        return {
            "alert": self.alert, "sync": self.sync, "condition": self.condition,
            "state": self.state, "title": self.title, "text": self.text,
            "detail": self.detail, "run_id": self.run_id, "run_status": self.run_status,
            "counts": self.counts, "error": self.error, "url": self.url,
            "at": self.at.isoformat(),
        }
