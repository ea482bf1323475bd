"""DuckDB source against a real file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from syncline.config.models import DuckDBSourceConfig, ModelConfig
from syncline.errors import ConfigError, ModelError, SourceError
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
