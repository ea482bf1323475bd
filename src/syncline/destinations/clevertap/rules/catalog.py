"""CleverTap's rules as data: limits, codes, messages, field tables (no checks, no I/O).

Each rule says where it comes from (``docs/clevertap.md`` §2–§3):
*documented* (CleverTap's own pages), *observed* (answers recorded from CleverTap), or *our
choice* (CleverTap documents nothing; we picked the loosest reading we could defend).

* ``Phone``: documented "should be formatted as +[country code][phone number]" (Upload User
  Profiles). Our choice within that: a ``+``, then 2 to 15 digits (E.164's maximum) with the
  first not 0; spaces, dots, dashes and brackets between digits are allowed, since the docs do
  not forbid them (CleverTap's CSV upload page shows a number written "01 123 111 0123").
  Observed refused: ``"223"``, ``"123"``, ``"+44+441234"``.
* ``Gender``: documented "Can be either M or F" (CleverTap's SDK docs); no other value is
  documented, so "Male", "O" or "x" are refused with 514. Normalising words to M/F happens
  before validation, in ``records``.
* ``Email``: CleverTap documents no format; observed refused ``"$$$$$"`` and ``"1234"``. Our
  choice: something@something.tld, no spaces (``EMAIL_RE``).
* ``Employed``/``Married`` Y/N, ``Education`` School/College/Graduate: documented (SDK docs).
* ``profileData`` missing or not an object → 512 "Invalid profile structure": our choice.
* key names with forbidden characters, keys over 120 bytes, string values over 512 bytes and
  nested values → 512 for events and profiles alike (documented limits; the 512 code and the
  ``field`` naming the key are our choice).
* restricted and discarded event names are compared case- and space-insensitively
  (documented).
* ``ts``: int, integer-valued float or digit string, in ``[1, now + 1 day]``; ≥ 1e12 (ms) → 525
  (documented epoch seconds; the bounds are our choice).
* event properties: at most ``DEFAULT_MAX_EVENT_PROPERTIES`` (100, "configurable per account",
  documented 2026; older pages said 256).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "DEFAULT_MAX_EVENT_PROPERTIES",
    "EMAIL_RE",
    "MAX_CHARGED_ITEMS",
    "MAX_CONCURRENT_UPLOADS",
    "MAX_DELETES_PER_REQUEST",
    "MAX_KEY_LENGTH",
    "MAX_RECORDS_PER_UPLOAD",
    "MAX_VALUE_BYTES",
    "MESSAGES",
    "PHONE_RE",
    "RESTRICTED_EVENT_NAMES",
    "STANDARD_PROFILE_FIELDS",
    "FieldRule",
    "Violation",
    "error_text",
    "parse_error_text",
    "violation",
]

MAX_RECORDS_PER_UPLOAD: Final = 1000
MAX_CONCURRENT_UPLOADS: Final = 15
# CleverTap's Delete User Profile API: "a maximum of 100 values per identity array and a maximum
# of 100 values per guid array per request" [documented]
MAX_DELETES_PER_REQUEST: Final = 100
MAX_KEY_LENGTH: Final = 120
MAX_VALUE_BYTES: Final = 512
MAX_CHARGED_ITEMS: Final = 256
MAX_IDENTITY_LENGTH: Final = 1024
MAX_TS_AHEAD_SECONDS: Final = 86_400
MS_THRESHOLD: Final = 10**12
DEFAULT_MAX_EVENT_PROPERTIES: Final = 100

IDENTITY_KEYS: Final = ("identity", "objectId", "FBID", "GPID")
RECORD_TYPES: Final = frozenset({"profile", "event", "token"})
VALUE_OPERATORS: Final = frozenset({"$add", "$remove", "$incr", "$decr", "$delete", "$set"})

# CleverTap's CSV import docs: identity values CleverTap refuses (compared lower-case).
FORBIDDEN_IDENTITIES: Final = frozenset(
    {
        "undefined", "null", "na", "n/a", "0", "nil", "-1", "infinity", "-infinity", "inf",
        "-inf", "nan", "-nan", "empty", "xxxxxx", "none",
    }
)  # fmt: skip

# CleverTap's platform docs: reserved system events, plus "Web Page Viewed" observed rejected
# in production traffic.
RESTRICTED_EVENT_NAMES: Final[frozenset[str]] = frozenset(
    {
        "Notification Sent", "Notification Viewed", "Notification Clicked",
        "Notification Delivered", "Notification Replied", "UTM Visited", "App Launched",
        "App Uninstalled", "App Version Changed", "Stayed", "Reply Sent",
        "Experiment Rendered", "Reachable By", "Identity Reset", "Identity Set",
        "Identity Error", "Web Page Viewed",
    }
)  # fmt: skip

# CleverTap's predefined profile fields and the type Syncline sends them as. Documented: the
# Upload User Profiles example and the SDK pages (MSG-email/-push/-sms/-whatsapp, MSG-dndPhone,
# MSG-dndEmail); `Timezone` and `MSG-push-all` are listed system properties. No `Tz` key is
# documented for the API, so a time zone column maps to `Timezone`.
STANDARD_PROFILE_FIELDS: Final[Mapping[str, str]] = {
    "Name": "string",
    "Email": "string",
    "Phone": "string",
    "Gender": "string",
    "Employed": "string",
    "Education": "string",
    "Married": "string",
    "Age": "number",
    "DOB": "date",
    "Photo": "string",
    "Identity": "string",
    "Timezone": "string",
    "MSG-email": "boolean",
    "MSG-push": "boolean",
    "MSG-push-all": "boolean",
    "MSG-sms": "boolean",
    "MSG-whatsapp": "boolean",
    "MSG-dndPhone": "boolean",
    "MSG-dndEmail": "boolean",
}

# CleverTap's platform docs: characters not allowed in event names and property keys
# ('#' for profiles only).
EVENT_KEY_FORBIDDEN: Final = frozenset("%><!|&.:;$'\"\\")
PROFILE_KEY_FORBIDDEN: Final = EVENT_KEY_FORBIDDEN | {"#"}
EMAIL_RE: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$")
# "+[country code][phone number]" (documented); separators between digits allowed (our choice)
PHONE_RE: Final = re.compile(r"^\+[1-9](?:[ .()-]*[0-9]){1,14}$")
OBJECT_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SUFFIX_RE: Final = re.compile(
    r"^(?P<msg>.*?)(?:\. |\.| )?Skipped record number : (?P<n>\d+)$", re.S
)

PROFILE: Final = "Profile data is incorrect. "


def _event(code: int, detail: str) -> str:
    return f"Event Name is incorrect. ErrorCode: {code} - {detail}"


def _event_data(code: int, detail: str) -> str:
    return f"Event data is incorrect. ErrorCode: {code} - {detail}"


# code -> exact message before the record-number suffix (observed wording where recorded,
# API Errors page's short text in the same pattern otherwise; ``docs/clevertap.md`` §3.2).
MESSAGES: Final[Mapping[int, str]] = {
    509: _event(509, "Event name is mandatory"),
    512: _event_data(512, "Invalid event structure"),
    513: _event(513, "Trying to raise a restricted system event"),
    514: PROFILE + "Gender is not valid",
    515: PROFILE + "Email is not valid",
    516: PROFILE + "Phone number is not valid",
    517: PROFILE + "Employed needs to be Y/N",
    518: PROFILE + "Education needs to be School/College/Graduate.",
    519: PROFILE + "Married needs to be Y/N",
    520: PROFILE + "Age is invalid",
    522: _event_data(522, "Event properties limit exceeded"),
    523: "Missing identity",
    524: "Data neither event nor profile",
    525: "Timestamp should be present in the Unix Epoch format",
    526: "objectId invalid",
    528: _event(528, "Discarded event is raised"),
    555: "Miscellaneous server error",
}
PROFILE_STRUCTURE_MESSAGE: Final = PROFILE + "Invalid profile structure"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: CleverTap's code, its message (without the suffix), the key at fault.

    ``in_data`` says the key is one property of ``profileData``/``evtData``: the record stays
    valid without it (``on_invalid_field: drop_field``). It is not part of equality.
    """

    code: int
    message: str
    field: str | None
    in_data: bool = dataclasses.field(default=False, compare=False)


