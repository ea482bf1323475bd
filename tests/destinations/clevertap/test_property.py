"""Property: the local validator and the sandbox agree on generated records (code and message)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncline.destinations.clevertap.client import CleverTapClient

from .conftest import ClientFactory

_text = st.sampled_from(["", "x", "a.b", "Ann", "M", "F", "Y", "N", "School", "PhD", "null",
                         "ann@example.com", "bad@", "+14155551234", "123", "31", "App Launched",
                         "Charged", "$D_1487576752", "x" * 600, "1700000000", "ü"])  # fmt: skip
_scalar = st.one_of(_text, st.integers(-5, 2_000_000_000), st.booleans(), st.none(),
                    st.floats(allow_nan=False, allow_infinity=False))  # fmt: skip
_keys = st.sampled_from(["Name", "Email", "Phone", "Gender", "Employed", "Education", "Married",
                         "Age", "DOB", "Custom", "a.b", "#tag", "k" * 130])  # fmt: skip
_identity = st.dictionaries(st.sampled_from(["identity", "objectId"]),
                            st.one_of(_text, st.integers(-2, 99)), max_size=2)  # fmt: skip


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = dict(draw(_identity))
    record["type"] = draw(st.sampled_from(["profile", "event", "person"]))
    if draw(st.booleans()):
        record["ts"] = draw(st.one_of(st.integers(-1, 3_000_000_000), _text))
    if record["type"] == "event" or draw(st.booleans()):
        if draw(st.booleans()):
            record["evtName"] = draw(_text)
        record["evtData"] = draw(st.one_of(st.dictionaries(_keys, _scalar, max_size=4), _scalar))
    else:
        record["profileData"] = draw(
            st.one_of(st.dictionaries(_keys, _scalar, max_size=4), _scalar)
        )
    return record


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(records(), min_size=1, max_size=25))
def test_local_validator_agrees_with_sandbox(
    batch: list[dict[str, Any]], sandbox_client: ClientFactory
) -> None:
    client: CleverTapClient = sandbox_client()
    outcome = client.deliver(client.encode(batch), len(batch), dry_run=True)
    for position, record in enumerate(batch):
        local = client.validate(record)
        remote = outcome.rejected.get(position)
        assert (local is None) == (remote is None), (record, local, remote)
        if local is not None and remote is not None:
            assert (local.code, local.message) == (remote.code, remote.message), record
