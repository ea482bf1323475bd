"""The CleverTap client: the only place CleverTap's HTTP answers become Syncline errors.

What CleverTap answers and where we know it from (documented, observed or our choice) is in
``docs/clevertap.md`` (§1 hosts, §2 the upload, §3 answers and errors, §5 ``/v1/connect``).

One ``httpx.Client`` is shared by every delivering thread (httpx clients are thread-safe); its
pool holds as many keep-alive connections as CleverTap allows uploads in flight, so the engine
reaches that limit without opening a connection per batch. The client never retries: the engine
decides retries with one ``isinstance`` on ``Transient``/``Terminal`` (docs/clevertap.md §4).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, Final

import orjson

from syncline.config.models import CleverTapDestinationConfig
from syncline.destinations.base import (
    BatchOutcome,
    DestinationCapabilities,
    FieldFault,
    Record,
    RecordColumns,
    Rejection,
)
from syncline.destinations.clevertap import CAPABILITIES, rules, screen
from syncline.destinations.clevertap.regions import REGIONS, base_url, region_host
from syncline.errors import (
    DestinationAnswerError,
    DestinationAuthError,
    DestinationError,
    DestinationRateLimitError,
    DestinationRequestError,
    DestinationUnavailableError,
    DestinationUnreachableError,
)
from syncline.lazy import lazy_module

if TYPE_CHECKING:
    import httpx
else:  # loaded on first use (syncline/lazy.py)
    httpx = lazy_module("httpx")


__all__ = ["CAPABILITIES", "CleverTapClient"]

log = logging.getLogger(__name__)

_SETTINGS: Final = "CleverTap's Settings > Project"
_BAD_ACCOUNT: Final = "Account ID is not valid"
_BAD_PASSCODE: Final = "Invalid Credentials"


def _error_text(response: httpx.Response) -> str:
    """CleverTap's ``error`` text from a request-level failure, else the raw body."""
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text[:500]
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    return response.text[:500]


def map_status(response: httpx.Response, where: str) -> DestinationError:
    """The Syncline error for a non-200 CleverTap answer (401/403, 429, 5xx, other 4xx)."""
    status, body, text = response.status_code, response.text, _error_text(response)
    if status in (401, 403):
        return DestinationAuthError(
            f"CleverTap refused the credentials for {where} ({status}: {text}); check the "
            f"account id, passcode and region in {_SETTINGS}",
            status=status, body=body,
        )  # fmt: skip
    if status == 429:
        return DestinationRateLimitError(
            f"CleverTap: too many uploads in flight for {where} (429: {text})",
            status=status, body=body,
        )  # fmt: skip
    if status >= 500:
        return DestinationUnavailableError(
            f"CleverTap failed on {where} ({status}: {text}); retry later",
            status=status, body=body,
        )  # fmt: skip
    return DestinationRequestError(
        f"CleverTap rejected the request to {where} ({status}: {text})", status=status, body=body
    )


def map_transport(exc: httpx.HTTPError, url: str) -> DestinationError:
    """The Syncline error for an httpx transport failure, most specific first."""
    if isinstance(exc, httpx.ConnectError):
        return DestinationUnreachableError(
            f"cannot reach CleverTap at {url} ({exc}); check the region or endpoint and the network"
        )
    if isinstance(exc, httpx.TimeoutException):
        return DestinationUnavailableError(f"CleverTap at {url} timed out ({type(exc).__name__})")
    return DestinationUnavailableError(
        f"the connection to CleverTap at {url} failed ({type(exc).__name__}: {exc})"
    )


