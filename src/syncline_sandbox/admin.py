"""A small JSON admin API under ``/_sandbox/`` (not CleverTap's): stats, events, reset, faults."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncline_sandbox.faults import Faults
from syncline_sandbox.state import SandboxState
from syncline_sandbox.upload import fail, ok

__all__ = ["routes"]

Endpoint = Callable[[Request], Awaitable[Response]]


def routes(state: SandboxState) -> list[Route]:
    def known(handler: Callable[[Request, str], Awaitable[Response]]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            account = request.path_params["account"]
            if account not in state.accounts:
                return fail(404, f"No sandbox account {account!r}; start the sandbox with it")
            return await handler(request, account)

        return endpoint

    async def stats(request: Request, account: str) -> Response:
        return ok(state.store.stats(account))

    async def events(request: Request, account: str) -> Response:
        q = request.query_params
        key = f"identity:{q['identity']}" if "identity" in q else None
        return ok({"events": state.store.events(account, q.get("name"), key)})

    async def reset(request: Request, account: str) -> Response:
        state.store.reset(account)
        return ok({"status": "success"})

    async def faults(request: Request, account: str) -> Response:
        try:
            new = Faults.from_dict(orjson.loads(await request.body()))
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            return fail(400, f"Bad faults body: {exc}")
        state.set_faults(account, new)
        return ok({"status": "success", "faults": new.to_dict()})

    base = "/_sandbox/accounts/{account}"
    return [
        Route(f"{base}/stats", known(stats), methods=["GET"]),
        Route(f"{base}/events", known(events), methods=["GET"]),
        Route(f"{base}/reset", known(reset), methods=["POST"]),
        Route(f"{base}/faults", known(faults), methods=["PUT"]),
    ]
