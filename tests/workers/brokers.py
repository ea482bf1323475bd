"""The brokers the scale-out tests use: the machine's Redis and RabbitMQ, started only if down.

Each test gets its own queue name (and, on Redis, its own database number), so it never sees
another test's tasks, and removes its queue at the end. A broker this module started is stopped
again; one that was already running is left alone.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from tests.servers import _unreachable, need_server

REDIS = ("Redis", "127.0.0.1", 6379)
RABBITMQ = ("RabbitMQ", "127.0.0.1", 5672)
REDIS_DB = 13
"""The Redis database number these tests use (0 is the machine's default)."""


@dataclass(frozen=True)
class Broker:
    url: str
    queue: str


def _start(kind: str) -> subprocess.Popen[bytes] | None:
    """Start ``kind`` when it is down and its server is installed; None when it was up."""
    name, host, port = REDIS if kind == "redis" else RABBITMQ
    if _unreachable(host, port) is None:
        return None
    _unreachable.cache_clear()
    binary = shutil.which("redis-server" if kind == "redis" else "rabbitmq-server")
    if binary is None:
        need_server(name, host, port)  # skips (or fails under SYNCLINE_TEST_SERVICES=required)
        return None
    args = [binary, "--port", str(port), "--save", ""] if kind == "redis" else [binary]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _unreachable(host, port) is not None:
        _unreachable.cache_clear()
        assert time.monotonic() < deadline, f"{name} did not start"
        time.sleep(0.5)
    return process


@contextmanager
def broker(kind: str) -> Iterator[Broker]:
    """A broker URL and a queue name of this test's own; the queue is deleted afterwards."""
    started = _start(kind)
    queue = f"syncline-test-{uuid.uuid4().hex[:10]}"
    url = (f"redis://127.0.0.1:6379/{REDIS_DB}" if kind == "redis"
           else "amqp://guest:guest@127.0.0.1:5672//")
    try:
        yield Broker(url, queue)
    finally:
        from kombu import Connection

        with Connection(url) as conn, suppress(Exception):  # already gone
            conn.default_channel.queue_delete(queue)
        if kind == "redis":
            import redis

            client = redis.Redis.from_url(url)
            for key in client.scan_iter(f"*{queue}*"):
                client.delete(key)
            client.close()
        if started is not None:
            started.terminate()
            started.wait(30)
