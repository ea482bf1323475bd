"""``make demo``: the sample warehouse synced into a local CleverTap sandbox, twice.

It drives the real command line, as a user would: ``syncline init``, ``syncline test``,
``syncline plan``, ``syncline run``. It shows one profile as the sandbox holds it (a national
phone number arrived in E.164, the tags list as a multi-value property), then changes 1% of the
users and removes one between the two runs, to show that only those are sent again and the
removed one is deleted; then it stops the sandbox. Nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

ACCOUNT = "DEMO-ACC-0001"
PASSCODE = "demo-passcode"
MARKER = ".syncline-demo"


@contextmanager
def sandbox(data: Path) -> Iterator[str]:
    """Start the sandbox in its own process on a free loopback port; stop it at the end.

    It binds port 0 and says which port it got: a port picked here by binding and closing a
    socket could be taken by another program before the sandbox binds it."""
    from syncline_sandbox.testing import listening_port

    cmd = [sys.executable, "-m", "syncline_sandbox", "--host", "127.0.0.1", "--port", "0",
           "--data", str(data), "--account", f"{ACCOUNT}:{PASSCODE}:eu1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    try:
        try:
            url = f"http://127.0.0.1:{listening_port(proc, timeout=20)}"
        except RuntimeError as exc:
            raise SystemExit(f"the sandbox did not start: {exc}") from exc
        wait_until_up(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    headers = {"X-CleverTap-Account-Id": ACCOUNT, "X-CleverTap-Passcode": PASSCODE}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the sandbox exited with code {proc.returncode}")
        try:
            httpx.get(f"{url}/v1/connect?partner=syncline-demo", headers=headers, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"the sandbox did not answer on {url} within 20 s")


def syncline(*args: str, env: Mapping[str, str], check: bool = True) -> int:
    """Run one ``syncline`` command as a user would type it."""
    print(f"\n$ syncline {' '.join(args)}", flush=True)
    done = subprocess.run([sys.executable, "-m", "syncline", *args], env=dict(env), check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"`syncline {' '.join(args)}` failed with exit code {done.returncode}")
    return done.returncode


def show_profile(url: str, identity: str) -> None:
    """Print one profile as CleverTap (the sandbox) holds it, as its profile API answers."""
    headers = {"X-CleverTap-Account-Id": ACCOUNT, "X-CleverTap-Passcode": PASSCODE}
    answer = httpx.get(f"{url}/1/profile.json", params={"identity": identity}, headers=headers,
                       timeout=10).json()
    record = answer.get("record") or {}
    data = record.get("profileData") or record
    shown = {k: data[k] for k in ("Name", "Phone", "Gender", "Tags") if k in data}
    print(f"\nProfile {identity} in the sandbox: {shown}", flush=True)


def national_user(warehouse: Path) -> str:
    """A user whose phone was typed as a national number and who has tags."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "SELECT user_id, phone FROM main.users WHERE phone LIKE '98% %' AND len(tags) > 1 "
            "AND email LIKE '%@example.com' AND user_id IS NOT NULL ORDER BY user_id LIMIT 1"
        ).fetchone()
    if row is None:
        return "u0000001"
    print(f"\nIn the warehouse, user {row[0]}'s phone is {row[1]!r} (a national number).")
    return str(row[0])


def fresh_project(directory: Path, users: int) -> None:
    """Recreate the demo project (only a folder the demo made itself is ever removed)."""
    from syncline.demo.scaffold import init_project

    if directory.exists():
        if not (directory / MARKER).exists():
            raise SystemExit(f"{directory} exists and was not made by the demo; pass --dir")
        shutil.rmtree(directory)
    init_project(directory, users=users)
    (directory / MARKER).write_text("made by `make demo`; safe to delete\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m syncline.demo", description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path("demo-project"))
    parser.add_argument("--users", type=int, default=50_000)
    args = parser.parse_args(argv)
    from syncline.demo.warehouse import change_sample_rows, remove_sample_user

    started = time.monotonic()
    directory: Path = args.dir.resolve()
    print(f"Building the sample warehouse ({args.users:,} users) in {directory}", flush=True)
    fresh_project(directory, args.users)
    project = ["--project", str(directory)]
    with sandbox(directory / ".sandbox") as url:
        env = {**os.environ, "CLEVERTAP_ACCOUNT_ID": ACCOUNT, "CLEVERTAP_PASSCODE": PASSCODE,
               "CLEVERTAP_REGION": "eu1", "CLEVERTAP_ENDPOINT": url,
               "COLUMNS": os.environ.get("COLUMNS", "110")}
        print(f"CleverTap sandbox listening on {url} (account {ACCOUNT})", flush=True)
        syncline("test", "clevertap_prod", *project, env=env)
        syncline("plan", "users_to_clevertap", *project, env=env)
        syncline("run", "users_to_clevertap", *project, env=env)
        syncline("rejections", "1", *project, env=env)
        show_profile(url, national_user(directory / "warehouse.duckdb"))
        syncline("run", "orders_to_clevertap", *project, env=env)
        changed = change_sample_rows(directory / "warehouse.duckdb", fraction=0.01)
        removed = remove_sample_user(directory / "warehouse.duckdb")
        print(f"\nChanged {changed:,} users (1%) and removed user {removed} in the warehouse; "
              "running again.", flush=True)
        syncline("run", "users_to_clevertap", *project, env=env)
        syncline("runs", *project, env=env)
    print(
        f"\nDone in {time.monotonic() - started:.0f} s. Next:\n"
        "  make dashboard   # the dashboard on http://127.0.0.1:8000 (user demo, password "
        "demo-password)\n"
        "                   # and the sandbox's pages on http://127.0.0.1:8899/ (profiles, "
        "events, segments)\n"
        "  source .venv/bin/activate   # once per shell: puts `syncline` on the PATH\n"
        f"  syncline rejections 1 --project {directory}   # why rows were rejected",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
