"""Which rows of a batch may break CleverTap's rules, decided by column rather than by record.

Checking each record with ``rules.validate_record`` costs microseconds a record, the largest
CPU cost of a large sync. Most rules hold or fail for a whole column at once: a key name is
checked once, a column of short strings cannot exceed the byte limit, a gender column holds
only "M" and "F". So the screen answers, per batch, the set of rows that *may* be invalid; the
engine checks exactly those with ``validate_record`` (same codes and messages as before) and
sends the rest unchecked.

The screen must never miss a row ``validate_record`` would reject; a false alarm only costs
one exact check. ``tests/destinations/test_screen.py`` holds it to that on generated batches.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa

from syncline.destinations.base import RecordColumns
from syncline.destinations.clevertap import multivalue, rules
from syncline.destinations.clevertap.rules import catalog, checks
from syncline.lazy import lazy_module

if TYPE_CHECKING:
    import pyarrow.compute as pc
else:  # loaded on first use (syncline/lazy.py): a run with nothing to send never needs it
    pc = lazy_module("pyarrow.compute")

__all__ = ["suspects"]

_SHORT: Final = catalog.MAX_VALUE_BYTES // 4  # this many characters fit the byte limit
_SCALARS: Final = frozenset({int, float, bool})
# rules whose check is a regex match on a string: one pass of Arrow's RE2 or of `map`
_PATTERNS: Final = {"Email": catalog.EMAIL_RE, "Phone": catalog.PHONE_RE}


def suspects(
    columns: RecordColumns, *, max_event_properties: int = catalog.DEFAULT_MAX_EVENT_PROPERTIES,
    discarded_events: frozenset[str] = frozenset(), now: float,
) -> set[int]:  # fmt: skip
    """Rows of ``columns`` that may break a rule; every other row is valid."""
    n = len(columns.identities)
    everything = set(range(n))
    out = (
        set()
        if _arrow_identities_fine(columns.identities_array, columns.identity_field)
        else _identity_suspects(columns.identities, columns.identity_field)
    )
    profile = columns.object == "profile"
    forbidden = catalog.PROFILE_KEY_FORBIDDEN if profile else catalog.EVENT_KEY_FORBIDDEN
    if not profile and columns.items is not None and "Items" in columns.properties:
        return everything  # a mapped field named Items and an items column: let the rules say
    for field, values in columns.properties.items():
        if not checks.key_ok(field, forbidden):
            return everything
        array = columns.arrays.get(field)
        if profile and array is None and dict in set(map(type, values)):
            values = _operator_suspects(values, out)
        if array is None or not _arrow_fits(array):
            out.update(_value_suspects(values))
        if profile and field in checks.PROFILE_FIELD_RULES:
            out.update(_rule_suspects(field, values, array))
    if profile:
        return out
    present = len(columns.properties) + (columns.items is not None)
    if present > max_event_properties:
        return everything
    charged = _name_suspects(columns.event_names or [], discarded_events, out)
    if columns.timestamps is not None:
        out.update(_ts_suspects(columns.timestamps, now))
    if columns.items_array is not None and _arrow_items_fine(columns.items_array):
        out.update(_rows_with_items(columns.items_array, charged))
    elif columns.items is not None:
        out.update(_listed_items_suspects(columns.items, charged))
    return out


def _arrow_items_fine(array: pa.Array) -> bool:
    """Every row's ``Items`` is a list CleverTap takes, judged on the Arrow column.

    Answers True only for a LIST of STRUCT of text, numbers and booleans (nulls allowed
    inside an item: a null is a valid value) with no null item, at most
    ``MAX_CHARGED_ITEMS`` items a row, field names that are valid keys and text within the
    byte limit: exactly what ``checks.items_ok`` asks of the Python lists Arrow gives. False
    means "cannot tell": the lists are then checked in Python.
    """
    kind = array.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return False
    struct = kind.value_type
    if not pa.types.is_struct(struct):
        return False
    items = array.flatten()  # the items of the rows that have some, offsets applied
    if len(items) == 0:  # empty lists only: no field name or value is ever sent
        return True
    if items.null_count:  # a null item is None in Python, not an object
        return False
    names = [f.name for f in struct]
    if len(set(names)) != len(names) or not all(
        checks.key_ok(name, catalog.EVENT_KEY_FORBIDDEN) for name in names
    ):  # fmt: skip
        return False
    longest = pc.max(pc.list_value_length(array)).as_py()
    if longest is not None and longest > catalog.MAX_CHARGED_ITEMS:
        return False
    for values in items.flatten():  # one array per field, the struct's offset applied
        if not _arrow_fits(values) and not pa.types.is_null(values.type):
            return False
    return True


def _rows_with_items(array: pa.Array, charged: Collection[int]) -> Iterable[int]:
    """Rows that have ``Items`` but are not Charged events (Items is then a plain property,
    and a list is not a value CleverTap takes)."""
    if isinstance(charged, range) and len(charged) == len(array):
        return ()
    rows = (range(len(array)) if array.null_count == 0
            else pc.indices_nonzero(pc.is_valid(array)).to_pylist())  # fmt: skip
    return (i for i in rows if i not in charged)


def _listed_items_suspects(items: list[Any], charged: Collection[int]) -> Iterable[int]:
    """Rows whose ``Items`` may be refused, from the Python lists: checked over all the
    batch's items at once, or record by record when that fails."""
    rows = [i for i, row in enumerate(items) if row is not None]
    lists = [items[i] for i in rows]
    if not set(map(type, lists)) <= {list}:
        return (i for i in rows if i not in charged or not checks.items_ok(items[i]))
    flat = list(itertools.chain.from_iterable(lists))
    fine = (
        max(map(len, lists), default=0) <= catalog.MAX_CHARGED_ITEMS
        and set(map(type, flat)) <= {dict}
        and all(checks.key_ok(k, catalog.EVENT_KEY_FORBIDDEN)
                for k in set(itertools.chain.from_iterable(flat)))
        and not tuple(_value_suspects(list(itertools.chain.from_iterable(map(dict.values, flat)))))
    )  # fmt: skip
    if fine:
        return (i for i in rows if i not in charged)
    return (i for i in rows if i not in charged or not checks.items_ok(items[i]))


