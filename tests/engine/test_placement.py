"""Where a sync's diff runs: one decision (``engine/placement.py``) for the run and the run
page, from the sync's ``diff:`` and its source's config; a built-in source's capabilities told
from its config are the ones it reports once opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest

from syncline.config.models import DuckDBSourceConfig, ModelConfig, SyncConfig
from syncline.config.sources import (
    FilesSourceConfig,
    MySQLSourceConfig,
    PostgresSourceConfig,
    SnowflakeSourceConfig,
    SQLiteSourceConfig,
)
from syncline.engine.placement import DiffPlace, diff_place
from syncline.sources.registry import capabilities_of, open_source


def _sync(diff: str | None = None) -> SyncConfig:
    return SyncConfig.model_validate({"source": "wh", "model": ModelConfig(table="t"),
                                      "destination": "ct", "object": "profile",
                                      "sync_key": "id", "diff": diff})


def _configs(tmp: Path) -> list[Any]:
    duckdb.connect(str(tmp / "w.duckdb")).close()
    (tmp / "p.csv").write_text("id\n1\n")
    sqlite3.connect(tmp / "w.sqlite").close()
    return [
        DuckDBSourceConfig(type="duckdb", path=str(tmp / "w.duckdb")),
        DuckDBSourceConfig(type="duckdb", path=str(tmp / "w.duckdb"), read_only=True),
        FilesSourceConfig(type="files", tables={"p": {"path": str(tmp / "p.csv")}}),
        SQLiteSourceConfig(type="sqlite", path=str(tmp / "w.sqlite")),
        SQLiteSourceConfig(type="sqlite", path=str(tmp / "w.sqlite"), read_only=True),
    ]


def test_a_config_tells_the_capabilities_its_opened_source_reports(tmp_path: Path) -> None:
    for config in _configs(tmp_path):
        source = open_source("wh", config, tmp_path)
        try:
            assert capabilities_of(config) == source.capabilities, config
            opened = diff_place("s", _sync(), config, source.capabilities)
            assert diff_place("s", _sync(), config) == opened, config
        finally:
            source.close()
    assert capabilities_of(SimpleNamespace(type="my_plugin")) is None


PG = PostgresSourceConfig(type="postgres", url="postgresql+psycopg://u@h/analytics")
PG_RO = PG.model_copy(update={"read_only": True})
MY = MySQLSourceConfig(type="mariadb", host="h", database="shop", user="u")
MY_URL = MySQLSourceConfig(type="mysql", url="mysql+pymysql://u@h:3306/crm")
SNOW = SnowflakeSourceConfig(type="snowflake", url="snowflake://u@acct/db/schema")
DUCK_RO = DuckDBSourceConfig(type="duckdb", path="w.duckdb", read_only=True)


@pytest.mark.parametrize(("config", "diff", "place"), [
    (PG, None, DiffPlace("source", "postgres")),
    (PG_RO, None, DiffPlace("local", "duckdb")),
    (PG, "local", DiffPlace("local", "duckdb")),
    (MY, None, DiffPlace("source", "mysql", "shop__")),
    (MY_URL, None, DiffPlace("source", "mysql", "crm__")),
    (DUCK_RO, None, DiffPlace("local", "duckdb")),
    (DuckDBSourceConfig(type="duckdb", path="w.duckdb"), None, DiffPlace("source", "duckdb")),
])
def test_where_the_diff_runs(config: Any, diff: str | None, place: DiffPlace) -> None:
    assert diff_place("s", _sync(diff), config) == place
    assert place.local_file == (place.dialect == "duckdb")


@pytest.mark.parametrize(("config", "why"), [
    (PG_RO, "needs a writable source"),
    (DUCK_RO, "needs a writable source"),
    (SNOW, "rendered but not yet run"),
])
def test_a_diff_that_cannot_run_in_the_source_is_refused(config: Any, why: str) -> None:
    place = diff_place("s", _sync("source"), config)
    assert place is not None and place.refused is not None
    assert why in place.refused and "sync `s`" in place.refused and "`wh`" in place.refused


def test_a_plugin_source_is_placed_only_once_opened_or_when_local() -> None:
    plugin = SimpleNamespace(type="my_plugin")
    assert diff_place("s", _sync(), plugin) is None
    assert diff_place("s", _sync("local"), plugin) == DiffPlace("local", "duckdb")
