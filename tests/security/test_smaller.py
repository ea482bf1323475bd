"""Hole 7, the smaller ones: sign-in spraying, spreadsheet formulas in the rejections CSV,
private state files, passcodes out of ``ps``, YAML alias bombs, malformed table names,
invalid UTF-8 in ``syncline.yml``."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from syncline.config.load import load_project, state_url
from syncline.errors import ConfigError
from syncline.server.api.runs import rejections_csv
from syncline.server.auth.throttle import SignInThrottle
from syncline.store import StateStore

from ..server.served import Served
from .conftest import csrf


def test_spraying_names_from_one_address_is_throttled(app: Served) -> None:
    with httpx.Client(base_url=app.url, timeout=30) as client:
        token = csrf(client.get("/sign-in").text)
        codes = [client.post("/sign-in", data={"username": f"user{i}", "password": "Summer2026!",
                                               "next": "/", "csrf_token": token}).status_code
                 for i in range(30)]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}


def test_nobody_can_lock_a_user_out_from_elsewhere(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    StateStore(url).close()
    engine = sa.create_engine(url)
    now = [0.0]
    throttle = SignInThrottle(sessionmaker(engine), clock=lambda: now[0])
    for _ in range(50):
        throttle.reserve("grace", "203.0.113.9")  # someone else, guessing (wrongly)
    assert throttle.wait_s("grace", "203.0.113.9") > 0
    assert throttle.wait_s("grace", "198.51.100.7") == 0  # grace, from her own address
    assert throttle.reserve("grace", "198.51.100.7").allowed
    engine.dispose()


def test_the_rejections_csv_runs_no_formula() -> None:
    rows = [{"sync_key": "=HYPERLINK(\"http://evil\",\"x\")", "code": 516, "column": "+phone",
             "message": "-1 is not a phone", "record": None},
            {"sync_key": "@SUM(A1)", "code": 1, "column": None, "message": "fine", "record": None}]
    lines = rejections_csv(rows).splitlines()[1:]
    assert lines[0].startswith("\"'=HYPERLINK(") and ",'+phone,'-1 is not" in lines[0]
    assert lines[1].startswith("'@SUM(A1),1,,fine")


def test_the_state_store_and_its_folder_are_private(tmp_path: Path) -> None:
    url = state_url(tmp_path, env={})
    StateStore(url).close()
    folder = tmp_path / ".syncline"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "state.db").stat().st_mode) == 0o600


def test_sandbox_passcodes_stay_out_of_ps(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SYNCLINE_SANDBOX_ACCOUNTS": "ACC-PS:hidden-passcode-123"}
    proc = subprocess.Popen([sys.executable, "-m", "syncline", "sandbox", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "no sandbox"
                time.sleep(0.05)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert b"hidden-passcode-123" not in cmdline
        ok = httpx.post(f"http://127.0.0.1:{port}/1/upload", json={"d": []}, headers={
            "X-CleverTap-Account-Id": "ACC-PS", "X-CleverTap-Passcode": "hidden-passcode-123"})
        assert ok.status_code == 200, ok.text
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(("yaml_text", "why"), [
    ("a: &a [*a]\n", "recursive alias"),
    ("".join([f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10)])
     .replace("l1: &l1 [*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0]", "l1: &l1 [x, x, x]"),
     "expands to more than"),
])
def test_yaml_alias_bombs_are_refused(tmp_path: Path, yaml_text: str, why: str) -> None:
    (tmp_path / "syncline.yml").write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match=why):
        load_project(tmp_path, env={})


def test_invalid_utf8_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "syncline.yml").write_bytes(b"sources:\n  wh: {type: duckdb, path: \xff.db}\n")
    with pytest.raises(ConfigError, match=r"syncline.yml:2: not valid UTF-8"):
        load_project(tmp_path, env={})


def test_a_malformed_table_name_is_a_clear_error(app: Served) -> None:
    with app.api() as api:
        got = api.get("/api/sources/wh/columns", params={"table": 'main.orders"; DROP TABLE x'})
        assert got.status_code == 400 and "is not a table name" in got.json()["error"]
        made = api.post("/api/syncs", json={"name": "bad", "config": {
            "source": "wh", "destination": "ct", "object": "profile", "sync_key": "id",
            "model": {"table": 'main.orders"; DROP TABLE x'}}})
        assert made.status_code == 422 and "is not a table name" in made.text


def test_behind_a_proxy_each_client_keeps_its_address(tmp_path: Path) -> None:
    from sqlalchemy.orm import sessionmaker

    from syncline.server.app import uvicorn_config
    from syncline.server.settings import ServerSettings

    settings = ServerSettings(secret_key="k" * 32, session_factory=sessionmaker())
    plain = uvicorn_config(settings)
    assert plain.proxy_headers is False  # nobody may claim an address by sending a header
    proxied = uvicorn_config(replace(settings, forwarded_allow_ips="127.0.0.1"))
    assert proxied.proxy_headers is True and proxied.forwarded_allow_ips == "127.0.0.1"
