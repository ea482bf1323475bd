from __future__ import annotations

from pathlib import Path

import pytest

from syncline_sandbox.__main__ import main
from syncline_sandbox.accounts import (
    Account,
    load_accounts_file,
    parse_account,
    region_from_host,
)


def test_parse_account() -> None:
    assert parse_account("ACC:PASS") == Account("ACC", {"PASS"})
    assert parse_account("ACC:PASS:in1") == Account("ACC", {"PASS"}, "in1")
    for bad in ("ACC", ":PASS", "ACC:PASS:mars", "a:b:c:d"):
        with pytest.raises(ValueError, match=r"ID:PASSCODE|region"):
            parse_account(bad)


def test_accounts_file_yaml_and_json(tmp_path: Path) -> None:
    yml = tmp_path / "a.yml"
    yml.write_text(
        "- id: A\n  passcodes: [p1, p2]\n  region: us1\n  discarded_events: [Old]\n- B:pb\n"
    )
    assert load_accounts_file(yml) == [
        Account("A", {"p1", "p2"}, "us1", discarded_events={"Old"}),
        Account("B", {"pb"}),
    ]
    js = tmp_path / "a.json"
    js.write_text('[{"id": "C", "passcode": "pc"}]')
    assert load_accounts_file(js) == [Account("C", {"pc"})]
    js.write_text('{"id": "C"}')
    with pytest.raises(ValueError, match="list of accounts"):
        load_accounts_file(js)


@pytest.mark.parametrize(
    ("host", "region"),
    [("in1.api.clevertap.com", "in1"), ("api.clevertap.com", "eu1"),
     ("eu1.api.clevertap.com", "eu1"), ("US1.API.CLEVERTAP.COM:443", "us1"),
     ("127.0.0.1:8000", None), ("localhost", None), (None, None), ("[::1]:80", None)],
)  # fmt: skip
def test_region_from_host(host: str | None, region: str | None) -> None:
    assert region_from_host(host) == region


def test_cli_needs_an_account(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([])
    assert "--account" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--account", "nocolon"])
    assert "ID:PASSCODE" in capsys.readouterr().err


def test_cli_rejects_bad_faults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--account", "A:p", "--faults", '{"A": {"nope": 1}}'])
    assert "unknown fault settings" in capsys.readouterr().err


def test_python_dash_m_serves_with_data_dir(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "syncline_sandbox", "--port", str(port), "--data",
           str(tmp_path), "--account", "A:p", "--log-level", "warning",
           "--faults", '{"A": {"burst_429": 2}}']  # fmt: skip
    proc = subprocess.Popen(cmd)
    try:
        auth = {"X-CleverTap-Account-Id": "A", "X-CleverTap-Passcode": "p"}
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                r = httpx.get(f"{url}/v1/connect", headers=auth)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert r.status_code == 200
        codes = [httpx.post(f"{url}/1/upload", headers=auth, json={"d": []}).status_code
                 for _ in range(2)]  # fmt: skip
        assert codes == [200, 429]
        assert (tmp_path / "sandbox.sqlite3").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
