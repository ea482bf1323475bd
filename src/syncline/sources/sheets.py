"""Google Sheets as a source: one range read with the Sheets API v4 ``values.get``.

A range is small (Sheets caps a spreadsheet at 10M cells), so it is fetched once, typed per column
and registered as an Arrow table in a private DuckDB; models are DuckDB SQL over it, like files.
Authentication is an API key or a service account: a JWT signed with the account's RS256 key is
exchanged at the account's ``token_uri`` for an access token
(https://developers.google.com/identity/protocols/oauth2/service-account#httprest).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from syncline.config.sources import GoogleSheetsSourceConfig
from syncline.errors import ConfigError, ModelError, SourceError
from syncline.sources.base import Column
from syncline.sources.files import DuckDBViews, quote_ident

__all__ = ["SCOPE", "SheetsSource", "open_sheets_source", "sign_jwt"]

SCOPE = "https://www.googleapis.com/auth/spreadsheets.readonly"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_jwt(claims: dict[str, Any], private_key_pem: str, key_id: str | None = None) -> str:
    """An RS256 JWT over ``claims``, as Google's token endpoint expects."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the service account's private_key is not an RSA key")
    header: dict[str, str] = {"alg": "RS256", "typ": "JWT"}
    if key_id:
        header["kid"] = key_id
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


class SheetsSource(DuckDBViews):
    """One Sheets range exposed as table ``main.<table>``; see ``open_sheets_source``."""

    def __init__(self, name: str, config: GoogleSheetsSourceConfig) -> None:
        super().__init__(name)
        self._config = config
        self._http = httpx.Client(base_url=config.base_url, timeout=config.timeout_s)
        self._token: str | None = None
        self._loaded = False
        self._tables = [config.table]

    def check(self) -> None:
        """Authenticate and read the range (its header row gives the columns)."""
        self._load()

    def columns(self, model_sql: str) -> list[Column]:
        """Columns of a model over the sheet's table."""
        self._load()
        return super().columns(model_sql)

    def stream(self, model_sql: str, batch_rows: int = 10_000) -> Iterator[pa.RecordBatch]:
        """Stream a model over the sheet's table."""
        self._load()
        return super().stream(model_sql, batch_rows)

    def close(self) -> None:
        """Close the HTTP client and the in-memory database."""
        self._http.close()
        super().close()

    def _load(self) -> None:
        if self._loaded:
            return
        values = self._fetch()
        table = to_arrow(values, f"source `{self.name}`, range `{self._config.range}`")
        # a registered Arrow table is visible to this connection only, not to the cursors that
        # stream, so the rows are copied into a DuckDB table once
        self._con.register("_syncline_sheet", table)
        name = quote_ident(self._config.table)
        self._con.execute(f"CREATE TABLE {name} AS SELECT * FROM _syncline_sheet")
        self._con.unregister("_syncline_sheet")
        self._loaded = True

    def _fetch(self) -> list[list[Any]]:
        cfg = self._config
        params = {"valueRenderOption": "UNFORMATTED_VALUE",
                  "dateTimeRenderOption": "FORMATTED_STRING", "majorDimension": "ROWS"}
        headers = {}
        if cfg.api_key is not None:
            params["key"] = cfg.api_key.get_secret_value()
        else:
            headers["Authorization"] = f"Bearer {self._access_token()}"
        path = (f"/v4/spreadsheets/{urllib.parse.quote(cfg.spreadsheet_id, safe='')}"
                f"/values/{urllib.parse.quote(cfg.range, safe='')}")
        response = self._send("GET", path, params=params, headers=headers)
        self._raise_for(response)
        body = response.json()
        return list(body.get("values", []))

    def _access_token(self) -> str:
        if self._token is not None:
            return self._token
        account = self._service_account()
        now = int(time.time())
        claims = {"iss": account["client_email"], "scope": SCOPE, "aud": account["token_uri"],
                  "iat": now, "exp": now + 3600}
        assertion = sign_jwt(claims, account["private_key"], account.get("private_key_id"))
        response = self._send("POST", account["token_uri"], data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion})
        if response.status_code != 200:
            raise SourceError(
                f"source `{self.name}`: the service account `{account['client_email']}` was "
                f"refused at {account['token_uri']} ({response.status_code}: "
                f"{response.text[:200]}); check `service_account_json` holds a current key"
            )
        token = str(response.json()["access_token"])
        self._token = token
        return token

    def _service_account(self) -> dict[str, str]:
        assert self._config.service_account_json is not None
        try:
            data = json.loads(self._config.service_account_json.get_secret_value())
            account = {k: str(data[k]) for k in ("client_email", "private_key", "token_uri")}
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"source `{self.name}`: `service_account_json` is not a service-account key file "
                f"(JSON with client_email, private_key and token_uri; missing or bad: {exc}); "
                f"set it to the downloaded key's content, e.g. `${{GOOGLE_SERVICE_ACCOUNT_JSON}}`"
            ) from exc
        if "private_key_id" in data:
            account["private_key_id"] = str(data["private_key_id"])
        return account

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise SourceError(
                f"source `{self.name}`: cannot reach {self._config.base_url} ({exc!r}); check "
                f"`base_url` and the network"
            ) from exc

    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code == 200:
            return
        try:
            message = str(response.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        cfg, status = self._config, response.status_code
        where = f"source `{self.name}`, spreadsheet `{cfg.spreadsheet_id}`"
        if status in (401, 403) or "API key" in message:
            fix = ("check `api_key` and that the sheet is shared as 'anyone with the link'"
                   if cfg.api_key is not None else
                   "share the sheet with the service account's email")
            raise SourceError(f"{where}: access refused ({status}: {message}); {fix}")
        if status == 404:
            raise ModelError(f"{where}: not found ({message}); check `spreadsheet_id`")
        if status == 400:
            raise ModelError(f"{where}: range `{cfg.range}` refused ({message}); check `range` "
                             f"(e.g. `Sheet1` or `'My Sheet'!A1:F`)")
        raise SourceError(f"{where}: Sheets API answered {status} ({message}); try again later")


def _column_type(values: list[Any]) -> pa.DataType:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.int64()
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.float64()
    return pa.string()


def to_arrow(values: list[list[Any]], where: str) -> pa.Table:
    """Rows of cells (first row = header) as an Arrow table with one type per column."""
    if not values or not values[0]:
        raise ModelError(f"{where}: the range is empty; its first row must hold column names")
    header = [str(h).strip() for h in values[0]]
    blanks = [i + 1 for i, h in enumerate(header) if not h]
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if blanks or dupes:
        raise ModelError(f"{where}: the header row needs unique, non-empty names (blank columns: "
                         f"{blanks or 'none'}; repeated: {dupes or 'none'}); fix the first row")
    width = len(header)
    rows = [[None if c == "" else c for c in row[:width]] + [None] * (width - len(row))
            for row in values[1:]]
    arrays = []
    for i in range(width):
        column = [row[i] for row in rows]
        typ = _column_type(column)
        if typ == pa.string():
            column = [None if v is None else str(v) for v in column]
        arrays.append(pa.array(column, type=typ))
    return pa.Table.from_arrays(arrays, names=header)


def open_sheets_source(
    name: str, config: GoogleSheetsSourceConfig, root: Path | None = None
) -> SheetsSource:
    """Open a Google Sheets source (no request is made until it is checked or read).

    ``root`` is accepted so every source factory has the same signature; a sheet has no paths.
    """
    return SheetsSource(name, config)
