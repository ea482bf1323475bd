"""A minimal CleverTap-shaped sink: accepts every record, optional latency, 15 uploads in flight.

It exists to measure the engine's own delivery cost apart from the sandbox's parsing and storage
(workload W5), and to absorb the 10M-row initial load of workload 2 cheaply. It speaks just
enough HTTP/1.1 (keep-alive, Content-Length) and does not parse JSON: records are counted by
their ``"type":`` keys, which the benchmark's records carry exactly once each.

Run: ``python -m bench.sink --port P [--latency-ms 300]`` (``--port 0``: any free port, which it
prints); ``GET /_stats`` answers the counters.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson

__all__ = ["main"]

MAX_IN_FLIGHT = 15


class Sink:
    """Counters and the in-flight gate shared by every connection."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.in_flight = 0
        self.uploads = 0
        self.records = 0
        self.bytes = 0
        self.refused = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = _content_length(head)
                body = await reader.readexactly(length) if length else b""
                self.bytes += len(head) + length
                status, answer = await self.answer(head, body)
                writer.write(_response(status, answer))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def answer(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        if head.startswith(b"GET /_stats"):
            return 200, orjson.dumps(
                {
                    "uploads": self.uploads,
                    "records_received": self.records,
                    "bytes_received": self.bytes,
                    "refused_429": self.refused,
                }
            )
        if head.startswith(b"GET "):
            return 200, b'{"status":"success"}'
        if self.in_flight >= MAX_IN_FLIGHT:
            self.refused += 1
            return 429, b'{"status":"fail","error":"Too many concurrent requests","code":429}'
        self.in_flight += 1
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            count = body.count(b'"type":')
            self.uploads += 1
            self.records += count
            return 200, b'{"status":"success","processed":%d,"unprocessed":[]}' % count
        finally:
            self.in_flight -= 1


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            return int(line[15:].strip())
    return 0


def _response(status: int, body: bytes) -> bytes:
    reason = b"OK" if status == 200 else b"Too Many Requests"
    return (
        b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        % (status, reason, len(body))
    ) + body


async def _serve(host: str, port: int, latency_s: float) -> None:
    sink = Sink(latency_s)
    server = await asyncio.start_server(sink.handle, host, port, limit=1 << 20)
    # the line `syncline_sandbox.testing.listening_port` reads (the port, when given 0)
    bound = server.sockets[0].getsockname()[1]
    print(f"bench.sink running on http://{host}:{bound}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0: any free port (printed)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(_serve(args.host, args.port, args.latency_ms / 1000))


if __name__ == "__main__":
    main()
