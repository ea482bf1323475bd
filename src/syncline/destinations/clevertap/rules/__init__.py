"""CleverTap's record rules, in one place: used by the sandbox server and by our client's
local validator, so a record Syncline rejects before sending gets the same code and text
CleverTap would have returned. ``docs/clevertap.md`` (§2–§3) says where each rule comes
from: CleverTap's documentation, observed behaviour, or our choice.

No I/O here. Three modules: ``catalog`` (the rules as data: limits, codes, messages, field
tables, and where each rule comes from), ``checks`` (the exact checks, in CleverTap's order)
and ``fast`` (a cheap test that a record is surely valid, the common case).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from syncline.destinations.clevertap.rules.catalog import (
    DEFAULT_MAX_EVENT_PROPERTIES,
    MAX_CHARGED_ITEMS,
    MAX_CONCURRENT_UPLOADS,
    MAX_DELETES_PER_REQUEST,
    MAX_KEY_LENGTH,
    MAX_RECORDS_PER_UPLOAD,
    MAX_VALUE_BYTES,
    MESSAGES,
    RESTRICTED_EVENT_NAMES,
    STANDARD_PROFILE_FIELDS,
    Violation,
    error_text,
    parse_error_text,
)
from syncline.destinations.clevertap.rules.checks import faults, normalize_event_name
from syncline.destinations.clevertap.rules.fast import fast_ok

__all__ = [
    "DEFAULT_MAX_EVENT_PROPERTIES",
    "MAX_CHARGED_ITEMS",
    "MAX_CONCURRENT_UPLOADS",
    "MAX_DELETES_PER_REQUEST",
    "MAX_KEY_LENGTH",
    "MAX_RECORDS_PER_UPLOAD",
    "MAX_VALUE_BYTES",
    "MESSAGES",
    "RESTRICTED_EVENT_NAMES",
    "STANDARD_PROFILE_FIELDS",
    "Violation",
    "error_text",
    "normalize_event_name",
    "parse_error_text",
    "validate_all",
    "validate_record",
    "validate_records",
]


def validate_all(
    record: Mapping[str, Any] | Any,
    *,
    max_event_properties: int = DEFAULT_MAX_EVENT_PROPERTIES,
    discarded_events: frozenset[str] = frozenset(),
    now: float | None = None,
) -> list[Violation]:
    """Every rule ``record`` breaks, the first being the one CleverTap answers; [] if valid."""
    if type(record) is dict and fast_ok(record, max_event_properties, discarded_events, now):
        return []
    return faults(record, max_event_properties=max_event_properties,
                  discarded_events=discarded_events,
                  now=time.time() if now is None else now)  # fmt: skip


def validate_record(
    record: Mapping[str, Any] | Any,
    *,
    max_event_properties: int = DEFAULT_MAX_EVENT_PROPERTIES,
    discarded_events: frozenset[str] = frozenset(),
    now: float | None = None,
) -> Violation | None:
    """The first rule ``record`` (one element of ``d``) breaks, in CleverTap's order, or None.

    ``max_event_properties`` is per account (100 by default, documented as configurable);
    ``discarded_events`` are names discarded in the dashboard; ``now`` (epoch seconds) bounds
    future timestamps.
    """
    if type(record) is dict and fast_ok(record, max_event_properties, discarded_events, now):
        return None
    found = faults(record, max_event_properties=max_event_properties,
                   discarded_events=discarded_events,
                   now=time.time() if now is None else now, every=False)  # fmt: skip
    return found[0] if found else None


def validate_records(
    records: Sequence[Any],
    *,
    max_event_properties: int = DEFAULT_MAX_EVENT_PROPERTIES,
    discarded_events: frozenset[str] = frozenset(),
    now: float | None = None,
) -> dict[int, Violation]:
    """:func:`validate_record` over one upload's ``d``: ``{0-based position: violation}``.

    Valid records are absent, so the common answer is ``{}``; a server checking a thousand
    records an upload then pays one call instead of one per record.
    """
    found: dict[int, Violation] = {}
    for position, record in enumerate(records):
        if type(record) is dict and fast_ok(record, max_event_properties, discarded_events, now):
            continue
        violation = validate_record(
            record,
            max_event_properties=max_event_properties,
            discarded_events=discarded_events,
            now=now,
        )
        if violation is not None:
            found[position] = violation
    return found
