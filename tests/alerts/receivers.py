"""Real receivers on loopback ports: an HTTP endpoint keeping the JSON bodies POSTed to it (a
webhook, a Slack incoming webhook) and an SMTP server keeping the mail it is sent (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


class Inbox:
    """What a receiver got, in arrival order."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.paths: list[str] = []
        self.status = 200


@contextmanager
def webhook() -> Iterator[tuple[str, Inbox]]:
    """A JSON endpoint at ``http://127.0.0.1:PORT/hook``; answers ``inbox.status``."""
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            inbox.items.append(json.loads(self.rfile.read(length)))
            inbox.paths.append(self.path)
            self.send_response(inbox.status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", inbox
    finally:
        server.shutdown()
        server.server_close()


class _Keep:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.inbox.items.append(message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp() -> Iterator[tuple[int, Inbox]]:
    """An SMTP server on 127.0.0.1:PORT keeping every message."""
    inbox = Inbox()
    controller = Controller(_Keep(inbox), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def subjects(inbox: Inbox) -> list[str]:
    return [str(m["Subject"]) for m in inbox.items if isinstance(m, Message)]
