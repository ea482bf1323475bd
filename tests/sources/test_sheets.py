"""Google Sheets source against the local Sheets API fake over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from syncline.config.sources import GoogleSheetsSourceConfig
from syncline.errors import ConfigError, ModelError, SourceError
from syncline.sources.files import quote_ident
from syncline.sources.sheets import SheetsSource, open_sheets_source, to_arrow
from syncline.testing.sheets_fake import SheetsFake, make_service_account

KEY = "test-api-key"
SID = "1AbC-spreadsheet"
VALUES: list[list[Any]] = [
    ["user id", 'Nick "Name"', "score", "vip", "signed_up", "blank"],
    [1, "Zoë 東京", 12.5, True, "2024-01-02"],
    [2, "", 7, False, "2024-02-03", ""],
    [3, "plain", None, None, None],
]


@pytest.fixture
def fake() -> Iterator[SheetsFake]:
    server = SheetsFake(api_keys={KEY})
    server.add_sheet(SID, "Users Tab", VALUES)
    with server:
        yield server


def _open(fake: SheetsFake, **fields: Any) -> SheetsSource:
    base: dict[str, Any] = {"type": "google_sheets", "spreadsheet_id": SID,
                            "range": "'Users Tab'", "base_url": fake.url, "table": "users"}
    if "service_account_json" not in fields:
        base["api_key"] = KEY
    return open_sheets_source("gs", GoogleSheetsSourceConfig(**(base | fields)))


def test_sheets_api_key_check_browse_stream(fake: SheetsFake) -> None:
    source = _open(fake)
    try:
        source.check()
        assert source.schemas() == ["main"] and source.tables("main") == ["users"]
        model = f"SELECT * FROM users ORDER BY {quote_ident('user id')}"
        types = {c.name: c.type for c in source.columns(model)}
        assert types == {"user id": "BIGINT", 'Nick "Name"': "VARCHAR", "score": "DOUBLE",
                         "vip": "BOOLEAN", "signed_up": "VARCHAR", "blank": "VARCHAR"}
        rows = [r for b in source.stream(model, batch_rows=2) for r in b.to_pylist()]
        assert rows == [
            {"user id": 1, 'Nick "Name"': "Zoë 東京", "score": 12.5, "vip": True,
             "signed_up": "2024-01-02", "blank": None},
            {"user id": 2, 'Nick "Name"': None, "score": 7.0, "vip": False,
             "signed_up": "2024-02-03", "blank": None},
            {"user id": 3, 'Nick "Name"': "plain", "score": None, "vip": None,
             "signed_up": None, "blank": None},
        ]
        nick = quote_ident('Nick "Name"')
        picked = source.stream(f"SELECT {nick} AS n FROM users LIMIT 1")
        assert next(picked).to_pylist() == [{"n": "Zoë 東京"}]
        assert fake.requests == 1  # fetched once, then read from memory
    finally:
        source.close()


def test_sheets_service_account(fake: SheetsFake) -> None:
    key_json, public = make_service_account(f"{fake.url}/token")
    email = json.loads(key_json)["client_email"]
    fake.add_account(email, public)
    source = _open(fake, service_account_json=key_json)
    try:
        with pytest.raises(SourceError, match="share the sheet with the service account"):
            source.check()  # not shared yet: 403
        fake.shared_with[SID].add(email)
        source.check()
        assert next(source.stream("SELECT count(*) AS n FROM users")).to_pylist() == [{"n": 3}]
    finally:
        source.close()
    other_json, _ = make_service_account(f"{fake.url}/token", email=email)  # unknown key
    other = _open(fake, service_account_json=other_json)
    try:
        with pytest.raises(SourceError, match=r"was refused at .*/token.*Invalid JWT Signature"):
            other.check()
    finally:
        other.close()
    broken = _open(fake, service_account_json='{"client_email": "x"}')
    try:
        with pytest.raises(ConfigError, match="not a service-account key file"):
            broken.check()
    finally:
        broken.close()


def test_sheets_errors(fake: SheetsFake) -> None:
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"api_key": "wrong"}, SourceError, r"access refused \(400: API key not valid"),
        ({"spreadsheet_id": "nope"}, ModelError, r"spreadsheet `nope`: not found.*spreadsheet_id"),
        ({"range": "Missing!A1:B2"}, ModelError, r"range `Missing!A1:B2` refused.*Unable to parse"),
        ({"base_url": "http://127.0.0.1:1"}, SourceError, r"cannot reach http://127.0.0.1:1"),
    ]
    for fields, error, message in cases:
        source = _open(fake, **fields)
        try:
            with pytest.raises(error, match=message):
                source.check()
        finally:
            source.close()
    source = _open(fake)
    try:
        with pytest.raises(ModelError, match="syntax error"):
            source.columns("SELEC 1")
        with pytest.raises(ModelError, match=r"does not exist \(tables: users\)"):
            source.columns("SELECT * FROM other")
    finally:
        source.close()
    with pytest.raises(ValueError, match="exactly one of `api_key` or `service_account_json`"):
        GoogleSheetsSourceConfig(type="google_sheets", spreadsheet_id=SID)


def test_sheets_range_and_header_rules(fake: SheetsFake) -> None:
    source = _open(fake, range="'Users Tab'!A1:B3")
    try:
        rows = next(source.stream("SELECT * FROM users")).to_pylist()
        assert rows == [{"user id": 1, 'Nick "Name"': "Zoë 東京"},
                        {"user id": 2, 'Nick "Name"': None}]
    finally:
        source.close()
    with pytest.raises(ModelError, match=r"repeated: \['a'\]"):
        to_arrow([["a", "a"], [1, 2]], "here")
    with pytest.raises(ModelError, match=r"blank columns: \[2\]"):
        to_arrow([["a", ""], [1, 2]], "here")
    with pytest.raises(ModelError, match="range is empty"):
        to_arrow([], "here")
    mixed = to_arrow([["v"], [1], ["x"], [2.5]], "here")
    assert mixed.column("v").to_pylist() == ["1", "x", "2.5"]
