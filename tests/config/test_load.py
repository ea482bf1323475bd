from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from syncline.config.load import find_project, load_project, state_url
from syncline.errors import ConfigError

GOOD = """\
sources:
  warehouse: {type: duckdb, path: w.duckdb}
destinations:
  ct:
    type: clevertap
    account_id: ${ACCOUNT}
    passcode: ${PASS:-dflt}
    region: us1
syncs:
  users:
    source: warehouse
    model: {table: main.users}
    destination: ct
    object: profile
    sync_key: user_id
    mappings:
      columns:
        - {from: email, to: Email}
        - {from: age, to: Age, type: number}
        - {from: plan, to: Plan, type: text}
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "syncline.yml").write_text(text)
    return tmp_path


def test_loads_and_interpolates(tmp_path: Path) -> None:
    good = GOOD.replace("type: text", "type: string")
    loaded = load_project(_write(tmp_path, good), env={"ACCOUNT": "A-1"})
    dest = loaded.project.destinations["ct"]
    assert dest.account_id == "A-1"
    assert dest.passcode.get_secret_value() == "dflt"
    assert loaded.root == tmp_path.resolve()


def test_wrong_type_names_line_and_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_project(_write(tmp_path, GOOD), env={"ACCOUNT": "A-1"})
    assert "syncline.yml:20: syncs.users.mappings.columns[2].type" in str(err.value)


def test_unknown_key_names_line(tmp_path: Path) -> None:
    text = GOOD.replace("type: text", "type: string").replace("    region: us1", "    regoin: us1")
    with pytest.raises(ConfigError) as err:
        load_project(_write(tmp_path, text), env={"ACCOUNT": "A-1"})
    assert "syncline.yml:8: destinations.ct.regoin" in str(err.value)


def test_missing_env_var_names_variable_line_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_project(_write(tmp_path, GOOD), env={})
    message = str(err.value)
    assert "syncline.yml:6" in message and "ACCOUNT" in message
    assert "destinations.ct.account_id" in message


def test_yaml_error_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"syncline.yml:3: invalid YAML"):
        load_project(_write(tmp_path, "sources:\n  a: [1, 2\n"), env={})
    with pytest.raises(ConfigError, match="syncline init"):
        find_project(tmp_path / "nowhere")


def test_state_url(tmp_path: Path) -> None:
    assert state_url(tmp_path, env={"SYNCLINE_STATE_URL": "postgresql://x"}) == "postgresql://x"
    assert state_url(tmp_path, env={}).endswith("/.syncline/state.db")


def test_built_in_types_keep_their_clear_errors(tmp_path: Path) -> None:
    good = GOOD.replace("type: text", "type: string")
    with pytest.raises(ConfigError) as err:
        load_project(_write(tmp_path, good.replace("type: duckdb, path: w.duckdb",
                                                   "type: duckdb")), env={"ACCOUNT": "A-1"})
    assert "syncline.yml:2: sources.warehouse.path: Field required" in str(err.value)

    with pytest.raises(ConfigError) as err:
        load_project(_write(tmp_path, good.replace("type: duckdb", "type: duckbd")),
                     env={"ACCOUNT": "A-1"})
    message = str(err.value)
    assert "syncline.yml:2: sources.warehouse.type: unknown source type `duckbd`" in message
    assert "known types: duckdb, sqlite, postgres, mysql, mariadb" in message


def test_one_yaml_constructor_builds_every_scalar_of_a_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scalars are built by one ``SafeConstructor`` per load, not a new one per value."""
    made: list[type] = []
    init = yaml.constructor.SafeConstructor.__init__

    def counting(self: yaml.constructor.SafeConstructor) -> None:
        made.append(type(self))
        init(self)

    monkeypatch.setattr(yaml.constructor.SafeConstructor, "__init__", counting)
    good = GOOD.replace("type: text", "type: string")
    loaded = load_project(_write(tmp_path, good), env={"ACCOUNT": "A-1"})
    assert loaded.project.destinations["ct"].account_id == "A-1"
    assert made.count(yaml.constructor.SafeConstructor) == 1  # the loader's own is a subclass