def violation(code: int, key: str | None, *, in_data: bool = False) -> Violation:
    """The violation of ``code`` at ``key``, with CleverTap's message."""
    return Violation(code, MESSAGES[code], key, in_data)


def error_text(v: Violation, record_number: int) -> str:
    """The full wire ``error`` string, with CleverTap's exact separator for the message kind.

    Profile messages are glued with "." and no space ("…not valid.Skipped record number : 2";
    518's own trailing period gives its recorded double period); others use ". ".
    """
    sep = "." if v.message.startswith(PROFILE) else ". "
    return f"{v.message}{sep}Skipped record number : {record_number}"


def parse_error_text(text: str) -> tuple[str, int | None]:
    """Inverse of :func:`error_text`: ``(message, 1-based record number or None)``."""
    m = _SUFFIX_RE.match(text)
    if m is None:
        return text, None
    return m.group("msg"), int(m.group("n"))


@dataclass(frozen=True, slots=True)
class FieldRule:
    """A standard profile field's check and the code CleverTap answers when it fails."""

    code: int
    check: Callable[[Any], bool]


# allowed values of the standard fields that take a fixed set (documented in the SDK pages)
FIELD_CHOICES: Final[Mapping[str, frozenset[str]]] = {
    "Gender": frozenset({"M", "F"}),
    "Employed": frozenset({"Y", "N"}),
    "Education": frozenset({"School", "College", "Graduate"}),
    "Married": frozenset({"Y", "N"}),
}
