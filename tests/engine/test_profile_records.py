"""Profile records made by one comprehension (``builder._profile_maker``) are the records the
per-row ``dict(zip(...))`` path made: same keys, same order, same values, nulls left out."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from syncline.engine.builder import _dicts, _drop_nulls, _profile_maker

_VALUES = st.one_of(
    st.none(), st.text(max_size=5), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False),
    st.booleans(), st.just({"$delete": 1}),
)  # fmt: skip
# field names a generated source would break on, were they ever written into it
_NAMES = st.one_of(st.text(min_size=1, max_size=8), st.sampled_from(
    ["}", "'", '"', "u", "field", "k0", "v1", "\\", "a: b", "__import__('os')"]))  # fmt: skip


@st.composite
def _chunks(draw: st.DrawFn) -> tuple[tuple[str, ...], list[str], list[list[Any]]]:
    fields = tuple(draw(st.lists(_NAMES, max_size=12, unique=True)))
    n = draw(st.integers(0, 6))
    identities = [f"u{i}" for i in range(n)]
    columns = [draw(st.lists(_VALUES, min_size=n, max_size=n)) for _ in fields]
    return fields, identities, columns


@settings(max_examples=300, deadline=None)
@given(_chunks())
def test_profile_records_match_the_per_row_dicts(
    chunk: tuple[tuple[str, ...], list[str], list[list[Any]]],
) -> None:
    fields, identities, columns = chunk
    expected = [
        {"identity": u, "type": "profile", "profileData": d}
        for u, d in zip(identities, _dicts(fields, columns, len(identities)), strict=True)
    ]
    made = _profile_maker(len(fields))("identity", fields, identities, columns)
    _drop_nulls([r["profileData"] for r in made if r is not None], fields, columns)
    assert made == expected
    # the same keys in the same order: the request bodies are the same bytes
    assert orjson.dumps(made) == orjson.dumps(expected)
