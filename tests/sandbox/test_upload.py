from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer
from syncline_sandbox.upload import TOO_MANY_RECORDS
from tests.sandbox.conftest import ACCOUNT, ACCOUNTS, AUTH


def prof(identity: str, **data: Any) -> dict[str, Any]:
    return {"type": "profile", "identity": identity, "profileData": data}


def evt(identity: str, name: str = "Product viewed", **data: Any) -> dict[str, Any]:
    return {"type": "event", "identity": identity, "evtName": name, "evtData": data}


def test_unknown_account_gets_401(sandbox: SandboxServer) -> None:
    for headers in ({}, {"X-CleverTap-Account-Id": "NOPE", "X-CleverTap-Passcode": "x"}):
        r = httpx.post(f"{sandbox.url}/1/upload", json={"d": []}, headers=headers)
        assert r.status_code == 401
        assert r.json() == {"status": "fail", "error": "Account ID is not valid", "code": 401}


def test_wrong_passcode_gets_401(client: httpx.Client) -> None:
    r = client.get("/v1/connect", params={"partner": "x"}, headers={"X-CleverTap-Passcode": "no"})
    assert r.status_code == 401
    assert r.json() == {"status": "fail", "error": "Invalid Credentials", "code": 401}
    assert client.get("/v1/connect", params={"partner": "x"}).json() == {"status": "success"}


def test_region_bound_account_rejects_other_region_host(sandbox: SandboxServer) -> None:
    auth = {"X-CleverTap-Account-Id": "IN-ACC", "X-CleverTap-Passcode": "in-pass"}
    with httpx.Client(base_url=sandbox.url, headers=auth) as c:
        assert c.get("/v1/connect", headers={"Host": "in1.api.clevertap.com"}).status_code == 200
        assert c.get("/v1/connect").status_code == 200  # loopback host: any region
        for host in ("api.clevertap.com", "us1.api.clevertap.com"):
            r = c.get("/v1/connect", headers={"Host": host})
            assert r.status_code == 401
            assert r.json()["error"] == "Account ID is not valid"


@pytest.mark.parametrize("body", [b"{not json", b'{"x": []}', b'{"d": {}}', b"[1]"])
def test_malformed_body_is_400(client: httpx.Client, body: bytes) -> None:
    r = client.post("/1/upload", content=body)
    assert r.status_code == 400
    assert r.json() == {"status": "fail", "error": "Malformed request", "code": 400}


def test_more_than_1000_records_is_400(client: httpx.Client) -> None:
    r = client.post("/1/upload", json={"d": [prof(str(i)) for i in range(1001)]})
    assert (r.status_code, r.json()["error"]) == (400, TOO_MANY_RECORDS)


def test_empty_upload_succeeds(client: httpx.Client) -> None:
    r = client.post("/1/upload", json={"d": []})
    assert r.json() == {"status": "success", "processed": 0, "unprocessed": []}


def test_mixed_batch_numbers_records_from_one(client: httpx.Client, sandbox: SandboxServer) -> None:
    bad_email = prof("2", Email="1234")
    bad_event = {"type": "event", "identity": "3", "evtData": {"name": 1234}}
    d = [prof("1", Name="A"), bad_email, bad_event, evt("1", Price=3)]
    body = client.post("/1/upload", json={"d": d}).json()
    assert body["status"] == "partial" and body["processed"] == 2
    assert body["unprocessed"] == [
        {"status": "fail", "code": 515, "record": bad_email,
         "error": "Profile data is incorrect. Email is not valid.Skipped record number : 2"},
        {"status": "fail", "code": 509, "record": bad_event,
         "error": "Event Name is incorrect. ErrorCode: 509 - Event name is mandatory. "
                  "Skipped record number : 3"},
    ]  # fmt: skip
    assert sandbox.profile(ACCOUNT, "2") is None
    assert [e["data"] for e in sandbox.events(ACCOUNT, identity="1")] == [{"Price": 3}]
    all_bad = client.post("/1/upload", json={"d": [bad_email]}).json()
    assert (all_bad["status"], all_bad["processed"]) == ("fail", 0)
    ok = client.post("/1/upload", json={"d": [prof("9")]}).json()
    assert ok == {"status": "success", "processed": 1, "unprocessed": []}


