"""DuckDB source against a real file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from syncline.config.models import DuckDBSourceConfig, ModelConfig
from syncline.errors import ConfigError, ModelError, SourceError
from syncline.sources import duckdb as duckdb_source
from syncline.sources.registry import model_sql, open_source


def test_duckdb_source(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute('CREATE SCHEMA "Odd s"; CREATE TABLE "Odd s"."T ""x""" (Id INT, "A b" TEXT)')
        conn.execute('INSERT INTO "Odd s"."T ""x""" SELECT range, range::TEXT FROM range(25)')
    src = open_source("wh", DuckDBSourceConfig(type="duckdb", path="w.duckdb"), tmp_path)
    src.check()
    assert "Odd s" in src.schemas() and src.tables("Odd s") == ['T "x"']
    sql = model_sql(ModelConfig(table='"Odd s"."T ""x"""'), src)
    assert [c.name for c in src.columns(sql)] == ["Id", "A b"]
    assert sum(b.num_rows for b in src.stream(sql, 10)) == 25
    with pytest.raises(ModelError, match="wh"):
        src.columns(model_sql(ModelConfig(table="nope.missing"), src))
    src.close()


def test_missing_file_and_unknown_type(tmp_path: Path) -> None:
    src = open_source("wh", DuckDBSourceConfig(type="duckdb", path="no.duckdb"), tmp_path)
    with pytest.raises(SourceError, match=r"no\.duckdb"):
        src.check()

    class Fake:
        type = "nosuch"

    with pytest.raises(ConfigError, match="duckdb"):
        open_source("x", Fake(), tmp_path)


def _writer(path: Path, hold_s: float) -> subprocess.Popen[str]:
    """Another process that holds the file open for writing for ``hold_s`` seconds."""
    code = ("import duckdb, sys, time\n"
            f"c = duckdb.connect({str(path)!r})\n"
            "print('holding', flush=True)\n"
            f"time.sleep({hold_s})\n")
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "holding"
    return writer


def test_opening_waits_for_another_processs_writer_then_reads(tmp_path: Path) -> None:
    """A load of the user's own holds the write lock: the sync queues for the file."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute("CREATE TABLE t AS SELECT range AS i FROM range(3)")
    writer = _writer(tmp_path / "w.duckdb", 1.5)
    src = open_source("wh", DuckDBSourceConfig(type="duckdb", path="w.duckdb"), tmp_path)
    assert writer.poll() is None  # still writing when the source opens
    assert sum(b.num_rows for b in src.stream(model_sql(ModelConfig(table="t"), src))) == 3
    assert writer.wait(timeout=30) == 0
    src.close()


def test_a_writer_that_stays_fails_the_open_after_the_bounded_wait(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute("CREATE TABLE t (i INT)")
    monkeypatch.setattr(duckdb_source, "LOCK_WAIT_S", 0.3)
    writer = _writer(tmp_path / "w.duckdb", 30)
    try:
        src = open_source("wh", DuckDBSourceConfig(type="duckdb", path="w.duckdb"), tmp_path)
        with pytest.raises(SourceError, match=r"w\.duckdb.*open for writing"):
            src.check()
    finally:
        writer.kill()
        writer.wait()
