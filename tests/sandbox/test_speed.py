from __future__ import annotations

import time

import orjson

from syncline_sandbox.state import SandboxState
from syncline_sandbox.upload import process_body
from tests.sandbox.conftest import ACCOUNT, ACCOUNTS


def test_validates_and_stores_over_20k_records_per_cpu_second() -> None:
    state = SandboxState.build(ACCOUNTS, None)
    bodies = [
        orjson.dumps({"d": [
            {"type": "profile", "identity": f"u{b}-{i}", "ts": 1_700_000_000,
             "profileData": {"Email": f"u{i}@example.com", "Phone": "+14155551234", "Age": 30}}
            if i % 2 else
            {"type": "event", "identity": f"u{i}", "evtName": "View", "evtData": {"p": i}}
            for i in range(1000)]})
        for b in range(10)
    ]  # fmt: skip
    started = time.process_time()
    for body in bodies:
        assert process_body(state, ACCOUNT, body, None).status_code == 200
    cpu = time.process_time() - started
    assert state.store.stats(ACCOUNT)["records_received"] == 10_000
    assert len(state.store.events(ACCOUNT)) == 5000
    assert 10_000 / cpu > 20_000, f"{10_000 / cpu:.0f} records per CPU-second"
    state.store.close()
