"""Misbehaving counting servers for `counter load`'s tests, one per mode, in a subprocess.

    python -m tests.load.fake_server MODE PORT

- ``lossy``: CountAPI ``/hit`` and ``/get``, but every 10th acknowledged increment is
  forgotten (answered 200 all the same): what ``--verify`` must catch;
- ``stall``: a correct ``/hit`` whose whole process freezes for 0.5 s once, 1 s after the
  first request: what the open loop's latency correction must show;
- ``error``: answers 503 to everything;
- ``silent``: accepts connections and never answers;
- ``closing``: a correct ``/hit`` and ``/get`` that close the connection after each answer;
- ``pixel``: GoatCounter's ``/count?p=/path`` (a GIF; the counter of the path in namespace
  ``default`` grows) and CountAPI ``/get`` to read it back.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

GIF = bytes.fromhex(
    "4749463839610100010080000000000000000021f90401000000002c00000000010001000002024401003b"
)
STALL_AFTER = 1.0
STALL_FOR = 0.5


class Fake:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.counts: Counter[str] = Counter()
        self.hits = 0
        self.first: float | None = None
        self.stalled = False

    def answer(self, target: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for one GET."""
        split = urlsplit(target)
        parts = split.path.strip("/").split("/")
        if self.mode == "error":
            return 503, "application/json", b'{"error": "overloaded"}'
        if self.mode == "stall":
            self._maybe_stall()
        if self.mode == "pixel" and parts == ["count"]:
            path = parse_qs(split.query).get("p", [""])[0]
            self.counts[f"default/{path.strip('/')}"] += 1
            return 200, "image/gif", GIF
        if len(parts) == 3 and parts[0] in ("hit", "get"):
            name = f"{parts[1]}/{parts[2]}"
            if parts[0] == "hit":
                self.hits += 1
                if not (self.mode == "lossy" and self.hits % 10 == 0):
                    self.counts[name] += 1
            elif name not in self.counts:
                return 404, "application/json", b'{"value": null}'
            return 200, "application/json", json.dumps({"value": self.counts[name]}).encode()
        return 404, "application/json", b'{"error": "not found"}'

    def _maybe_stall(self) -> None:
        now = time.monotonic()
        self.first = self.first or now
        if not self.stalled and now - self.first >= STALL_AFTER:
            self.stalled = True
            time.sleep(STALL_FOR)  # freezes the whole server, as a GC pause or a fork would

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "silent":
            await reader.read()  # until the client gives up and closes
            writer.close()
            return
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                _, target, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                status, kind, body = self.answer(target)
                closing = self.mode == "closing"
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\n"
                    f"{'Connection: close' if closing else 'X-Keep: alive'}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                if closing:
                    await writer.drain()
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def main(mode: str, port: int) -> None:
    fake = Fake(mode)
    server = await asyncio.start_server(fake.serve, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
