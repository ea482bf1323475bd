"""Unit tests of the CleverTap client over ``httpx.MockTransport`` (wire-level stand-in)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest
from pydantic import SecretStr

from syncline.config.models import CleverTapDestinationConfig
from syncline.destinations.base import FieldFault, Rejection
from syncline.destinations.clevertap import CAPABILITIES, create_client
from syncline.destinations.clevertap.client import CleverTapClient
from syncline.destinations.registry import destination_client, known_types
from syncline.errors import (
    ConfigError,
    DestinationAnswerError,
    DestinationAuthError,
    DestinationError,
    DestinationRateLimitError,
    DestinationRequestError,
    DestinationUnavailableError,
    DestinationUnreachableError,
    Transient,
)

Handler = Callable[[httpx.Request], httpx.Response]


def _config(region: str = "eu1", endpoint: str | None = None) -> CleverTapDestinationConfig:
    return CleverTapDestinationConfig(
        type="clevertap", account_id="ACC-1", passcode=SecretStr("s3cret"), region=region,  # type: ignore[arg-type]
        endpoint=endpoint,
    )  # fmt: skip


def _client(handler: Handler, region: str = "eu1", endpoint: str | None = None) -> CleverTapClient:
    return CleverTapClient(_config(region, endpoint), transport=httpx.MockTransport(handler))


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "processed": 0, "unprocessed": []})


def test_headers_are_clevertaps() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _ok(request)

    client = _client(handler)
    try:
        client.deliver(b'{"d":[]}', 0)
    finally:
        client.close()
    headers = seen[0].headers
    assert headers["X-CleverTap-Account-Id"] == "ACC-1"
    assert headers["X-CleverTap-Passcode"] == "s3cret"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert seen[0].method == "POST"
    assert seen[0].content == b'{"d":[]}'


@pytest.mark.parametrize(
    ("region", "endpoint", "url"),
    [
        ("eu1", None, "https://eu1.api.clevertap.com/1/upload"),
        ("in1", None, "https://in1.api.clevertap.com/1/upload"),
        ("us1", None, "https://us1.api.clevertap.com/1/upload"),
        ("sg1", None, "https://sg1.api.clevertap.com/1/upload"),
        ("aps3", None, "https://aps3.api.clevertap.com/1/upload"),
        ("mec1", None, "https://mec1.api.clevertap.com/1/upload"),
        ("sk1", None, "https://sk1.api.clevertap.com/1/upload"),
        ("us1", "http://127.0.0.1:8899/", "http://127.0.0.1:8899/1/upload"),
    ],
    ids=["eu1", "in1", "us1", "sg1", "aps3", "mec1", "sk1", "endpoint-overrides-region"],
)
def test_url_per_region_and_endpoint(region: str, endpoint: str | None, url: str) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return _ok(request)

    client = _client(handler, region, endpoint)
    try:
        client.deliver(b'{"d":[]}', 0)
        client.deliver(b'{"d":[]}', 0, dry_run=True)
    finally:
        client.close()
    assert seen == [url, url + "?dryRun=1"]


def _status(code: int, error: str) -> Handler:
    return lambda request: httpx.Response(
        code, json={"status": "fail", "error": error, "code": code}
    )


def _raise(exc: type[httpx.HTTPError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("boom", request=request)  # type: ignore[call-arg]

    return handler


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (_status(401, "Account ID is not valid"), DestinationAuthError),
        (_status(401, "Invalid Credentials"), DestinationAuthError),
        (_status(403, "Operation is not allowed"), DestinationAuthError),
        (_status(400, "Malformed request"), DestinationRequestError),
        (_status(404, "Not found"), DestinationRequestError),
        (_status(413, "Too large"), DestinationRequestError),
        (_status(429, "Too many concurrent requests"), DestinationRateLimitError),
        (_status(500, "Server Error"), DestinationUnavailableError),
        (_status(502, "Bad Gateway"), DestinationUnavailableError),
        (_status(503, "Service Unavailable"), DestinationUnavailableError),
        (_raise(httpx.ConnectError), DestinationUnreachableError),
        (_raise(httpx.ConnectTimeout), DestinationUnavailableError),
        (_raise(httpx.ReadTimeout), DestinationUnavailableError),
        (_raise(httpx.WriteTimeout), DestinationUnavailableError),
        (_raise(httpx.PoolTimeout), DestinationUnavailableError),
        (_raise(httpx.RemoteProtocolError), DestinationUnavailableError),
        (_raise(httpx.ReadError), DestinationUnavailableError),
        (_raise(httpx.WriteError), DestinationUnavailableError),
    ],
    ids=[
        "401-account", "401-passcode", "403", "400", "404", "413", "429", "500", "502", "503",
        "connect-error", "connect-timeout", "read-timeout", "write-timeout", "pool-timeout",
        "remote-protocol", "read-error", "write-error",
    ],
)  # fmt: skip
def test_error_mapping(handler: Handler, error: type[DestinationError]) -> None:
    client = _client(handler)
    try:
        with pytest.raises(DestinationError) as info:
            client.deliver(b'{"d":[]}', 0)
    finally:
        client.close()
    assert type(info.value) is error
    if isinstance(info.value.__cause__, httpx.HTTPError):
        assert "eu1.api.clevertap.com" in str(info.value)
    else:
        assert info.value.status is not None and str(info.value.status) in str(info.value)
        assert info.value.body is not None and '"fail"' in info.value.body


def test_request_error_includes_clevertaps_text() -> None:
    client = _client(_status(400, "Malformed request"))
    try:
        with pytest.raises(DestinationRequestError, match="Malformed request"):
            client.deliver(b"{", 1)
    finally:
        client.close()


def _answer(unprocessed: list[dict[str, object]], size: int) -> Handler:
    """A consistent answer: the records not listed as unprocessed were processed."""
    processed = size - len(unprocessed)
    status = "success" if not unprocessed else "partial" if processed else "fail"
    body = {"status": status, "processed": processed, "unprocessed": unprocessed}
    return lambda request: httpx.Response(200, content=orjson.dumps(body))


def test_unprocessed_map_to_positions_out_of_order() -> None:
    unprocessed: list[dict[str, object]] = [
        {"status": "fail", "code": 523, "error": "Missing identity. Skipped record number : 5"},
        {"status": "fail", "code": 515,
         "error": "Profile data is incorrect. Email is not valid.Skipped record number : 1"},
        {"status": "fail", "code": 518, "error": "Profile data is incorrect. Education needs to "
         "be School/College/Graduate..Skipped record number : 3"},
    ]  # fmt: skip
    client = _client(_answer(unprocessed, 5))
    try:
        outcome = client.deliver(b"{}", 5)
    finally:
        client.close()
    assert dict(outcome.rejected) == {
        4: Rejection("523", "Missing identity"),
        0: Rejection("515", "Profile data is incorrect. Email is not valid"),
        2: Rejection(
            "518", "Profile data is incorrect. Education needs to be School/College/Graduate."
        ),
    }
    assert outcome.accepted_count == 2


@pytest.mark.parametrize(
    "error",
    ["Missing identity", "Missing identity. Skipped record number : 0",
     "Missing identity. Skipped record number : 9"],
    ids=["no-number", "number-zero", "number-beyond-batch"],
)  # fmt: skip
def test_unplaceable_unprocessed_fails_the_batch(error: str) -> None:
    client = _client(_answer([{"status": "fail", "code": 523, "error": error}], 3))
    try:
        with pytest.raises(DestinationAnswerError, match="cannot be accounted") as info:
            client.deliver(b"{}", 3)
    finally:
        client.close()
    assert info.value.body is not None and error in info.value.body


def test_non_json_answer_fails_the_batch() -> None:
    client = _client(lambda request: httpx.Response(200, content=b"<html>"))
    try:
        with pytest.raises(DestinationAnswerError, match="not JSON"):
            client.deliver(b"{}", 1)
    finally:
        client.close()


_MISSING = {"status": "fail", "code": 523, "error": "Missing identity. Skipped record number : 2"}


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ({"status": "fail"}, "no `unprocessed` list"),
        ({"status": "success", "unprocessed": []}, "no `processed` count"),
        ({"status": "success", "processed": 2, "unprocessed": []}, "2 processed + 0 unprocessed"),
        ({"status": "partial", "processed": 3, "unprocessed": [_MISSING]}, "3 processed + 1"),
        ({"status": "success", "processed": 2, "unprocessed": [_MISSING]}, "status 'success'"),
        ({"status": "partial", "processed": 3, "unprocessed": []}, "status 'partial'"),
        ({"status": "partial", "processed": 1, "unprocessed": [_MISSING, _MISSING]}, "twice"),
        ([1, 2, 3], "not a JSON object"),
    ],
    ids=["fail-without-lists", "no-processed", "too-few", "too-many", "status-success",
         "status-partial", "same-record-twice", "not-an-object"],
)  # fmt: skip
def test_a_200_is_believed_only_when_it_accounts_for_the_batch(body: object, what: str) -> None:
    """A 200 whose counts do not add up to the batch is a failed batch, never 'all accepted'."""
    client = _client(lambda request: httpx.Response(200, content=orjson.dumps(body)))
    try:
        with pytest.raises(DestinationAnswerError, match="cannot be accounted") as info:
            client.deliver(b"{}", 3)
    finally:
        client.close()
    assert what in str(info.value)
    assert info.value.body == orjson.dumps(body).decode()  # the raw body is kept
    assert isinstance(info.value, Transient)  # profiles retry it; events put it in doubt


def test_an_unknown_code_keeps_the_raw_text_and_is_not_a_rejection() -> None:
    text = "Something new happened. Skipped record number : 2"
    unprocessed: list[dict[str, object]] = [
        {"status": "fail", "code": 599, "error": text},
        {"status": "fail", "code": 523, "error": "Missing identity. Skipped record number : 3"},
    ]
    client = _client(_answer(unprocessed, 3))
    try:
        outcome = client.deliver(b"{}", 3)
    finally:
        client.close()
    assert dict(outcome.unknown) == {1: Rejection("599", text)}
    assert dict(outcome.rejected) == {2: Rejection("523", "Missing identity")}
    assert outcome.accepted_count == 1


def test_encode_is_the_upload_envelope() -> None:
    client = _client(_ok)
    try:
        body = client.encode([{"identity": "1", "type": "profile", "profileData": {"Ä": 1}}])
    finally:
        client.close()
    assert orjson.loads(body) == {
        "d": [{"identity": "1", "type": "profile", "profileData": {"Ä": 1}}]
    }


def test_check_calls_connect_with_partner() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "success"})

    client = _client(handler, "in1")
    try:
        client.check()
    finally:
        client.close()
    assert str(seen[0].url) == "https://in1.api.clevertap.com/v1/connect?partner=syncline"
    assert seen[0].method == "GET"


def test_check_names_unreachable_url() -> None:
    client = _client(_raise(httpx.ConnectError), endpoint="http://10.9.9.9:1")
    try:
        with pytest.raises(DestinationUnreachableError, match=r"http://10\.9\.9\.9:1/v1/connect"):
            client.check()
    finally:
        client.close()


def test_pool_is_sized_for_concurrent_uploads() -> None:
    client = _client(_ok)
    try:
        pool = client._http._transport
        assert isinstance(pool, httpx.MockTransport)  # the injected transport is used
    finally:
        client.close()
    real = CleverTapClient(_config())
    try:
        limits = real._http._transport._pool  # type: ignore[attr-defined]
        assert limits._max_connections >= 15
        assert limits._max_keepalive_connections >= 15
    finally:
        real.close()


def test_factory_and_registry() -> None:
    assert CAPABILITIES.max_records_per_batch == 1000 and CAPABILITIES.max_in_flight == 15
    made = create_client(_config())
    via_registry = destination_client(_config())
    try:
        assert isinstance(made, CleverTapClient)
        assert isinstance(via_registry, CleverTapClient)
        assert via_registry.capabilities is CAPABILITIES
    finally:
        made.close()
        via_registry.close()
    assert "clevertap" in known_types()


def test_registry_unknown_type_lists_known() -> None:
    class Odd:
        type = "hubspot"

    with pytest.raises(ConfigError, match=r"unknown destination type 'hubspot'.*clevertap"):
        destination_client(Odd())


def test_validate_converts_violation() -> None:
    client = _client(_ok)
    try:
        rejection = client.validate(
            {"identity": "u", "type": "profile", "profileData": {"Gender": "Q"}}
        )
        good = client.validate({"identity": "u", "type": "profile", "profileData": {"Gender": "M"}})
    finally:
        client.close()
    message = "Profile data is incorrect. Gender is not valid"
    assert rejection == Rejection("514", message, "Gender", (FieldFault("Gender", "514", message),))
    assert good is None


def test_validate_lists_every_field_and_drop_fields_leaves_a_valid_record() -> None:
    client = _client(_ok)
    record = {"identity": "u", "type": "profile",
              "profileData": {"Gender": "x", "Name": "Ann", "Phone": "98765", "Age": "old"}}
    try:
        rejection = client.validate(record)
        assert rejection is not None and rejection.code == "514"
        assert [(f.field, f.code) for f in rejection.faults] == [
            ("Gender", "514"), ("Phone", "516"), ("Age", "520")]
        kept = client.drop_fields(record, [f.field for f in rejection.faults])
        assert kept["profileData"] == {"Name": "Ann"} and client.validate(kept) is None
        assert record["profileData"]["Gender"] == "x"  # the original is left alone
        event = {"identity": "u", "type": "event", "evtName": "Viewed",
                 "evtData": {"Page": "/", "Nested": {"a": 1}, "a.b": 2}}  # fmt: skip
        bad = client.validate(event)
        assert bad is not None and [f.field for f in bad.faults] == ["Nested", "a.b"]
        assert client.drop_fields(event, ["Nested", "a.b"])["evtData"] == {"Page": "/"}
        whole = client.validate({"type": "profile", "profileData": {"Gender": "x"}})
        assert whole is not None and whole.code == "523" and whole.faults == ()
    finally:
        client.close()


def test_the_connection_pool_is_made_by_the_first_request() -> None:
    """A run with nothing to send never builds httpx's client (TLS context, CA bundle)."""
    client = _client(_ok)
    assert client._http_client is None
    client.check()
    assert client._http_client is not None
    client.close()
    unused = CleverTapClient(_config())
    unused.close()  # closing one that never sent builds nothing
    assert unused._http_client is None
    with pytest.raises(RuntimeError):  # used after close: refused, as httpx refuses
        unused._http.get("/v1/connect")
