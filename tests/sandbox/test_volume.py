"""Ten full uploads (10,000 records) in a row: every record counted, stored once and intact.

How fast the sandbox does this is measured by ``bench/sandbox_bench.py``, not asserted here:
unit tests hold no timing (a shared, busy machine would make them flaky).
"""

from __future__ import annotations

import orjson

from syncline_sandbox.state import SandboxState
from syncline_sandbox.upload import process_body
from tests.sandbox.conftest import ACCOUNT, ACCOUNTS

BATCHES, BATCH = 10, 1000


def _record(batch: int, i: int) -> dict[str, object]:
    if i % 2:
        return {"type": "profile", "identity": f"u{batch}-{i}", "ts": 1_700_000_000,
                "profileData": {"Email": f"u{batch}-{i}@example.com", "Phone": "+14155551234",
                                "Age": 30 + i % 50}}
    return {"type": "event", "identity": f"u{i}", "evtName": "View",
            "evtData": {"batch": batch, "i": i}}


def test_ten_full_batches_are_all_stored_once_and_intact() -> None:
    state = SandboxState.build(ACCOUNTS, None)
    try:
        for b in range(BATCHES):
            body = orjson.dumps({"d": [_record(b, i) for i in range(BATCH)]})
            answer = orjson.loads(process_body(state, ACCOUNT, body, None).body)
            assert (answer["status"], answer["processed"], answer["unprocessed"]) == (
                "success", BATCH, []), answer

        assert state.store.stats(ACCOUNT)["records_received"] == BATCHES * BATCH
        events = state.store.events(ACCOUNT)
        assert len(events) == BATCHES * BATCH // 2
        assert {(e["data"]["batch"], e["data"]["i"]) for e in events} == {
            (b, i) for b in range(BATCHES) for i in range(0, BATCH, 2)}

        profiles = dict(state.store.profiles(ACCOUNT, limit=1_000_000))
        uploaded = {key: data for key, data in profiles.items() if "-" in key}
        assert len(uploaded) == BATCHES * BATCH // 2
        # each event's user exists too (u0, u2, ... u998), with no properties of its own
        assert {key for key in profiles if "-" not in key} == {
            f"identity:u{i}" for i in range(0, BATCH, 2)}
        sample = uploaded["identity:u7-333"]
        assert sample["Email"] == "u7-333@example.com" and sample["Age"] == 30 + 333 % 50
    finally:
        state.store.close()