class CleverTapClient:
    """A connected CleverTap account implementing ``DestinationClient``."""

    capabilities: DestinationCapabilities = CAPABILITIES

    def __init__(
        self, config: CleverTapDestinationConfig, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        # CleverTap limits concurrent uploads per account (documented: 15, 429 beyond)
        self.budget_key = f"clevertap:{config.account_id}"
        self.base_url = base_url(config.region, config.endpoint)
        self._transport = transport
        # made on first use: a run with nothing to send never needs it, and building it (TLS
        # context, CA bundle) was about 40 ms of every start-up (bench/PROFILING.md)
        self._http_client: httpx.Client | None = None
        self._http_lock = threading.Lock()
        self._closed = False
        self._upload_url = f"{self.base_url}/1/upload"
        self._dry_run_url = f"{self._upload_url}?dryRun=1"
        self._discarded = frozenset(config.discarded_events)

    @property
    def _http(self) -> httpx.Client:
        """The shared connection pool, made by the first request (of any delivery thread)."""
        client = self._http_client
        if client is None:
            with self._http_lock:
                client = self._http_client
                if client is None:
                    client = self._http_client = self._new_http()
                    if self._closed:  # used after close(): as httpx does, refuse to send
                        client.close()
        return client

    def _new_http(self) -> httpx.Client:
        limits = httpx.Limits(
            max_connections=rules.MAX_CONCURRENT_UPLOADS + 1,
            max_keepalive_connections=rules.MAX_CONCURRENT_UPLOADS + 1,
        )
        headers = {
            "X-CleverTap-Account-Id": self.config.account_id,
            "X-CleverTap-Passcode": self.config.passcode.get_secret_value(),
            "Content-Type": "application/json; charset=utf-8",
        }
        return httpx.Client(
            base_url=self.base_url, headers=headers, timeout=self.config.timeout_s, limits=limits,
            transport=self._transport,
        )  # fmt: skip

    def check(self) -> None:
        """Call ``GET /v1/connect`` and explain a refusal: account id, passcode, region, host."""
        response = self._connect()
        if response.status_code == 200:
            return
        text = _error_text(response)
        if response.status_code == 401 and text == _BAD_PASSCODE:
            raise DestinationAuthError(
                f"CleverTap: the passcode for account {self.config.account_id} is wrong "
                f"({text}); copy it from {_SETTINGS} (Passcode)",
                status=401, body=response.text,
            )  # fmt: skip
        if response.status_code == 401 and text == _BAD_ACCOUNT:
            raise self._account_or_region_error(response)
        raise map_status(response, f"account {self.config.account_id} (GET /v1/connect)")

    def _connect(self) -> httpx.Response:
        url = f"{self.base_url}/v1/connect"
        try:
            return self._http.get("/v1/connect", params={"partner": "syncline"})
        except httpx.HTTPError as exc:
            raise map_transport(exc, url) from exc

    def _account_or_region_error(self, response: httpx.Response) -> DestinationAuthError:
        """Tell a wrong region from a wrong account id by asking each other region's host once.

        Only with real hosts (no ``endpoint``): a region that knows the account answers 200 or
        "Invalid Credentials" instead of "Account ID is not valid".
        """
        account = self.config.account_id
        if self.config.endpoint is None:
            for region in REGIONS:
                if region != self.config.region and self._known_in(region):
                    return DestinationAuthError(
                        f"CleverTap account {account} is not in region {self.config.region} "
                        f"but in {region}; set `region: {region}` (the region is in the "
                        f"dashboard URL, e.g. https://{region}.dashboard.clevertap.com)",
                        status=401, body=response.text,
                    )  # fmt: skip
        return DestinationAuthError(
            f"CleverTap does not know account id {account!r} in region {self.config.region} "
            f"({_BAD_ACCOUNT}); copy the Account ID from {_SETTINGS} and check the region",
            status=401, body=response.text,
        )  # fmt: skip

    def _known_in(self, region: str) -> bool:
        # an absolute URL bypasses base_url: same pool, same headers, Host = the region's host
        url = f"https://{region_host(region)}/v1/connect"
        try:
            response = self._http.get(url, params={"partner": "syncline"})
        except httpx.HTTPError:
            return False
        return response.status_code == 200 or _error_text(response) == _BAD_PASSCODE

    def validate(self, record: Record) -> Rejection | None:
        """CleverTap's rules applied locally; same code and message as the API would give.

        CleverTap names one fault per record; ``faults`` lists every property at fault.
        """
        found = rules.validate_all(
            record,
            max_event_properties=self.config.max_event_properties,
            discarded_events=self._discarded,
        )
        if not found:
            return None
        first = found[0]
        faults = tuple(
            FieldFault(str(v.field), str(v.code), v.message) for v in found if v.in_data
        ) if first.in_data else ()  # fmt: skip
        return Rejection(str(first.code), first.message, first.field, faults)

    def drop_fields(self, record: Record, fields: Collection[str]) -> Record:
        """``record`` without the named ``profileData``/``evtData`` properties."""
        key = "profileData" if record.get("type") == "profile" else "evtData"
        data = record.get(key)
        if not isinstance(data, dict):
            return record
        return {**record, key: {k: v for k, v in data.items() if k not in fields}}

    def suspects(self, columns: RecordColumns) -> set[int]:
        """Rows that may break a rule, found by column (see ``screen``); ``validate`` decides."""
        return screen.suspects(
            columns,
            max_event_properties=self.config.max_event_properties,
            discarded_events=self._discarded,
            now=time.time(),
        )

    def encode(self, records: Sequence[Record]) -> bytes:
        """The upload body ``{"d": [...]}``."""
        return orjson.dumps({"d": records})

    def deliver(self, body: bytes, size: int, *, dry_run: bool = False) -> BatchOutcome:
        """POST one encoded batch to ``/1/upload``; map ``unprocessed`` back to positions."""
        url = self._dry_run_url if dry_run else self._upload_url
        try:
            response = self._http.post(url, content=body)
        except httpx.HTTPError as exc:
            raise map_transport(exc, url) from exc
        if response.status_code != 200:
            raise map_status(response, f"account {self.config.account_id} (POST /1/upload)")
        return self._outcome(response, size)

    def _outcome(self, response: httpx.Response, size: int) -> BatchOutcome:
        """The batch's outcome, believed only when the answer accounts for every record.

        Documented (Upload Events/Profiles API, example response): HTTP 200 with ``status``
        success/partial/fail, ``processed`` (a count) and ``unprocessed`` (one entry per record
        not processed, its error text ending "Skipped record number : N", 1-based). Our choice:
        the three must agree with the batch (``processed + len(unprocessed) == size``, the
        status that follows from them, each record named once); any other 200 is a
        ``DestinationAnswerError``, so no record is counted accepted on a body we do not
        understand.
        """
        try:
            data: Any = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise self._bad_answer(response, "is not JSON") from exc
        if not isinstance(data, dict):
            raise self._bad_answer(response, "is not a JSON object")
        processed, unprocessed = data.get("processed"), data.get("unprocessed")
        if not isinstance(unprocessed, list):
            raise self._bad_answer(response, "has no `unprocessed` list")
        if not isinstance(processed, int) or isinstance(processed, bool):
            raise self._bad_answer(response, "has no `processed` count")
        if processed + len(unprocessed) != size:
            raise self._bad_answer(response, f"accounts for {processed} processed + "
                                   f"{len(unprocessed)} unprocessed records of {size} sent")
        expected = "success" if not unprocessed else "fail" if processed == 0 else "partial"
        if data.get("status") != expected:
            raise self._bad_answer(response, f"has status {data.get('status')!r} where its "
                                   f"counts mean {expected!r}")
        rejected: dict[int, Rejection] = {}
        unknown: dict[int, Rejection] = {}
        for entry in unprocessed:
            position, rejection, known = self._one_rejection(entry, response, size)
            if position in rejected or position in unknown:
                raise self._bad_answer(response, f"names record {position + 1} twice")
            (rejected if known else unknown)[position] = rejection
        return BatchOutcome(size=size, rejected=rejected, unknown=unknown)

    def _one_rejection(
        self, entry: Any, response: httpx.Response, size: int
    ) -> tuple[int, Rejection, bool]:
        """(position, rejection, whether the code is one CleverTap documents).

        An entry with a documented code is a rejection; one with a code we do not know keeps
        CleverTap's raw text as its reason and is not counted rejected (see ``BatchOutcome``).
        Without a record number the entry cannot be placed, so the whole answer is refused.
        """
        text = entry.get("error") if isinstance(entry, dict) else None
        if not isinstance(text, str):
            raise self._bad_answer(response, "has an `unprocessed` entry without `error`")
        message, number = rules.parse_error_text(text)
        if number is None or not 1 <= number <= size:
            raise self._bad_answer(response, f"names no record number in {text!r}")
        code = entry.get("code")
        if isinstance(code, int) and not isinstance(code, bool) and code in rules.MESSAGES:
            return number - 1, Rejection(code=str(code), message=message), True
        return number - 1, Rejection(code=str(code), message=text), False

    def _bad_answer(self, response: httpx.Response, what: str) -> DestinationAnswerError:
        log.warning("CleverTap's answer to POST /1/upload %s; raw body: %s", what, response.text)
        return DestinationAnswerError(
            f"CleverTap's answer to POST /1/upload {what}, so its rows cannot be accounted "
            f"for: {response.text[:500]}",
            status=response.status_code, body=response.text,
        )  # fmt: skip

    def delete_profiles(self, identities: Sequence[str], *, field: str) -> None:
        """``POST /1/delete/profiles.json`` with ``{"identity": [...]}`` or ``{"guid": [...]}``.

        Documented (developer.clevertap.com/docs/delete-user-profile-api): the endpoint and
        method, a body with either ``identity`` or ``guid`` (CleverTap's objectId) as a string
        or an array, at most 100 values per array, and 400 for a body with both. Not documented:
        the answer's body. Our choice: HTTP 200 with ``"status": "success"`` confirms the
        request; a 200 saying anything else is a refusal; other statuses map as for uploads
        (429 and 5xx are transient, and deleting again is harmless). Third-party clients seen
        (RudderStack's) check the HTTP status only.
        """
        if len(identities) > rules.MAX_DELETES_PER_REQUEST:
            raise ValueError(f"at most {rules.MAX_DELETES_PER_REQUEST} profiles per delete")
        key = {"identity": "identity", "objectId": "guid"}.get(field)
        if key is None:
            raise ValueError(f"CleverTap deletes by identity or objectId, not {field}")
        where = f"account {self.config.account_id} (POST /1/delete/profiles.json)"
        url = f"{self.base_url}/1/delete/profiles.json"
        try:
            response = self._http.post(url, content=orjson.dumps({key: list(identities)}))
        except httpx.HTTPError as exc:
            raise map_transport(exc, url) from exc
        if response.status_code != 200:
            raise map_status(response, where)
        try:
            data: Any = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict) or data.get("status") != "success":
            raise DestinationRequestError(
                f"CleverTap did not confirm the delete on {where}: {response.text[:500]}",
                status=response.status_code, body=response.text,
            )  # fmt: skip

    def close(self) -> None:
        """Close the shared connection pool (if a request made one)."""
        with self._http_lock:
            self._closed = True
            client = self._http_client
        if client is not None:
            client.close()
