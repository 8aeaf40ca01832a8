"""``counter serve`` with open streams: SIGTERM ends them cleanly and the server exits at once.

Servers wait for open responses before shutting down (up to their graceful timeout, then
they cut connections); the app ends its streams on the signal, so clients see a complete
response and the server stops in well under that timeout.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.servers import RedisProcess, ServeProcess


@pytest.mark.slow
@pytest.mark.parametrize("server_name", ["granian", "granian-asgi", "uvicorn", "hypercorn"])
def test_sigterm_ends_open_streams_cleanly(
    tmp_path: Path, embedded_redis: RedisProcess, server_name: str
) -> None:
    # The shutdown does not depend on the backend: one Redis, under this test's prefix.
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    args = ["--redis-url", embedded_redis.url, "--prefix", prefix]
    args += ["--server", server_name, "--workers", "1"]
    server = ServeProcess(args, {}, tmp_path).start()
    outcomes: list[object] = []

    def listen(index: int) -> None:
        try:
            with httpx.stream("GET", f"{server.base_url}/stream/shutdown/key{index}") as response:
                outcomes.append(b"".join(response.iter_bytes()))  # ends only at a clean end
        except httpx.HTTPError as error:
            outcomes.append(error)

    readers = [threading.Thread(target=listen, args=(index,)) for index in range(3)]
    for reader in readers:
        reader.start()
    time.sleep(1.0)  # the streams are open (each already holds its first event)
    started = time.monotonic()
    code, output = server.stop(signal.SIGTERM)
    stopped = time.monotonic() - started
    for reader in readers:
        reader.join(5)
    assert code == 0, output
    assert stopped < 3, f"{server_name} took {stopped:.1f}s: the streams held its shutdown"
    assert len(outcomes) == 3
    for outcome in outcomes:
        assert isinstance(outcome, bytes), outcome
        assert b"event: missing" in outcome
    # A server that stops withdraws its watches; one killed leaves leases that lapse.
    leftover = embedded_redis.command("KEYS", f"{prefix}*")
    assert leftover in ([], [f"{prefix}live:watchers".encode()])
    if leftover:
        embedded_redis.command("DEL", *leftover)
