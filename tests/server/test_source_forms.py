"""The source forms' table: warehouse types offered when their driver is installed, and form
fields turned into configs the models accept."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from syncline.server.pages.source_forms import FORMS, config_from_form, offered, values_of
from syncline.server.project.definitions import validate_connection


def test_a_warehouse_is_offered_once_its_driver_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    types = [form.type for form in offered()]
    assert types[:6] == ["postgres", "mysql", "sqlite", "duckdb", "files", "google_sheets"]
    if "bigquery" in types:
        pytest.skip("the bigquery extra is installed here")
    (tmp_path / "sqlalchemy_bigquery").mkdir()  # a stand-in package, found by the real importer
    (tmp_path / "sqlalchemy_bigquery" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    assert "bigquery" in [form.type for form in offered()]


def test_form_fields_become_a_valid_config_and_read_back() -> None:
    postgres = config_from_form(FORMS["postgres"], {
        "host": "db", "port": "5432", "database": "crm", "user": "u", "password": "",
        "query": "sslmode=require", "read_only": "on", "url": ""})
    assert postgres == {"type": "postgres", "host": "db", "port": 5432, "database": "crm",
                        "user": "u", "query": {"sslmode": "require"}, "read_only": True}
    validate_connection("source", postgres)
    saved = {"tables": {"users": {"path": "u.txt", "format": "csv", "delimiter": ";"}}}
    files = config_from_form(FORMS["files"], {"tables": "users: u.txt\norders: o/*.parquet"},
                             saved)
    assert files["tables"] == {"users": {"path": "u.txt", "format": "csv", "delimiter": ";"},
                               "orders": {"path": "o/*.parquet"}}
    validate_connection("source", files)
    shown = values_of(FORMS["files"], files, {})
    assert shown["tables"] == "users: u.txt\norders: o/*.parquet"
    sheets = config_from_form(FORMS["google_sheets"], {"spreadsheet_id": "abc", "range": "",
                                                       "api_key": "k"})
    assert validate_connection("source", sheets).model_dump()["range"] == "Sheet1"
