from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx

from syncline_sandbox.app import create_app
from syncline_sandbox.testing import SandboxServer
from tests.sandbox.conftest import ACCOUNT, ACCOUNTS, AUTH

TS = int(dt.datetime(2024, 5, 10, 12, tzinfo=dt.UTC).timestamp())


def upload(client: httpx.Client, *records: dict[str, Any]) -> None:
    body = client.post("/1/upload", json={"d": list(records)}).json()
    assert body["status"] == "success", body


def evt(identity: str, name: str, ts: int = TS, **data: Any) -> dict[str, Any]:
    return {"type": "event", "identity": identity, "evtName": name, "ts": ts, "evtData": data}


def test_profile_json_by_identity_and_email(client: httpx.Client) -> None:
    prof = {"type": "profile", "identity": "u1", "profileData": {"Email": "a@b.co", "N": 1}}
    upload(client, prof, evt("u1", "Charged", TS), evt("u1", "Charged", TS + 60))
    by_id = client.get("/1/profile.json", params={"identity": "u1"}).json()
    assert by_id["status"] == "success"
    record = by_id["record"]
    assert record["profileData"] == {"Email": "a@b.co", "N": 1}
    assert record["events"] == {"Charged": {"count": 2, "first_seen": TS, "last_seen": TS + 60}}
    by_email = client.get("/1/profile.json", params={"email": "a@b.co"}).json()
    assert by_email["record"]["identity"] == "u1"
    missing = client.get("/1/profile.json", params={"identity": "nobody"})
    assert missing.status_code == 200
    assert missing.json() == {"status": "fail", "error": "Profile not found", "code": 404}


def test_counts_use_req_id_protocol(client: httpx.Client) -> None:
    upload(client, evt("a", "Buy"), evt("a", "Buy"), evt("b", "Buy"), evt("b", "Other"),
           evt("c", "Buy", TS + 10 * 86400))  # fmt: skip
    query = {"event_name": "Buy", "from": 20240510, "to": 20240510}
    for path, expected in (("/1/counts/events.json", 3), ("/1/counts/profiles.json", 2)):
        first = client.post(path, json=query).json()
        assert first["status"] == "partial" and isinstance(first["req_id"], int)
        second = client.post(path, params={"req_id": first["req_id"]}).json()
        assert second == {"status": "success", "count": expected}


def test_cursor_paging_returns_every_event_once(client: httpx.Client) -> None:
    upload(client, *[evt(f"u{i}", "View", TS + i, n=i) for i in range(7)])
    query = {"event_name": "View", "from": 20240510, "to": 20240520}
    body = client.post("/1/events.json", params={"batch_size": 3}, json=query).json()
    seen: list[int] = []
    cursor = body["cursor"]
    pages = 0
    while cursor:
        page = client.get("/1/events.json", params={"cursor": cursor}).json()
        seen += [r["event_props"]["n"] for r in page["records"]]
        cursor = page.get("next_cursor")
        pages += 1
    assert sorted(seen) == list(range(7)) and pages == 3
    profiles = client.post("/1/profiles.json", params={"batch_size": 10}, json=query).json()
    page = client.get("/1/profiles.json", params={"cursor": profiles["cursor"]}).json()
    assert len(page["records"]) == 7 and "next_cursor" not in page


def test_delete_profiles(client: httpx.Client, sandbox: SandboxServer) -> None:
    upload(client, *[{"type": "profile", "identity": i, "profileData": {}} for i in "abc"])
    assert client.post("/1/delete/profiles.json", json={"identity": "a"}).status_code == 200
    client.post("/1/delete/profiles.json", json={"identity": ["b"]})
    assert sandbox.profile(ACCOUNT, "a") is None and sandbox.profile(ACCOUNT, "b") is None
    assert sandbox.profile(ACCOUNT, "c") == {}
    both = client.post("/1/delete/profiles.json", json={"identity": "c", "guid": "x"})
    assert both.status_code == 400
    many = client.post("/1/delete/profiles.json", json={"identity": [str(i) for i in range(101)]})
    assert many.status_code == 400


