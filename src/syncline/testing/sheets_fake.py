"""A local server that answers like the Google Sheets API v4, for tests and demos.

It serves ``GET /v4/spreadsheets/{id}/values/{range}`` for the spreadsheets it is given, checks
the ``key`` query parameter or a bearer token, answers the OAuth token exchange of a service
account (``POST /token`` with a JWT signed by a key it knows) and returns Google's error body
shape, ``{"error": {"code", "message", "status"}}``, for 400/401/403/404::

    fake = SheetsFake(api_keys={"k"})
    fake.add_sheet("sheet-id", "Sheet1", [["id", "name"], [1, "Zoë"]])
    with fake:
        ...  # base_url=fake.url
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["SheetsFake", "make_service_account"]

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND"}
_A1 = re.compile(r"^([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?$")


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": _STATUS[code]}},
                        status_code=code)


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def make_service_account(token_uri: str, email: str = "sync@test.iam.gserviceaccount.com",
                         ) -> tuple[str, rsa.RSAPublicKey]:
    """A service-account key file (JSON text) with a fresh RSA key, and its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    data = {"type": "service_account", "client_email": email, "private_key": pem,
            "private_key_id": secrets.token_hex(8), "token_uri": token_uri}
    return json.dumps(data), key.public_key()


class SheetsFake:
    """Sheets API v4 ``values.get`` and the token exchange on ``127.0.0.1:<free port>``."""

    def __init__(self, api_keys: set[str] | None = None) -> None:
        self.api_keys = set(api_keys or ())
        self.accounts: dict[str, rsa.RSAPublicKey] = {}
        self.shared_with: dict[str, set[str]] = {}
        self.sheets: dict[str, dict[str, list[list[Any]]]] = {}
        self.tokens: dict[str, str] = {}
        self.requests = 0
        app = Starlette(routes=[
            Route("/v4/spreadsheets/{sid}/values/{rng:path}", self._values, methods=["GET"]),
            Route("/token", self._token, methods=["POST"]),
        ])
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="sheets-fake")
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL to pass as the source's ``base_url``."""
        return f"http://127.0.0.1:{self.port}"

    def add_sheet(self, spreadsheet_id: str, sheet: str, values: list[list[Any]],
                  shared_with: set[str] | None = None) -> None:
        """Serve ``values`` (rows of cells) as tab ``sheet``; share it with account emails."""
        self.sheets.setdefault(spreadsheet_id, {})[sheet] = values
        self.shared_with.setdefault(spreadsheet_id, set()).update(shared_with or ())

    def add_account(self, email: str, public_key: rsa.RSAPublicKey) -> None:
        """Accept JWTs signed by this service account's key at ``/token``."""
        self.accounts[email] = public_key

    def __enter__(self) -> SheetsFake:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Sheets fake did not start within 10 s")
            time.sleep(0.005)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _token(self, request: Request) -> JSONResponse:
        form = await request.form()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        email = self._verify(str(form.get("assertion", "")), str(request.url))
        if email is None:
            return JSONResponse({"error": "invalid_grant",
                                 "error_description": "Invalid JWT Signature."}, status_code=400)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = email
        return JSONResponse({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _verify(self, jwt: str, audience: str) -> str | None:
        try:
            head, body, sig = jwt.split(".")
            claims = json.loads(_unb64(body))
            key = self.accounts[claims["iss"]]
            key.verify(_unb64(sig), f"{head}.{body}".encode(), padding.PKCS1v15(),
                       hashes.SHA256())
        except (ValueError, KeyError, InvalidSignature):
            return None
        if claims.get("aud") != audience or claims.get("exp", 0) < time.time():
            return None
        return str(claims["iss"])

    async def _values(self, request: Request) -> JSONResponse:
        self.requests += 1
        sid, rng = request.path_params["sid"], request.path_params["rng"]
        key, auth = request.query_params.get("key"), request.headers.get("authorization", "")
        email = self.tokens.get(auth.removeprefix("Bearer ")) if auth else None
        if auth and email is None:
            return _error(401, "Request had invalid authentication credentials. Expected OAuth 2 "
                               "access token, login cookie or other valid authentication "
                               "credential.")
        if not auth and key not in self.api_keys:
            return _error(400, "API key not valid. Please pass a valid API key.")
        if sid not in self.sheets:
            return _error(404, "Requested entity was not found.")
        if email is not None and email not in self.shared_with.get(sid, set()):
            return _error(403, "The caller does not have permission")
        return self._range(sid, rng)

    def _range(self, sid: str, rng: str) -> JSONResponse:
        sheet, _, cells = rng.partition("!")
        sheet = sheet.strip("'").replace("''", "'")
        match = _A1.match(cells)
        if sheet not in self.sheets[sid] or match is None:
            return _error(400, f"Unable to parse range: {rng}")
        c1, r1, c2, r2 = match.groups()
        rows = self.sheets[sid][sheet]
        top, bottom = int(r1 or 1) - 1, int(r2) if r2 else len(rows)
        left, right = _col(c1 or "A") - 1, _col(c2) if c2 else None
        values = [row[left:right] for row in rows[top:bottom]]
        while values and not values[-1]:
            values.pop()
        return JSONResponse({"range": f"{sheet}!{cells or 'A1'}", "majorDimension": "ROWS",
                             "values": [self._trim(r) for r in values]})

    @staticmethod
    def _trim(row: list[Any]) -> list[Any]:
        # like Google, trailing empty cells are left out of a row
        out = list(row)
        while out and out[-1] in ("", None):
            out.pop()
        return out
