"""Seeded fault injection for ``/1/upload`` and deletes (tests and benchmarks must repeat)."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["AnswerFault", "FaultPlan", "Faults", "UploadFault"]

UploadFault = Literal["none", "429", "500", "503", "drop"]
AnswerFault = Literal["none", "inconsistent", "unknown_code", "no_record_number"]
"""A 200 answer Syncline must not believe (not CleverTap's documented shape; our test modes):
``inconsistent`` stores the batch but answers ``{"status": "fail"}`` (no counts);
``unknown_code`` leaves the batch's first record unprocessed with a code CleverTap does not
document; ``no_record_number`` leaves it unprocessed with a text that names no record."""


@dataclass(frozen=True, slots=True)
class Faults:
    """What goes wrong, and how often, for one account.

    ``burst_429`` = N answers every Nth upload with 429; rates are shares in [0, 1];
    ``bad_answer`` is given to a ``bad_answer_rate`` share of the uploads that get through.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    burst_429: int = 0
    drop_rate: float = 0.0
    reject_rate: float = 0.0
    delete_error_rate: float = 0.0
    """Share of ``/1/delete/profiles.json`` requests answered 503 (nothing deleted)."""
    bad_answer: AnswerFault = "none"
    bad_answer_rate: float = 0.0
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultPlan:
    """The running schedule for one account: a seeded RNG and an upload counter."""

    faults: Faults = field(default_factory=Faults)
    uploads: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    """Uploads answered with each fault so far (``"429"``, ``"500"``, ``"503"``, ``"drop"``)."""
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.faults.seed)

    def next_upload(self) -> UploadFault:
        """Decide the fate of the next upload (request level)."""
        self.uploads += 1
        fault = self._draw()
        if fault != "none":
            self.injected[fault] = self.injected.get(fault, 0) + 1
        return fault

    def _draw(self) -> UploadFault:
        f = self.faults
        if f.burst_429 and self.uploads % f.burst_429 == 0:
            return "429"
        if f.drop_rate and self.rng.random() < f.drop_rate:
            return "drop"
        if f.error_rate and self.rng.random() < f.error_rate:
            return "500" if self.rng.random() < 0.5 else "503"
        return "none"

    def delete_fails(self) -> bool:
        """Whether the next delete request fails with 503."""
        rate = self.faults.delete_error_rate
        return bool(rate) and self.rng.random() < rate
    def next_answer(self) -> AnswerFault:
        """Whether this upload's 200 answer is to be one Syncline must not believe."""
        f = self.faults
        if f.bad_answer != "none" and f.bad_answer_rate and self.rng.random() < f.bad_answer_rate:
            return f.bad_answer
        return "none"

    def reject_record(self) -> bool:
        """Whether a valid record fails with 555 anyway."""
        return bool(self.faults.reject_rate) and self.rng.random() < self.faults.reject_rate
