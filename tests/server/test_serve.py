"""The app served by uvicorn on a loopback port: the real HTTP stack, end to end."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import httpx
import uvicorn

from syncline.server.app import uvicorn_config
from syncline.server.settings import ServerSettings


def test_served_on_loopback_over_real_http(settings: ServerSettings) -> None:
    config = uvicorn_config(replace(settings, port=0))
    assert config.host == "127.0.0.1"
    config.log_level = "warning"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get("/api/health").json()["status"] == "ok"
            assert client.get("/api/me").status_code == 401
            page = client.get("/sign-in")
            assert "csrf_token" in page.text
            assert "syncline_session" in page.headers["set-cookie"]
            assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    finally:
        server.should_exit = True
        thread.join(10)
