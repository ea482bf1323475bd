"""Sandbox accounts: id, passcodes, optional region (docs/clevertap.md §1, §2.1, §7)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from syncline.destinations.clevertap.rules import DEFAULT_MAX_EVENT_PROPERTIES

__all__ = ["Account", "load_accounts_file", "parse_account", "region_from_host"]

REGIONS = frozenset({"eu1", "in1", "sg1", "us1", "aps3", "mec1", "sk1"})


@dataclass(frozen=True)
class Account:
    """One CleverTap account; ``region`` None accepts every regional host.

    ``discarded_events`` (names discarded in the dashboard → 528) and ``max_event_properties``
    (100 by default, documented as configurable → 522) are per-account settings in CleverTap.
    """

    id: str
    passcodes: frozenset[str] = field(default_factory=frozenset)
    region: str | None = None
    discarded_events: frozenset[str] = field(default_factory=frozenset)
    max_event_properties: int = DEFAULT_MAX_EVENT_PROPERTIES

    def __init__(
        self,
        id: str,
        passcodes: Iterable[str],
        region: str | None = None,
        *,
        discarded_events: Iterable[str] = (),
        max_event_properties: int = DEFAULT_MAX_EVENT_PROPERTIES,
    ) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "passcodes", frozenset(passcodes))
        object.__setattr__(self, "region", region)
        object.__setattr__(self, "discarded_events", frozenset(discarded_events))
        object.__setattr__(self, "max_event_properties", max_event_properties)


def parse_account(text: str) -> Account:
    """Parse ``"ID:PASSCODE[:REGION]"`` (the CLI's ``--account``)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError(f"account {text!r} must look like ID:PASSCODE or ID:PASSCODE:REGION")
    region = parts[2] if len(parts) == 3 and parts[2] else None
    if region is not None and region not in REGIONS:
        raise ValueError(f"account {text!r}: region must be one of {sorted(REGIONS)}")
    return Account(parts[0], {parts[1]}, region)


def load_accounts_file(path: Path) -> list[Account]:
    """Read a YAML/JSON list of ``{id, passcode|passcodes, region}`` or ``"ID:PASS"`` strings."""
    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of accounts")
    accounts = []
    for item in raw:
        if isinstance(item, str):
            accounts.append(parse_account(item))
        elif isinstance(item, dict) and "id" in item:
            codes = item.get("passcodes") or [item.get("passcode")]
            accounts.append(
                Account(
                    str(item["id"]),
                    [str(c) for c in codes if c],
                    item.get("region"),
                    discarded_events=item.get("discarded_events", ()),
                    max_event_properties=int(
                        item.get("max_event_properties", DEFAULT_MAX_EVENT_PROPERTIES)
                    ),
                )
            )
        else:
            raise ValueError(f"{path}: each account needs an id and a passcode, got {item!r}")
    return accounts


def region_from_host(host: str | None) -> str | None:
    """The region a Host header names, or None when it names no CleverTap region (loopback)."""
    if not host:
        return None
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    name = name.lower()
    if name == "api.clevertap.com":
        return "eu1"
    if name.endswith(".api.clevertap.com"):
        return name.removesuffix(".api.clevertap.com")
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None
    return None
