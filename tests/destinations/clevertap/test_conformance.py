"""The CleverTap client against the sandbox over real HTTP, walking docs/clevertap.md."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from syncline.destinations.base import Rejection
from syncline.destinations.clevertap.client import CleverTapClient
from syncline.errors import (
    DestinationAuthError,
    DestinationError,
    DestinationRateLimitError,
    DestinationRequestError,
    DestinationUnavailableError,
    DestinationUnreachableError,
)
from syncline_sandbox.testing import SandboxServer

from .conftest import ClientFactory, LoopbackRedirect, load_cases, make_config

CASES = load_cases()


def _one(client: CleverTapClient, record: dict[str, Any]) -> Rejection | None:
    outcome = client.deliver(client.encode([record]), 1, dry_run=True)
    return outcome.rejected.get(0)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_record_codes_over_http_match_local_validator(
    case: dict[str, Any], sandbox_client: ClientFactory
) -> None:
    client = sandbox_client()
    remote = _one(client, case["record"])
    local = client.validate(case["record"])
    if case["code"] is None:
        assert remote is None and local is None
        return
    assert remote is not None and local is not None
    assert (remote.code, remote.message) == (str(case["code"]), case["message"])
    assert (local.code, local.message) == (remote.code, remote.message)


def test_522_and_528_per_account_settings(sandbox_client: ClientFactory) -> None:
    client = sandbox_client("EV-ACC", "pass-ev")
    too_many = {"identity": "e", "type": "event", "evtName": "Viewed",
                "evtData": {"a": 1, "b": 2, "c": 3, "d": 4}}  # fmt: skip
    discarded = {"identity": "e", "type": "event", "evtName": "old promo", "evtData": {}}
    assert _one(client, too_many) == Rejection(
        "522", "Event data is incorrect. ErrorCode: 522 - Event properties limit exceeded"
    )
    assert _one(client, discarded) == Rejection(
        "528", "Event Name is incorrect. ErrorCode: 528 - Discarded event is raised"
    )


def test_522_default_limit_locally_and_remotely(sandbox_client: ClientFactory) -> None:
    client = sandbox_client()
    record = {"identity": "e", "type": "event", "evtName": "Big",
              "evtData": {f"p{i}": i for i in range(257)}}  # fmt: skip
    remote, local = _one(client, record), client.validate(record)
    assert remote is not None and remote.code == "522"
    assert local is not None and (local.code, local.message) == (remote.code, remote.message)


def test_mixed_batch_positions_and_storage(
    sandbox: SandboxServer, sandbox_client: ClientFactory
) -> None:
    client = sandbox_client()
    good = [c["record"] for c in CASES if c["code"] is None]
    bad = [c for c in CASES if c["code"] is not None]
    records: list[dict[str, Any]] = []
    expected: dict[int, str] = {}
    for i, case in enumerate(bad):
        records.append(case["record"])
        expected[len(records) - 1] = str(case["code"])
        records.append({"identity": f"mix-{i}", "type": "event", "evtName": "Mixed", "evtData": {}})
    records.extend(good)
    outcome = client.deliver(client.encode(records), len(records))
    assert {p: r.code for p, r in outcome.rejected.items()} == expected
    assert outcome.accepted_count == len(records) - len(bad)
    assert len(sandbox.events("ACC-1", name="Mixed")) == len(bad)


def test_all_fail_and_all_success_batches(sandbox_client: ClientFactory) -> None:
    client = sandbox_client()
    bad = [{"type": "profile", "profileData": {}}] * 3
    assert sorted(client.deliver(client.encode(bad), 3).rejected) == [0, 1, 2]
    good = [{"identity": f"ok-{i}", "type": "profile", "profileData": {"N": i}} for i in range(3)]
    assert client.deliver(client.encode(good), 3).rejected == {}


def test_dry_run_stores_nothing(sandbox: SandboxServer, sandbox_client: ClientFactory) -> None:
    client = sandbox_client()
    record = {"identity": "dry-1", "type": "profile", "profileData": {"Name": "Dry"}}
    event = {"identity": "dry-1", "type": "event", "evtName": "DryEvt", "evtData": {}}
    outcome = client.deliver(client.encode([record, event]), 2, dry_run=True)
    assert outcome.accepted_count == 2
    assert sandbox.profile("ACC-1", "dry-1") is None
    assert sandbox.events("ACC-1", name="DryEvt") == []
    client.deliver(client.encode([record, event]), 2)
    assert sandbox.profile("ACC-1", "dry-1") == {"Name": "Dry"}
    assert len(sandbox.events("ACC-1", name="DryEvt")) == 1


@pytest.mark.parametrize(
    ("account", "passcode", "match"),
    [("NOPE-ACC", "pass1", "does not know account id"), ("ACC-1", "wrong", "passcode")],
    ids=["unknown-account", "wrong-passcode"],
)
def test_401_through_check_and_deliver(
    account: str, passcode: str, match: str, sandbox_client: ClientFactory
) -> None:
    client = sandbox_client(account, passcode)
    with pytest.raises(DestinationAuthError, match=match) as info:
        client.check()
    assert info.value.status == 401 and "Settings > Project" in str(info.value)
    with pytest.raises(DestinationAuthError) as info2:
        client.deliver(client.encode([]), 0)
    assert info2.value.status == 401


def test_check_succeeds(sandbox_client: ClientFactory) -> None:
    sandbox_client().check()


def test_wrong_region_is_named(sandbox: SandboxServer) -> None:
    transport = LoopbackRedirect(sandbox.url)
    wrong = CleverTapClient(make_config("US-ACC", "pass-us", region="in1"), transport=transport)
    try:
        with pytest.raises(
            DestinationAuthError, match=r"not in region in1 but in us1.*region: us1"
        ):
            wrong.check()
        with pytest.raises(DestinationAuthError):
            wrong.deliver(wrong.encode([]), 0)
    finally:
        wrong.close()
    right = CleverTapClient(
        make_config("US-ACC", "pass-us", region="us1"), transport=LoopbackRedirect(sandbox.url)
    )
    try:
        right.check()
    finally:
        right.close()


def test_unknown_account_on_real_hosts_probes_then_says_account(sandbox: SandboxServer) -> None:
    client = CleverTapClient(
        make_config("NOBODY", "x", region="eu1"), transport=LoopbackRedirect(sandbox.url)
    )
    try:
        with pytest.raises(DestinationAuthError, match="does not know account id 'NOBODY'"):
            client.check()
    finally:
        client.close()


@pytest.mark.parametrize(
    ("body", "match"),
    [(b"{not json", "Malformed request"), (b'{"x": []}', "Malformed request"),
     (b'{"d": ' + b"[" + b",".join([b"{}"] * 1001) + b"]}", "400")],
    ids=["not-json", "no-d", "over-1000-records"],
)  # fmt: skip
def test_400_cases(body: bytes, match: str, sandbox_client: ClientFactory) -> None:
    client = sandbox_client()
    with pytest.raises(DestinationRequestError, match=match) as info:
        client.deliver(body, 1)
    assert info.value.status == 400


def test_unreachable_endpoint_names_url(sandbox_client: ClientFactory) -> None:
    client = sandbox_client(endpoint="http://127.0.0.1:9")
    with pytest.raises(DestinationUnreachableError, match=r"http://127\.0\.0\.1:9/v1/connect"):
        client.check()


def test_429_when_16_uploads_in_flight(
    sandbox: SandboxServer, sandbox_client: ClientFactory
) -> None:
    sandbox.set_faults("FAULT-CONC", latency_ms=400)
    client = sandbox_client("FAULT-CONC", "pass-f")
    body = client.encode([{"identity": "c", "type": "profile", "profileData": {}}])
    start = threading.Barrier(16)

    def one(_: int) -> str:
        start.wait()
        try:
            client.deliver(body, 1)
        except DestinationError as exc:
            return type(exc).__name__
        return "ok"

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    assert results.count("DestinationRateLimitError") == 1
    assert results.count("ok") == 15


@pytest.mark.parametrize(
    ("account", "faults", "error"),
    [("FAULT-5XX", {"error_rate": 1.0}, DestinationUnavailableError),
     ("FAULT-429", {"burst_429": 1}, DestinationRateLimitError),
     ("FAULT-DROP", {"drop_rate": 1.0}, DestinationUnavailableError)],
    ids=["5xx", "429-burst", "dropped-connection"],
)  # fmt: skip
def test_fault_modes_raise_transient_errors(
    account: str, faults: dict[str, Any], error: type[DestinationError],
    sandbox: SandboxServer, sandbox_client: ClientFactory,
) -> None:  # fmt: skip
    sandbox.set_faults(account, seed=7, **faults)
    client = sandbox_client(account, "pass-f")
    with pytest.raises(error) as info:
        client.deliver(client.encode([{"identity": "f", "type": "profile", "profileData": {}}]), 1)
    assert type(info.value) is error


def test_latency_fault_times_out_with_short_timeout(
    sandbox: SandboxServer, sandbox_client: ClientFactory
) -> None:
    sandbox.set_faults("FAULT-LAT", latency_ms=500)
    client = sandbox_client("FAULT-LAT", "pass-f", timeout_s=0.1)
    with pytest.raises(DestinationUnavailableError, match="timed out") as info:
        client.deliver(client.encode([{"identity": "t", "type": "profile", "profileData": {}}]), 1)
    assert isinstance(info.value.__cause__, httpx.TimeoutException)


def test_record_level_555_is_a_rejection(
    sandbox: SandboxServer, sandbox_client: ClientFactory
) -> None:
    sandbox.set_faults("FAULT-REJ", reject_rate=1.0, seed=3)
    client = sandbox_client("FAULT-REJ", "pass-f")
    records = [{"identity": f"r{i}", "type": "profile", "profileData": {}} for i in range(4)]
    outcome = client.deliver(client.encode(records), 4)
    assert set(outcome.rejected) == {0, 1, 2, 3}
    assert {r.code for r in outcome.rejected.values()} == {"555"}
    assert outcome.rejected[0].message == "Miscellaneous server error"