def _arrow_identities_fine(array: pa.Array | None, field: str) -> bool:
    """Every identity passes ``checks.identity_ok``, judged on the Arrow text column.

    Only for printable ASCII (0x20-0x7E) without a null: there Python's ``strip`` removes
    only spaces, ``len`` counts bytes and ``lower`` is ASCII's, so Arrow's trim, byte length
    and lower case say exactly what the rule says. False means "cannot tell" (the Python
    path then decides). Four Arrow passes instead of four Python ones over the identities:
    about 0.1 CPU-s per 1M rows of W1 (bench/PROFILING.md, round two: W1 profiles by column).
    """
    if array is None or field == "objectId" or len(array) == 0 or array.null_count:
        return False
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return False
    if not pc.all(pc.ascii_is_printable(array)).as_py():
        return False
    stripped = pc.ascii_trim(array, characters=" ")
    lengths = pc.min_max(pc.binary_length(stripped))
    shortest, longest = lengths["min"].as_py(), lengths["max"].as_py()
    if not (shortest > 0 and longest < catalog.MAX_IDENTITY_LENGTH):
        return False
    lowered = pc.ascii_lower(stripped)
    return not pc.any(pc.is_in(lowered, value_set=_FORBIDDEN_IDENTITIES)).as_py()


_FORBIDDEN_IDENTITIES: Final = pa.array(sorted(catalog.FORBIDDEN_IDENTITIES), pa.string())


def _identity_suspects(identities: list[str], field: str) -> set[int]:
    if field == "objectId":
        return {i for i, v in enumerate(identities)
                if not (checks.identity_ok(v) and catalog.OBJECT_ID_RE.match(v))}
    stripped = list(map(str.strip, identities))
    fine = (
        not identities
        or (min(map(len, stripped)) > 0
            and max(map(len, stripped)) < catalog.MAX_IDENTITY_LENGTH
            and catalog.FORBIDDEN_IDENTITIES.isdisjoint(map(str.lower, stripped)))
    )  # fmt: skip
    if fine:
        return set()
    return {i for i, v in enumerate(identities) if not checks.identity_ok(v)}


def _arrow_fits(array: pa.Array) -> bool:
    """A column of numbers, booleans, or text within the byte limit (measured by Arrow)."""
    kind = array.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return True
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        longest = pc.max(pc.binary_length(array)).as_py()
        return longest is None or longest <= catalog.MAX_VALUE_BYTES
    return False


def _operator_suspects(values: list[Any], out: set[int]) -> list[Any]:
    """Add profile rows whose operator object (``$delete``, ``$set``...) the rules refuse to
    ``out``; answer the values without them, for the other checks (which skip operators)."""
    out.update(i for i, v in enumerate(values) if type(v) is dict and not multivalue.operator_ok(v))
    return [None if type(v) is dict else v for v in values]


