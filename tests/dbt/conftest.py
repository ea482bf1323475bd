"""The dbt-built project, made once per session and copied for each test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer
from tests.dbt.project import build_project

ACCOUNT, PASSCODE = "DBT-ACC", "dbt-passcode"


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_project(tmp_path_factory.mktemp("dbt") / "project")


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(built, root, ignore=shutil.ignore_patterns(".syncline"))
    return root


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer([Account(ACCOUNT, {PASSCODE})]) as server:
        yield server


@pytest.fixture
def env(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import os

    values = {"CLEVERTAP_ACCOUNT_ID": ACCOUNT, "CLEVERTAP_PASSCODE": PASSCODE,
              "CLEVERTAP_ENDPOINT": sandbox.url}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SYNCLINE_STATE_URL", raising=False)
    return dict(os.environ)
