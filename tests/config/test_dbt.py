"""Reading dbt's manifest without dbt: names, packages, ambiguity and what an error says.

(A manifest real dbt wrote is read in ``tests/dbt/``; these are the cases dbt does not make
easily: a model in two packages, a broken file.)"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from syncline.config.dbt import DbtConfig, DbtManifest, resolve_model
from syncline.config.models import DuckDBSourceConfig, ModelConfig
from syncline.errors import ConfigError, ModelError


def node(package: str, name: str, **extra: object) -> dict[str, object]:
    return {"resource_type": "model", "name": name, "package_name": package,
            "database": "db", "schema": "analytics", "alias": name, **extra}


def write(tmp_path: Path, nodes: dict[str, object], child_map: dict[str, list[str]]) -> DbtConfig:
    (tmp_path / "dbt" / "target").mkdir(parents=True)
    manifest = {"metadata": {"project_name": "crm"}, "nodes": nodes, "child_map": child_map}
    (tmp_path / "dbt" / "target" / "manifest.json").write_bytes(orjson.dumps(manifest))
    return DbtConfig(project_dir="dbt")


def test_a_model_in_two_packages_takes_the_projects_own_unless_named(tmp_path: Path) -> None:
    config = write(tmp_path, {
        "model.crm.users": node("crm", "users", alias="users_v2"),
        "model.ext.users": node("ext", "users", schema="ext"),
        "model.other.users": node("other", "users"),
        "test.crm.not_null": {"resource_type": "test", "name": "not_null"},
    }, {})
    manifest = DbtManifest.load(config, tmp_path, source="wh")
    assert manifest.node("users").table == '"db"."analytics"."users_v2"'
    assert manifest.node("ext.users").table == '"db"."ext"."users"'
    assert [n.name for n in manifest.models()] == ["users", "users", "users"]  # no tests


def test_an_ambiguous_model_outside_the_project_asks_for_its_package(tmp_path: Path) -> None:
    config = write(tmp_path, {"model.a.users": node("a", "users"),
                              "model.b.users": node("b", "users")}, {})
    with pytest.raises(ConfigError, match=r"`users` is ambiguous .*write `package.model`"):
        DbtManifest.load(config, tmp_path, source="wh").node("users")


def test_downstream_follows_the_child_map(tmp_path: Path) -> None:
    config = write(tmp_path, {f"model.crm.{n}": node("crm", n) for n in "abcd"},
                   {"model.crm.a": ["model.crm.b", "test.crm.t"], "model.crm.b": ["model.crm.c"],
                    "model.crm.c": ["model.crm.a"], "model.crm.d": []})
    manifest = DbtManifest.load(config, tmp_path, source="wh")
    assert manifest.downstream("a") == {"model.crm.a", "model.crm.b", "model.crm.c",
                                        "test.crm.t"}
    assert manifest.downstream("d") == {"model.crm.d"}


def test_a_broken_manifest_says_to_rebuild(tmp_path: Path) -> None:
    config = write(tmp_path, {}, {})
    (tmp_path / "dbt" / "target" / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"cannot be read .*run `dbt build`"):
        DbtManifest.load(config, tmp_path, source="wh")
    (tmp_path / "dbt" / "target" / "manifest.json").write_text("[]")
    with pytest.raises(ConfigError, match="is not a dbt manifest"):
        DbtManifest.load(config, tmp_path, source="wh")


def test_manifest_path_overrides_the_default(tmp_path: Path) -> None:
    write(tmp_path, {"model.crm.u": node("crm", "u")}, {})
    config = DbtConfig(project_dir="elsewhere", manifest_path="dbt/target/manifest.json")
    assert DbtManifest.load(config, tmp_path, source="wh").node("u").name == "u"


def test_a_model_is_one_of_table_query_or_dbt() -> None:
    assert ModelConfig(dbt="users").dbt == "users"
    for bad in ({"table": "a.b", "dbt": "users"}, {}):
        with pytest.raises(ValidationError, match="exactly one of"):
            ModelConfig.model_validate(bad)
    with pytest.raises(ValidationError, match="extra"):
        DbtConfig.model_validate({"project_dir": "x", "profiles_dir": "y"})


def test_a_dbt_model_needs_a_source_with_a_dbt_project(tmp_path: Path) -> None:
    source = DuckDBSourceConfig(type="duckdb", path="wh.duckdb")
    with pytest.raises(ModelError, match=re.escape("source `wh` has no `dbt: {project_dir: ...}`")):
        resolve_model(ModelConfig(dbt="users"), source, tmp_path, sync="s", source="wh")
    table = ModelConfig(table="main.users")
    assert resolve_model(table, source, tmp_path, sync="s", source="wh") is table
