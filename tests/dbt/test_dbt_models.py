"""dbt models as sources and ``syncline run --select``, against a project real dbt built."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from syncline.config.dbt import DbtManifest, dbt_config_of
from syncline.config.load import load_project
from syncline.config.selection import select_syncs
from syncline.errors import ConfigError
from syncline_sandbox.testing import SandboxServer
from tests.dbt.conftest import ACCOUNT
from tests.dbt.project import write_config

# every dbt test on one pytest-xdist worker (--dist loadgroup): dbt builds the project once
# per worker (conftest.py `built`), ~8 CPU-s each
pytestmark = pytest.mark.xdist_group("dbt")


def cli(root: Path, env: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncline", *args, "--project", str(root)],
                          env=env, capture_output=True, text=True, timeout=120)


OFFLINE = {"CLEVERTAP_ACCOUNT_ID": "A", "CLEVERTAP_PASSCODE": "P", "CLEVERTAP_ENDPOINT": ""}


def selected(root: Path, *selectors: str) -> list[str]:
    loaded = load_project(root, env=OFFLINE)
    return select_syncs(loaded.project, loaded.root, list(selectors))


def test_the_manifest_names_the_relation_dbt_built(project: Path) -> None:
    config = dbt_config_of(load_project(project, env=OFFLINE).project.sources["warehouse"])
    assert config is not None
    node = DbtManifest.load(config, project, source="warehouse").node("users_enriched")
    assert node.table == '"warehouse"."analytics"."users_enriched"'


def test_a_dbt_model_is_synced(project: Path, env: dict[str, Any],
                               sandbox: SandboxServer) -> None:
    done = cli(project, env, "run", "enriched", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["accepted"] == 5
    profiles = dict(sandbox.store.profiles(ACCOUNT, limit=100))
    assert profiles["identity:u3"]["name_upper"] == "USER 3"


def test_select_a_model_and_its_downstream_runs_exactly_the_syncs_reading_them(
        project: Path, env: dict[str, Any]) -> None:
    done = cli(project, env, "run", "--select", "dbt:users_raw+")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["enriched", "raw"]
    assert all("succeeded" in line and "accepted 5" in line for line in lines)


@pytest.mark.parametrize(("selectors", "expected"), [
    (["tag:crm"], ["enriched", "raw"]),
    (["tag:ops"], ["orders"]),
    (["dbt:users_enriched"], ["enriched"]),
    (["dbt:users_enriched+"], ["enriched"]),
    (["dbt:users_raw"], ["raw"]),
    (["tag:crm,dbt:users_enriched"], ["enriched"]),
    (["orders raw"], ["raw", "orders"]),
    (["orders", "tag:raw"], ["raw", "orders"]),
    (["dbt:orders+"], []),  # a real model no sync reads (`orders` reads its table): nothing
])
def test_selectors(project: Path, selectors: list[str], expected: list[str]) -> None:
    assert selected(project, *selectors) == expected


@pytest.mark.parametrize(("selector", "message"), [
    ("tag:nope", "no sync is tagged `nope` (tags: crm, ops, raw)"),
    ("dbt:nope", "no dbt model `nope`"),
    ("nope", "no sync `nope`"),
    ("path:models", "unknown method `path`"),
])
def test_a_selector_naming_nothing_is_an_error(project: Path, selector: str,
                                               message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        selected(project, selector)


def test_one_failed_sync_fails_the_selection_but_the_others_run(
        project: Path, env: dict[str, Any]) -> None:
    write_config(project, extra="""\
  gone:
    source: warehouse
    model: {dbt: users_gone}
    destination: clevertap
    object: profile
    sync_key: user_id
    tags: [crm]
""")
    done = cli(project, env, "run", "--select", "tag:crm")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("enriched: succeeded") and lines[1].startswith("raw: succeeded")
    assert "gone: failed" in lines[2] and "dbt model `users_gone`" in done.stdout
    # a sync whose model the manifest lacks is downstream of nothing: the others still run
    assert selected(project, "dbt:users_raw+") == ["enriched", "raw"]


def test_a_missing_manifest_says_to_run_dbt(project: Path, env: dict[str, Any]) -> None:
    (project / "dbt" / "target" / "manifest.json").unlink()
    done = cli(project, env, "run", "enriched")
    assert done.returncode != 0
    assert "manifest.json does not exist; run `dbt build` (or `dbt compile`)" in done.stderr
    assert "with `--target dev`" in done.stderr


def test_a_manifest_built_for_another_target_is_refused(project: Path,
                                                        env: dict[str, Any]) -> None:
    config = project / "syncline.yml"
    config.write_text(config.read_text().replace("target: dev", "target: prod"))
    done = cli(project, env, "run", "enriched")
    assert done.returncode != 0
    assert "was built for target `dev`, not `prod`" in done.stderr


def test_run_without_a_sync_lists_the_syncs(project: Path, env: dict[str, Any]) -> None:
    done = cli(project, env, "run", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in json.loads(done.stdout)}
    assert rows["enriched"]["model"] == "dbt:users_enriched"
    assert rows["orders"]["tags"] == ["ops"]
    shown = cli(project, {**env, "COLUMNS": "200"}, "run")
    assert "dbt:users_raw" in shown.stdout and "crm, raw" in shown.stdout


def test_a_sync_and_select_together_are_refused(project: Path, env: dict[str, Any]) -> None:
    done = cli(project, env, "run", "raw", "--select", "tag:crm")
    assert done.returncode == 2 and "not both" in done.stderr


def test_the_cli_lists_a_sources_dbt_models(project: Path, env: dict[str, Any]) -> None:
    done = cli(project, env, "sources", "dbt-models", "warehouse", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["model"]: r for r in json.loads(done.stdout)}
    assert sorted(rows) == ["orders", "users_enriched", "users_raw"]
    assert rows["users_raw"]["table"] == '"warehouse"."analytics"."users_raw"'