def test_upsert_keeps_old_keys_and_applies_operators(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    first = prof("u", Name="Jack", Gender="M", Score=10, Tags=["a"], Drop="x", Old=5)
    client.post("/1/upload", json={"d": [first]})
    second = prof("u", Name="Jackie", Score={"$incr": 5}, Old={"$decr": 2},
                  Tags={"$add": ["b", "a"]}, Drop={"$delete": 1})  # fmt: skip
    client.post("/1/upload", json={"d": [second]})
    client.post("/1/upload", json={"d": [prof("u", Tags={"$remove": ["a"]})]})
    assert sandbox.profile(ACCOUNT, "u") == {
        "Name": "Jackie", "Gender": "M", "Score": 15, "Tags": ["b"], "Old": 3,
    }  # fmt: skip


def test_multi_value_set_add_remove_delete_and_limits(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    client.post("/1/upload", json={"d": [prof("m", Tags=["x"], Name="Ann", Email="a@b.io")]})
    client.post("/1/upload", json={"d": [prof("m", Tags={"$set": ["a", "b", "a"]})]})
    assert sandbox.profile(ACCOUNT, "m") == {"Tags": ["a", "b"], "Name": "Ann", "Email": "a@b.io"}
    client.post("/1/upload", json={"d": [prof("m", Tags={"$add": ["c"]}, Name={"$delete": 1},
                                              Email={"$delete": 1})]})  # fmt: skip
    assert sandbox.profile(ACCOUNT, "m") == {"Tags": ["a", "b", "c"]}
    client.post("/1/upload", json={"d": [prof("m", Tags={"$remove": ["a", "b", "c"]})]})
    assert sandbox.profile(ACCOUNT, "m") == {}
    # beyond 100 values, a value over 512 bytes, a non-string: refused, the same code as the
    # client's local rule (512), and nothing stored
    bad = [
        prof("m", Tags={"$set": [str(i) for i in range(101)]}),
        prof("m", Tags={"$add": ["é" * 257]}),
        prof("m", Tags=["a", 1]),
    ]
    answer = client.post("/1/upload", json={"d": bad}).json()
    assert answer["processed"] == 0
    assert [u["code"] for u in answer["unprocessed"]] == [512, 512, 512]
    assert sandbox.profile(ACCOUNT, "m") == {}


def test_dry_run_stores_nothing(client: httpx.Client, sandbox: SandboxServer) -> None:
    body = client.post("/1/upload?dryRun=1", json={"d": [prof("1"), evt("1"), prof("2", Age="x")]})
    assert body.json()["processed"] == 2 and body.json()["status"] == "partial"
    assert sandbox.profile(ACCOUNT, "1") is None
    assert sandbox.events(ACCOUNT) == []


def test_restart_keeps_data(tmp_path: Path) -> None:
    with SandboxServer(ACCOUNTS, data_dir=tmp_path) as first:
        r = httpx.post(
            f"{first.url}/1/upload", headers=AUTH, json={"d": [prof("1", A=1), evt("1")]}
        )
        assert r.json()["processed"] == 2
    with SandboxServer(ACCOUNTS, data_dir=tmp_path) as second:
        assert second.profile(ACCOUNT, "1") == {"A": 1}
        assert len(second.events(ACCOUNT)) == 1
        assert second.stats(ACCOUNT)["uploads"] == 1


def test_sixteenth_concurrent_upload_gets_429(sandbox: SandboxServer) -> None:
    sandbox.set_faults(ACCOUNT, latency_ms=400)
    with (
        httpx.Client(base_url=sandbox.url, headers=AUTH, timeout=10) as c,
        ThreadPoolExecutor(16) as pool,
    ):
        codes = list(pool.map(lambda i: c.post("/1/upload", json={"d": []}), range(16)))
    statuses = sorted(r.status_code for r in codes)
    assert statuses == [200] * 15 + [429]
    rejected = next(r for r in codes if r.status_code == 429)
    assert rejected.json() == {"status": "fail", "error": "Too many concurrent requests",
                               "code": 429}  # fmt: skip
    assert sandbox.stats(ACCOUNT)["throttled"] == 1  # what a client test checks is 0


def test_latency_fault_delays_uploads(client: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.set_faults(ACCOUNT, latency_ms=200)
    started = time.monotonic()
    client.post("/1/upload", json={"d": []})
    assert time.monotonic() - started >= 0.2


def test_error_rate_fault_gives_5xx(client: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.set_faults(ACCOUNT, error_rate=1.0, seed=3)
    codes = {client.post("/1/upload", json={"d": [prof("1")]}).status_code for _ in range(10)}
    assert codes <= {500, 503} and codes
    assert sandbox.profile(ACCOUNT, "1") is None


def test_burst_429_fault_every_nth(client: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.set_faults(ACCOUNT, burst_429=3)
    codes = [client.post("/1/upload", json={"d": []}).status_code for _ in range(6)]
    assert codes == [200, 200, 429, 200, 200, 429]
    assert sandbox.stats(ACCOUNT)["throttled"] == 0  # injected, not the client's doing
    assert sandbox.state.plan(ACCOUNT).injected == {"429": 2}


def test_drop_fault_closes_connection(client: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.set_faults(ACCOUNT, drop_rate=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post("/1/upload", json={"d": [prof("1")]})


def test_reject_rate_fault_fails_records_with_555(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.set_faults(ACCOUNT, reject_rate=0.5, seed=7)
    body = client.post("/1/upload", json={"d": [prof(f"u{i}") for i in range(100)]}).json()
    failed = body["unprocessed"]
    assert 20 < len(failed) < 80 and body["processed"] == 100 - len(failed)
    assert {f["code"] for f in failed} == {555}
    assert failed[0]["error"].startswith("Miscellaneous server error. Skipped record number : ")
    sandbox.set_faults(ACCOUNT, reject_rate=0.5, seed=7)
    again = client.post("/1/upload", json={"d": [prof(f"u{i}") for i in range(100)]}).json()
    assert again["unprocessed"] == failed  # same seed, same schedule


def test_admin_faults_endpoint(client: httpx.Client) -> None:
    r = client.put(f"/_sandbox/accounts/{ACCOUNT}/faults", json={"burst_429": 1})
    assert r.status_code == 200
    assert client.post("/1/upload", json={"d": []}).status_code == 429
    assert client.put(f"/_sandbox/accounts/{ACCOUNT}/faults", json={"nope": 1}).status_code == 400


def test_account_settings_discarded_events_and_property_limit() -> None:
    acc = Account("D", {"p"}, discarded_events={"Sign Up"}, max_event_properties=2)
    with SandboxServer([acc]) as sb:
        auth = {"X-CleverTap-Account-Id": "D", "X-CleverTap-Passcode": "p"}
        d = [evt("1", "SIGNUP"), evt("1", "x", a=1, b=2, c=3), evt("1", "x", a=1)]
        body = httpx.post(f"{sb.url}/1/upload", headers=auth, json={"d": d}).json()
    assert [(u["code"], u["error"]) for u in body["unprocessed"]] == [
        (528, "Event Name is incorrect. ErrorCode: 528 - Discarded event is raised. "
              "Skipped record number : 1"),
        (522, "Event data is incorrect. ErrorCode: 522 - Event properties limit exceeded. "
              "Skipped record number : 2"),
    ]  # fmt: skip


def test_bytes_received_counts_upload_bodies(client: httpx.Client, sandbox: SandboxServer) -> None:
    """Body bytes of every upload the ``uploads`` counter counts, dry runs included."""
    bodies = [
        orjson.dumps({"d": [prof("1", Name="Ann"), evt("1")]}),
        orjson.dumps({"d": [prof("2", Age="x")]}),  # every record rejected: still an upload
    ]
    for body in bodies:
        assert client.post("/1/upload", content=body).status_code == 200
    dry = orjson.dumps({"d": [prof("3")]})
    assert client.post("/1/upload?dryRun=1", content=dry).status_code == 200
    assert client.post("/1/upload", content=b"{not json").status_code == 400  # not counted
    stats = sandbox.stats(ACCOUNT)
    assert stats["uploads"] == 3 and stats["records_received"] == 4
    assert stats["bytes_received"] == sum(map(len, bodies)) + len(dry)
    admin = client.get(f"/_sandbox/accounts/{ACCOUNT}/stats").json()
    assert admin["bytes_received"] == stats["bytes_received"]


def test_events_leave_existing_profiles_unchanged(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    client.post("/1/upload", json={"d": [prof("1", Name="Ann", Tags=["a"])]})
    body = client.post("/1/upload", json={"d": [evt("1"), evt("2"), evt("2")]}).json()
    assert body["processed"] == 3
    assert sandbox.profile(ACCOUNT, "1") == {"Name": "Ann", "Tags": ["a"]}
    assert sandbox.profile(ACCOUNT, "2") == {}
    assert sandbox.stats(ACCOUNT)["profiles"] == 2


def test_new_and_existing_profiles_in_one_upload(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    """New profiles are inserted as sent; records of existing ones still merge.

    (docs/clevertap.md §2.4)
    """
    client.post("/1/upload", json={"d": [prof("old", A=1, B=2)]})
    upload = [prof("new1", A=1), prof("old", B=3, C=4), prof("new2", Z=None)]
    assert client.post("/1/upload", json={"d": upload}).json()["processed"] == 3
    assert sandbox.profile(ACCOUNT, "old") == {"A": 1, "B": 3, "C": 4}
    assert sandbox.profile(ACCOUNT, "new1") == {"A": 1}
    assert sandbox.profile(ACCOUNT, "new2") == {"Z": None}
    twice = [prof("t", A=1), prof("t", B={"$add": ["x"]})]
    assert client.post("/1/upload", json={"d": twice}).json()["processed"] == 2
    assert sandbox.profile(ACCOUNT, "t") == {"A": 1, "B": ["x"]}


def test_data_dir_from_before_bytes_were_counted(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "sandbox.sqlite3") as db:
        db.execute("CREATE TABLE counters (account TEXT PRIMARY KEY, uploads INTEGER NOT NULL, "
                   "records INTEGER NOT NULL)")  # fmt: skip
        db.execute("INSERT INTO counters VALUES (?, 2, 7)", (ACCOUNT,))
    db.close()
    with SandboxServer(ACCOUNTS, data_dir=tmp_path) as server:
        assert server.stats(ACCOUNT)["bytes_received"] == 0
        body = orjson.dumps({"d": [prof("1")]})
        httpx.post(f"{server.url}/1/upload", headers=AUTH, content=body).raise_for_status()
        stats = server.stats(ACCOUNT)
        assert (stats["uploads"], stats["records_received"]) == (3, 8)
        assert stats["bytes_received"] == len(body)
