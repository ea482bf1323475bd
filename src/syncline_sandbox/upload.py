"""``POST /1/upload``: envelope checks, per-record validation, faults, storage.

The rules and answers it implements are in docs/clevertap.md §2, §3 and §7.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from syncline.destinations.clevertap.rules import (
    MAX_CONCURRENT_UPLOADS,
    MAX_RECORDS_PER_UPLOAD,
    Violation,
    error_text,
    validate_records,
)
from syncline_sandbox.faults import AnswerFault
from syncline_sandbox.state import SandboxState

__all__ = ["TOO_MANY_RECORDS", "fail", "handle_upload", "ok", "process_body"]

log = logging.getLogger("syncline_sandbox.upload")

# undocumented (docs/clevertap.md §2.2): the text we chose for > 1000 records
TOO_MANY_RECORDS = (
    f"Too many records. A maximum of {MAX_RECORDS_PER_UPLOAD} records can be sent per request"
)
_MISC = Violation(555, "Miscellaneous server error", None)


def fail(status: int, error: str) -> Response:
    """CleverTap's request-level error envelope."""
    body = orjson.dumps({"status": "fail", "error": error, "code": status})
    return Response(body, status, media_type="application/json;charset=utf-8")


def ok(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), 200, media_type="application/json;charset=utf-8")


class DroppedResponse(Response):
    """Starts a response and never finishes it: uvicorn closes the connection mid-response."""

    def __init__(self) -> None:
        super().__init__(b"", 200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]}
        )
        await send({"type": "http.response.body", "body": b"{", "more_body": True})


async def handle_upload(state: SandboxState, account: str, request: Request) -> Response:
    """Count the upload in flight (429 beyond 15), apply faults, then process the body."""
    if state.in_flight.get(account, 0) >= MAX_CONCURRENT_UPLOADS:
        # counted (stats: `throttled`) so a test can show that clients kept within the limit;
        # 429s injected as faults are not: they say nothing about the client
        state.store.count_throttled(account)
        return fail(429, "Too many concurrent requests")
    state.in_flight[account] = state.in_flight.get(account, 0) + 1
    try:
        plan = state.plan(account)
        fault = plan.next_upload()
        # read before the latency: a request whose body arrived is processed even if its
        # client has gone meanwhile (a killed or stopped run), as a real server would
        body = await request.body()
        if plan.faults.latency_ms:
            await asyncio.sleep(plan.faults.latency_ms / 1000)
        if fault == "429":
            return fail(429, "Too many concurrent requests")
        if fault == "drop":
            return DroppedResponse()
        if fault in ("500", "503"):
            text = "Server Error" if fault == "500" else "Service Unavailable. Please retry later."
            return fail(int(fault), text)
        return process_body(
            state, account, body, request.query_params.get("dryRun"),
            plan.next_answer(),
        )
    finally:
        state.in_flight[account] -= 1


def process_body(
    state: SandboxState, account: str, body: bytes, dry_run: str | None,
    answer: AnswerFault = "none",
) -> Response:
    """Validate every record of one upload body, store the accepted ones, build the answer.

    ``answer`` (fault injection) spoils the answer as ``AnswerFault`` describes.
    """
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return fail(400, "Malformed request")
    records = payload.get("d") if isinstance(payload, dict) else None
    if not isinstance(records, list):
        return fail(400, "Malformed request")
    if len(records) > MAX_RECORDS_PER_UPLOAD:
        return fail(400, TOO_MANY_RECORDS)
    now = time.time()
    plan = state.plan(account)
    settings = state.accounts[account]
    violations = validate_records(
        records,
        max_event_properties=settings.max_event_properties,
        discarded_events=settings.discarded_events,
        now=now,
    )
    accepted: list[dict[str, Any]] = []
    unprocessed: list[dict[str, Any]] = []
    odd = answer in ("unknown_code", "no_record_number") and bool(records)
    if not violations and not plan.faults.reject_rate and not odd:
        accepted = records  # the common case: every record valid, none rejected on purpose
    else:
        for position, record in enumerate(records):
            if odd and position == 0:
                unprocessed.append(_odd_entry(answer, record))
                continue
            violation = violations.get(position)
            if violation is None and plan.reject_record():
                violation = _MISC
            if violation is None:
                accepted.append(record)
                continue
            unprocessed.append(
                {
                    "status": "fail",
                    "code": violation.code,
                    "error": error_text(violation, position + 1),
                    "record": record,
                }
            )
    if dry_run == "1":
        state.store.count_upload(account, len(records), len(body))
    else:
        state.store.save_upload(account, accepted, len(records), int(now), len(body))
    log.debug("upload %s: %d records, %d rejected", account, len(records), len(unprocessed))
    if answer == "inconsistent":
        return ok({"status": "fail"})
    status = "success" if not unprocessed else "partial" if accepted else "fail"
    return ok({"status": status, "processed": len(accepted), "unprocessed": unprocessed})


def _odd_entry(answer: AnswerFault, record: Any) -> dict[str, Any]:
    """An ``unprocessed`` entry Syncline cannot recognise (fault injection, not CleverTap's)."""
    if answer == "unknown_code":
        text = "Sandbox: a reason no client knows yet. Skipped record number : 1"
        return {"status": "fail", "code": 599, "error": text, "record": record}
    return {"status": "fail", "code": 555, "error": "Sandbox: a reason without a record number",
            "record": record}
