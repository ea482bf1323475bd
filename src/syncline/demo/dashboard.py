"""``make dashboard``: the demo project in the dashboard, one command after ``make demo``.

Starts the sandbox on 127.0.0.1:8899 with the data the demo sent, loads the demo's definitions
into the server (``syncline apply``), makes a ``demo`` user, and serves the dashboard on
127.0.0.1:8000 until Ctrl+C. The secret key that encrypts the stored passcode is kept in the demo
project's ``.syncline/`` folder: fine for a demo on a laptop, not for a real deployment.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

from syncline.demo.__main__ import ACCOUNT, PASSCODE, wait_until_up

USER, PASSWORD = "demo", "demo-password"


def _secret_key(directory: Path) -> str:
    path = directory / ".syncline" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m syncline.demo.dashboard", description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path("demo-project"))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--sandbox-port", type=int, default=8899)
    args = parser.parse_args(argv)
    directory: Path = args.dir.resolve()
    if not (directory / "syncline.yml").exists():
        raise SystemExit(f"no demo project in {directory}: run `make demo` first")
    sandbox_url = f"http://127.0.0.1:{args.sandbox_port}"
    env = {**os.environ, "CLEVERTAP_ACCOUNT_ID": ACCOUNT, "CLEVERTAP_PASSCODE": PASSCODE,
           "CLEVERTAP_REGION": "eu1", "CLEVERTAP_ENDPOINT": sandbox_url,
           "SYNCLINE_SECRET_KEY": _secret_key(directory)}
    cli = [sys.executable, "-m", "syncline"]
    project = ["--project", str(directory)]
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "syncline_sandbox", "--port", str(args.sandbox_port), "--data",
         str(directory / ".sandbox"), "--account", f"{ACCOUNT}:{PASSCODE}:eu1",
         "--log-level", "warning"])
    try:
        wait_until_up(sandbox_url, sandbox)
        subprocess.run([*cli, "apply", *project], env=env, check=True)
        subprocess.run([*cli, "user", "add", USER, *project, "--password-stdin"], env=env,
                       input=PASSWORD + "\n", text=True, check=False, capture_output=True)
        print(f"\nDashboard: http://127.0.0.1:{args.port}  (sign in as {USER} / {PASSWORD})\n"
              f"Sandbox:   {sandbox_url}/  (what CleverTap received)\n", flush=True)
        subprocess.run([*cli, "serve", "--port", str(args.port), *project], env=env, check=False)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
