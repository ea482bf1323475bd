"""Plain server-rendered HTML pages, as a CleverTap user would check their data.

Every value from the store goes through ``html.escape``; no JavaScript.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from html import escape
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from syncline_sandbox.state import SandboxState

__all__ = ["routes"]


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;"
        "padding:2px 6px}table{border-collapse:collapse}</style></head>"
        f"<body><p><a href='/'>Syncline sandbox</a></p><h1>{escape(title)}</h1>{body}</body></html>"
    )


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _json(value: object) -> str:
    return escape(orjson.dumps(value).decode())


class _Pages:
    """The page endpoints, sharing one sandbox state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def known(
        self,
        handler: Callable[[Request, str], Response],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            account = request.path_params["account"]
            if account not in self.state.accounts:
                return _page("Unknown account", f"<p>No account {escape(account)}.</p>")
            return handler(request, account)

        return endpoint

    async def index(self, request: Request) -> Response:
        rows = []
        for a in self.state.accounts.values():
            s = self.state.store.stats(a.id)
            link = f"<a href='/accounts/{quote(a.id)}'>{escape(a.id)}</a>"
            rows.append(
                [
                    link,
                    escape(a.region or "any"),
                    str(s["profiles"]),
                    str(sum(s["events"].values())),
                ]
            )
        return _page("Accounts", _table(["account", "region", "profiles", "events"], rows))

    def profiles(self, request: Request, account: str) -> Response:
        search = request.query_params.get("q", "")
        base = f"/accounts/{quote(account)}"
        rows = [
            [f"<a href='{base}/profiles/{quote(k, safe='')}'>{escape(k)}</a>", _json(d)]
            for k, d in self.state.store.profiles(account, search)
        ]
        stats = self.state.store.stats(account)
        links = "".join(
            f"<li><a href='{base}/events/{quote(n, safe='')}'>{escape(n)}</a> ({c})</li>"
            for n, c in stats["events"].items()
        )
        form = (
            f"<form><input name='q' value='{escape(search)}' placeholder='identity'>"
            "<button>Search</button></form>"
        )
        body = (
            f"{form}<h2>Profiles</h2>{_table(['key', 'properties'], rows)}"
            f"<h2>Event analytics</h2><ul>{links}</ul>"
            f"<p><a href='{base}/segments?property=Gender'>Segments</a></p>"
        )
        return _page(f"Account {account}", body)

    def profile(self, request: Request, account: str) -> Response:
        key = request.path_params["key"]
        data = self.state.store.profile(account, key)
        if data is None:
            return _page("Profile not found", f"<p>No profile {escape(key)}.</p>")
        props = _table(["property", "value"], [[escape(k), _json(v)] for k, v in data.items()])
        events = _table(
            ["event", "ts", "properties"],
            [
                [escape(e["name"]), str(e["ts"]), _json(e["data"])]
                for e in self.state.store.events(account, pkey=key, newest_first=True)
            ],
        )
        return _page(f"Profile {key}", f"{props}<h2>Events</h2>{events}")

    def events(self, request: Request, account: str) -> Response:
        name = request.path_params["name"]
        rows = [
            [escape(e["identity"]), str(e["ts"]), _json(e["data"])]
            for e in self.state.store.events(account, name, newest_first=True)[:500]
        ]
        return _page(f"Events {name}", _table(["identity", "ts", "properties"], rows))

    def segments(self, request: Request, account: str) -> Response:
        prop = request.query_params.get("property", "Gender")
        rows = [[_json(v), str(c)] for v, c in self.state.store.property_counts(account, prop)]
        form = f"<form><input name='property' value='{escape(prop)}'><button>Count</button></form>"
        return _page(f"Segments by {prop}", form + _table([prop, "profiles"], rows))

    def routes(self) -> list[Route]:
        base = "/accounts/{account}"
        return [
            Route("/", self.index),
            Route(base, self.known(self.profiles)),
            Route(base + "/profiles/{key:path}", self.known(self.profile)),
            Route(base + "/events/{name:path}", self.known(self.events)),
            Route(base + "/segments", self.known(self.segments)),
        ]


def routes(state: SandboxState) -> list[Route]:
    """The HTML pages: accounts, profiles (search), one profile, events by name, segments."""
    return _Pages(state).routes()
