"""The sandbox's shared state: accounts, store, faults, in-flight counters, async queries."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncline_sandbox.accounts import Account
from syncline_sandbox.faults import FaultPlan, Faults
from syncline_sandbox.store import Store

__all__ = ["SandboxState"]


@dataclass
class SandboxState:
    """Everything the routes share; one per app."""

    accounts: dict[str, Account]
    store: Store
    plans: dict[str, FaultPlan] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    pending: dict[int, dict[str, Any]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(384649162721759))

    @classmethod
    def build(
        cls,
        accounts: Iterable[Account],
        data_dir: Path | None,
        faults: Mapping[str, Faults] | None = None,
    ) -> SandboxState:
        state = cls({a.id: a for a in accounts}, Store(data_dir))
        for account_id, f in (faults or {}).items():
            state.set_faults(account_id, f)
        return state

    def plan(self, account_id: str) -> FaultPlan:
        return self.plans.setdefault(account_id, FaultPlan())

    def set_faults(self, account_id: str, faults: Faults) -> None:
        """Replace an account's faults; the schedule restarts from the seed."""
        self.plans[account_id] = FaultPlan(faults)