def _value_suspects(values: list[Any]) -> Iterable[int]:
    """Values that are not short strings or plain scalars (the byte limit, nested values)."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if kinds <= {str} and max(map(len, filter(None, values)), default=0) <= _SHORT:
        return ()
    if kinds <= _SCALARS:
        return ()
    return (i for i, v in enumerate(values)
            if not (v is None or type(v) in _SCALARS or (type(v) is str and len(v) <= _SHORT)))


def _arrow_matches(field: str, array: pa.Array) -> bool:
    """Every value of a text column matches the field's pattern, as Arrow's RE2 reads it.

    RE2's ``$`` is stricter than Python's (no match before a final newline): a miss only costs
    the exact check. Its ``\\s`` is looser (ASCII space, tab, CR, LF, FF only), so an email
    column is judged here only when every value is printable ASCII (0x20-0x7E: none of the
    characters the two count differently, VT and \\x1c-\\x1f among them). One Arrow pass
    where an ASCII check and a regex were two, five times its cost (bench/PROFILING.md,
    round two: W1 profiles by column); a column with a tab or a non-ASCII email is then
    checked in Python instead.
    """
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return False
    if field == "Email" and pc.all(pc.ascii_is_printable(array)).as_py() is False:
        return False
    return pc.all(pc.match_substring_regex(array, _PATTERNS[field].pattern)).as_py() is not False


def _rule_suspects(field: str, values: list[Any], array: pa.Array | None) -> Iterable[int]:
    """Rows whose standard-field value may fail CleverTap's check for that field."""
    rule = checks.PROFILE_FIELD_RULES[field]
    if field in _PATTERNS and array is not None and _arrow_matches(field, array):
        return ()
    present = [v for v in values if v is not None]
    if field in _PATTERNS and set(map(type, present)) <= {str}:
        if all(map(_PATTERNS[field].match, present)):
            return ()
    elif field == "Age" and set(map(type, present)) <= _SCALARS - {bool}:
        if all(map(math.isfinite, present)):
            return ()
    else:
        try:
            bad = {v for v in set(present) if not rule.check(v)}
        except TypeError:  # unhashable values: check row by row
            bad = None
        if bad == set():
            return ()
    return (i for i, v in enumerate(values) if v is not None and not rule.check(v))


def _name_suspects(names: list[Any], discarded: frozenset[str], out: set[int]) -> Collection[int]:
    """Add rows whose event name CleverTap refuses to ``out``; answer the rows named Charged.

    One verdict per distinct name; a batch of one name (a sync's ``event_name``) needs no
    per-row work at all, and its answer is a ``range`` of every row or of none.
    """
    try:
        distinct = set(names)
    except TypeError:  # an unhashable name: row by row
        return _name_suspects_by_row(names, discarded, out)
    verdicts = {name: _name_verdict(name, discarded) for name in distinct}
    if len(verdicts) <= 1:
        ok, is_charged = next(iter(verdicts.values()), (True, False))
        if not ok:
            out.update(range(len(names)))
        return range(len(names)) if is_charged else range(0)
    out.update(i for i, name in enumerate(names) if not verdicts[name][0])
    return {i for i, name in enumerate(names) if verdicts[name][1]}


def _name_suspects_by_row(names: list[Any], discarded: frozenset[str],
                          out: set[int]) -> set[int]:
    """``_name_suspects`` for names that cannot all be hashed (an unhashable one is refused)."""
    verdicts: dict[Any, tuple[bool, bool]] = {}
    charged: set[int] = set()
    for i, name in enumerate(names):
        try:
            verdict = verdicts.get(name)
        except TypeError:  # unhashable: not a name CleverTap takes
            out.add(i)
            continue
        if verdict is None:
            verdict = verdicts[name] = _name_verdict(name, discarded)
        ok, is_charged = verdict
        if not ok:
            out.add(i)
        if is_charged:
            charged.add(i)
    return charged


def _name_verdict(name: Any, discarded: frozenset[str]) -> tuple[bool, bool]:
    probe: Mapping[str, Any] = {"identity": "probe", "type": "event", "evtName": name,
                                "evtData": {}}
    ok = rules.validate_record(probe, discarded_events=discarded) is None
    return ok, ok and rules.normalize_event_name(name) == "charged"


def _ts_suspects(stamps: list[Any], now: float) -> Iterable[int]:
    """Rows whose ``ts`` may not be whole epoch seconds in [1, now + 1 day]."""
    high = min(catalog.MS_THRESHOLD - 1, now + catalog.MAX_TS_AHEAD_SECONDS)
    if set(map(type, stamps)) <= {int} and stamps and min(stamps) >= 1 and max(stamps) <= high:
        return ()
    return (i for i, t in enumerate(stamps) if type(t) is not int or not 1 <= t <= high)