def test_delete_removes_the_profile_and_its_events_by_identity_or_guid(
        client: httpx.Client, sandbox: SandboxServer) -> None:
    upload(client, {"type": "profile", "identity": "a", "profileData": {"Name": "A"}},
           evt("a", "Buy"), evt("b", "Buy"),
           {"type": "profile", "objectId": "g1", "profileData": {}})
    answer = client.post("/1/delete/profiles.json", json={"identity": ["a"]})
    assert (answer.status_code, answer.json()) == (200, {"status": "success"})
    assert sandbox.profile(ACCOUNT, "a") is None
    assert [e["identity"] for e in sandbox.events(ACCOUNT)] == ["b"]
    assert client.post("/1/delete/profiles.json", json={"guid": "g1"}).status_code == 200
    assert sandbox.store.profile(ACCOUNT, "objectId:g1") is None
    for bad in ({"identity": []}, {"identity": [1]}, {"guid": ""}, {}):
        assert client.post("/1/delete/profiles.json", json=bad).status_code == 400, bad
    sandbox.set_faults(ACCOUNT, delete_error_rate=1.0)
    assert client.post("/1/delete/profiles.json", json={"identity": "b"}).status_code == 503
    assert [e["identity"] for e in sandbox.events(ACCOUNT)] == ["b"]


def test_admin_stats_events_reset(client: httpx.Client) -> None:
    upload(client, evt("a", "Buy"), evt("b", "Buy"), evt("a", "View"))
    base = f"/_sandbox/accounts/{ACCOUNT}"
    stats = client.get(f"{base}/stats").json()
    assert stats.pop("bytes_received") > 0
    assert stats == {"profiles": 2, "events": {"Buy": 2, "View": 1}, "uploads": 1,
                     "records_received": 3, "throttled": 0}  # fmt: skip
    events = client.get(f"{base}/events", params={"name": "Buy", "identity": "a"}).json()
    assert [e["identity"] for e in events["events"]] == ["a"]
    client.post(f"{base}/reset")
    assert client.get(f"{base}/stats").json()["profiles"] == 0
    assert client.get("/_sandbox/accounts/NOPE/stats").status_code == 404


def test_pages_render_and_escape(client: httpx.Client) -> None:
    evil = "<script>alert(1)</script>"
    upload(client, {"type": "profile", "identity": "x<y", "profileData": {"Name": evil}},
           evt("x<y", "Buy", note=evil))  # fmt: skip
    pages = ["/", f"/accounts/{ACCOUNT}", f"/accounts/{ACCOUNT}?q=x",
             f"/accounts/{ACCOUNT}/profiles/identity:x%3Cy", f"/accounts/{ACCOUNT}/events/Buy",
             f"/accounts/{ACCOUNT}/segments?property=Name"]  # fmt: skip
    for page in pages:
        r = client.get(page)
        assert r.status_code == 200, page
        assert "<script>" not in r.text, page
    assert "&lt;script&gt;" in client.get(f"/accounts/{ACCOUNT}/profiles/identity:x%3Cy").text


def test_in_process_asgi_transport() -> None:
    async def run() -> dict[str, Any]:
        app = create_app(ACCOUNTS, None)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=AUTH) as c:
            r = await c.post("/1/upload", json={"d": [evt("a", "Buy")]})
            body: dict[str, Any] = r.json()
        app.state.sandbox.store.close()
        return body

    assert asyncio.run(run())["processed"] == 1


def test_bad_read_parameters_are_400(client: httpx.Client) -> None:
    assert client.post("/1/counts/events.json", params={"req_id": "abc"}).status_code == 400
    assert client.post("/1/counts/events.json", json={"event_name": "x"}).status_code == 400
    query = {"event_name": "x", "from": 20240101, "to": 20240102}
    assert client.post("/1/events.json", params={"batch_size": "0"}, json=query).status_code == 400
    assert client.get("/1/events.json", params={"query": "{bad"}).status_code == 400
    assert client.get("/1/events.json", params={"cursor": "zzz"}).status_code == 400
    assert client.get("/1/profile.json").status_code == 400
