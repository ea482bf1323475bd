"""Files source: CSV, Parquet and JSON lines written by the tests, read through DuckDB."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from syncline.config.sources import FilesSourceConfig, FileTableConfig
from syncline.errors import ConfigError, ModelError, SourceError
from syncline.sources.files import open_files_source, quote_ident

TABLE = 'Web "Signups" 2024'


def _config(tables: dict[str, str | list[str]]) -> FilesSourceConfig:
    return FilesSourceConfig(
        type="files", tables={k: FileTableConfig(path=v) for k, v in tables.items()}
    )


def _write_all(root: Path) -> None:
    (root / "csv").mkdir()
    (root / "csv" / "a.csv").write_text(
        "id,Full Name,amount,born,seen_at,active\n"
        "1,Zoë 東京,12.50,1990-05-17,2024-01-02 03:04:05,true\n", encoding="utf-8")
    (root / "csv" / "b.csv").write_text(
        "id,Full Name,amount,born,seen_at,active\n2,\"comma, quote\"\"\",-0.01,2000-01-01,"
        "2023-12-31 23:59:59,false\n3,,,,,\n", encoding="utf-8")
    table = pa.table({
        "id": pa.array([1, 2], pa.int64()),
        "amount": pa.array([Decimal("1.25"), None], pa.decimal128(10, 2)),
        "seen_at": pa.array([dt.datetime(2024, 1, 1, 12), None], pa.timestamp("us")),
    })
    pq.write_table(table, root / "events.parquet")
    lines = [{"id": 1, "tags": "a", "ok": True}, {"id": 2, "tags": None, "ok": False}]
    (root / "e.jsonl").write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")


def test_files_check_browse_stream(tmp_path: Path) -> None:
    _write_all(tmp_path)
    cfg = _config({TABLE: "csv/*.csv", "events": "events.parquet", "lines": "e.jsonl"})
    source = open_files_source("files", cfg, tmp_path)
    try:
        source.check()
        assert source.schemas() == ["main"]
        assert source.tables("main") == [TABLE, "events", "lines"]
        assert source.capabilities.dialect == "duckdb" and not source.capabilities.writable
        model = f"SELECT * FROM {quote_ident(TABLE)} ORDER BY id"
        types = {c.name: c.type for c in source.columns(model)}
        assert types["born"] == "DATE" and types["active"] == "BOOLEAN"
        assert types["seen_at"] == "TIMESTAMP" and types["Full Name"] == "VARCHAR"
        batches = list(source.stream(model, batch_rows=2))
        rows = [r for b in batches for r in b.to_pylist()]
        assert [r["Full Name"] for r in rows] == ["Zoë 東京", 'comma, quote"', None]
        assert rows[0]["born"] == dt.date(1990, 5, 17) and rows[1]["active"] is False
        assert rows[1]["seen_at"] == dt.datetime(2023, 12, 31, 23, 59, 59)
        assert rows[2]["amount"] is None and float(rows[1]["amount"]) == -0.01
        parquet = next(source.stream("SELECT * FROM events ORDER BY id")).to_pylist()
        assert parquet[0]["amount"] == Decimal("1.25") and parquet[1]["seen_at"] is None
        lines = next(source.stream("SELECT * FROM lines ORDER BY id")).to_pylist()
        assert lines == [{"id": 1, "tags": "a", "ok": True}, {"id": 2, "tags": None, "ok": False}]
    finally:
        source.close()


def test_files_bad_input(tmp_path: Path) -> None:
    _write_all(tmp_path)
    with pytest.raises(SourceError, match=r"table `t`: no file matches `.*missing/\*\.csv`"):
        open_files_source("files", _config({"t": "missing/*.csv"}), tmp_path)
    (tmp_path / "data.bin").write_bytes(b"\x00")
    with pytest.raises(ConfigError, match=r"cannot tell the format.*set `format:`"):
        open_files_source("files", _config({"t": "data.bin"}), tmp_path)
    source = open_files_source("files", _config({"t": "csv/a.csv"}), tmp_path)
    try:
        with pytest.raises(ModelError, match="syntax error"):
            source.columns("SELEC * FROM t")
        with pytest.raises(ModelError, match=r"does not exist \(tables: t\)"):
            source.columns("SELECT * FROM nope")
        with pytest.raises(ModelError, match="schema `x` does not exist"):
            source.tables("x")
    finally:
        source.close()


def test_files_changing_shape_names_the_table(tmp_path: Path) -> None:
    (tmp_path / "p1.csv").write_text("id,name\n1,a\n", encoding="utf-8")
    (tmp_path / "p2.csv").write_text("id,renamed\n2,b\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"source `files`: .*share one shape.*p2.csv"):
        source = open_files_source("files", _config({"parts": "p*.csv"}), tmp_path)
        try:
            source.check()
            list(source.stream("SELECT * FROM parts"))
        finally:
            source.close()


def test_files_explicit_format_and_delimiter(tmp_path: Path) -> None:
    (tmp_path / "export.dat").write_text("id;note\n1;a,b\n2;ü\n", encoding="utf-8")
    cfg = FilesSourceConfig(type="files", tables={
        "My Table": FileTableConfig(path=str(tmp_path / "export.dat"), format="csv", delimiter=";"),
    })
    source = open_files_source("files", cfg, tmp_path)
    try:
        source.check()
        rows = next(source.stream(f"SELECT * FROM {quote_ident('My Table')} ORDER BY id"))
        assert rows.to_pylist() == [{"id": 1, "note": "a,b"}, {"id": 2, "note": "ü"}]
    finally:
        source.close()
