"""CleverTap's read endpoints: one profile, delete, async counts, cursor paging.

What CleverTap documents of them, and what the sandbox chose: docs/clevertap.md §5.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from syncline.destinations.clevertap.rules import MAX_DELETES_PER_REQUEST
from syncline_sandbox.state import SandboxState
from syncline_sandbox.upload import fail, ok

__all__ = [
    "count_events",
    "count_profiles",
    "delete_profiles",
    "get_profile",
    "query_events",
    "query_profiles",
]

MAX_DELETE = MAX_DELETES_PER_REQUEST
MAX_BATCH_SIZE = 5000


async def get_profile(state: SandboxState, account: str, request: Request) -> Response:
    q = request.query_params
    key: str | None = None
    if "identity" in q:
        key = f"identity:{q['identity']}"
    elif "objectId" in q:
        key = f"objectId:{q['objectId']}"
    elif "email" in q:
        key = state.store.profile_by_property(account, "Email", q["email"])
    else:
        return fail(400, "Invalid parameter passed. Pass one of identity, email or objectId")
    data = state.store.profile(account, key) if key else None
    if key is None or data is None:
        return ok({"status": "fail", "error": "Profile not found", "code": 404})
    field, value = key.split(":", 1)
    record: dict[str, Any] = {
        field: value,
        "profileData": data,
        "events": state.store.event_summary(account, key),
    }
    if "Email" in data:
        record["email"] = data["Email"]
    return ok({"status": "success", "record": record})


async def _json_body(request: Request) -> dict[str, Any] | None:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


async def delete_profiles(state: SandboxState, account: str, request: Request) -> Response:
    """``POST /1/delete/profiles.json``: the profiles and every event they raised are removed.

    Documented (CleverTap's Delete User Profile API): ``identity`` or ``guid`` (CleverTap's
    objectId), each a string or an array of strings, at most 100 values per request, 400 when
    both are given. Not documented, our choice: the answer ``{"status": "success"}``, deletion
    at once (CleverTap may process it later), 400 for an empty list or a value that is not a
    string, success for unknown ids.
    """
    body = await _json_body(request)
    if body is None:
        return fail(400, "Malformed request")
    if ("identity" in body) == ("guid" in body):
        return fail(400, "Pass either identity or guid, not both")
    field = "identity" if "identity" in body else "guid"
    values = body[field] if isinstance(body[field], list) else [body[field]]
    if not values or not all(isinstance(v, str) and v for v in values):
        return fail(400, f"Invalid parameter passed. {field} must be a string or strings")
    if len(values) > MAX_DELETE:
        return fail(400, f"At most {MAX_DELETE} values can be deleted per request")
    if state.plan(account).delete_fails():
        return fail(503, "Service Unavailable. Please retry later.")
    prefix = "identity" if field == "identity" else "objectId"
    state.store.delete_profiles(account, [f"{prefix}:{v}" for v in values])
    return ok({"status": "success"})


def _day_bounds(body: dict[str, Any]) -> tuple[int, int] | None:
    """Epoch seconds for the first second of ``from`` and last second of ``to`` (UTC days)."""
    try:
        start = dt.datetime.strptime(str(body["from"]), "%Y%m%d").replace(tzinfo=dt.UTC)
        end = dt.datetime.strptime(str(body["to"]), "%Y%m%d").replace(tzinfo=dt.UTC)
    except (KeyError, ValueError):
        return None
    return int(start.timestamp()), int(end.timestamp()) + 86_399


async def _count(state: SandboxState, account: str, request: Request, what: str) -> Response:
    body = await _json_body(request)
    if body is None:
        return fail(400, "Malformed request")
    req_id = request.query_params.get("req_id") or body.get("req_id")
    if req_id is not None:
        query = state.pending.pop(int(req_id), None) if str(req_id).isdigit() else None
        if query is None or query["account"] != account:
            return fail(400, f"Unknown req_id {req_id}")
        return ok({"status": "success", "count": _run_count(state, query)})
    bounds = _day_bounds(body)
    if bounds is None or not isinstance(body.get("event_name"), str):
        return fail(400, "Invalid parameter passed. Need event_name, from and to (YYYYMMDD)")
    new_id = next(state.ids)
    state.pending[new_id] = {
        "account": account,
        "what": what,
        "name": body["event_name"],
        "bounds": bounds,
    }
    return ok({"req_id": new_id, "status": "partial"})


def _run_count(state: SandboxState, query: dict[str, Any]) -> int:
    lo, hi = query["bounds"]
    events = state.store.events(query["account"], query["name"], ts_from=lo, ts_to=hi)
    if query["what"] == "profiles":
        return len({e["key"] for e in events})
    return len(events)


async def count_events(state: SandboxState, account: str, request: Request) -> Response:
    return await _count(state, account, request, "events")


async def count_profiles(state: SandboxState, account: str, request: Request) -> Response:
    return await _count(state, account, request, "profiles")


async def _cursor_query(state: SandboxState, account: str, request: Request, what: str) -> Response:
    cursor = request.query_params.get("cursor")
    if cursor is not None:
        return _page(state, account, cursor)
    body = await _json_body(request)
    if body is None:
        return fail(400, "Malformed request")
    if not body and "query" in request.query_params:
        try:
            body = orjson.loads(request.query_params["query"])
        except orjson.JSONDecodeError:
            return fail(400, "Malformed request")
        if not isinstance(body, dict):
            return fail(400, "Malformed request")
    bounds = _day_bounds(body)
    if bounds is None or not isinstance(body.get("event_name"), str):
        return fail(400, "Invalid parameter passed. Need event_name, from and to (YYYYMMDD)")
    size_text = request.query_params.get("batch_size", "10")
    if not size_text.isdigit() or int(size_text) < 1:
        return fail(400, f"Invalid parameter passed. batch_size must be 1–{MAX_BATCH_SIZE}")
    size = min(int(size_text), MAX_BATCH_SIZE)
    events = state.store.events(account, body["event_name"], ts_from=bounds[0], ts_to=bounds[1])
    if what == "events":
        records = [
            {"profile": {"identity": e["identity"]}, "ts": e["ts"], "event_props": e["data"]}
            for e in events
        ]
    else:
        keys = dict.fromkeys(e["key"] for e in events)
        records = [
            {"identity": k.split(":", 1)[1], "profileData": state.store.profile(account, k) or {}}
            for k in keys
        ]
    return ok({"status": "success", "cursor": _store_cursor(state, account, records, size)})


def _store_cursor(
    state: SandboxState, account: str, records: list[dict[str, Any]], size: int
) -> str | None:
    if not records:
        return None
    cursor_id = next(state.ids)
    state.pending[cursor_id] = {
        "account": account,
        "records": records[size:],
        "page": records[:size],
        "size": size,
    }
    return f"c{cursor_id}"


def _page(state: SandboxState, account: str, cursor: str) -> Response:
    query = state.pending.pop(int(cursor[1:]), None) if cursor[1:].isdigit() else None
    if query is None or query["account"] != account:
        return fail(400, f"Unknown or expired cursor {cursor}")
    body: dict[str, Any] = {"status": "success", "records": query["page"]}
    rest = query["records"]
    next_cursor = _store_cursor(state, account, rest, query["size"])
    if next_cursor is not None:
        body["next_cursor"] = next_cursor
    return ok(body)


async def query_events(state: SandboxState, account: str, request: Request) -> Response:
    return await _cursor_query(state, account, request, "events")


async def query_profiles(state: SandboxState, account: str, request: Request) -> Response:
    return await _cursor_query(state, account, request, "profiles")
