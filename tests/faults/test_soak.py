"""A short soak under mixed, partly hostile traffic: file descriptors and memory stay flat."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.faults.kit import redis_pids, workers
from tests.servers import ServeProcess

pytestmark = [pytest.mark.slow, pytest.mark.fault]


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def traffic(base_url: str, port: int, seconds: float) -> int:
    """Hits, reads, bad input, oversized and malformed bodies, dropped connections."""
    done = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base_url, timeout=5) as client:
        while time.monotonic() < deadline:
            assert client.get(f"/hit/soak-{done % 50}").status_code == 200
            assert client.get(f"/get/soak-{done % 50}").status_code == 200
            assert client.get("/update/soak-0?amount=99999999999999999999").status_code == 400
            assert client.get("/hit/x").status_code == 400  # name too short
            hostile(base_url, port)
            done += 1
    return done


def hostile(base_url: str, port: int) -> None:
    """Malformed and oversized bodies, a client that hangs up: each on its own connection
    (the server may close it without reading the body)."""
    bodies = [b"{" * 2000, b"x" * 2_000_000]
    for body in bodies:
        with contextlib.suppress(httpx.TransportError):
            answer = httpx.post(
                f"{base_url}/api/v0/count",
                content=body,
                headers={"Authorization": "Bearer nope", "Content-Type": "application/json"},
            )
            # 429 once this client IP spent the anonymous /api/v0 budget (300 a minute): a
            # fast machine gets there within the soak.
            assert answer.status_code in (401, 413, 429)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /hit/soak-1 HTTP/1.1\r\nHost: x\r\n\r\n")  # then hang up


def test_soak_keeps_descriptors_and_memory_flat(tmp_path: Path) -> None:
    server = ServeProcess(
        ["--data-dir", str(tmp_path / "data"), "--workers", "2"],
        {"COUNTER_REDIS_URL": ""},
        tmp_path,
    ).start()
    try:
        pids = [*workers(server), *redis_pids(tmp_path / "data")]
        assert len(pids) == 3

        def load(seconds: float) -> None:
            threads = [
                threading.Thread(target=traffic, args=(server.base_url, server.port, seconds))
                for _ in range(4)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        load(0.7)  # warm up: pools, caches, allocator arenas
        time.sleep(0.5)
        before = {pid: (fds(pid), rss_kb(pid)) for pid in pids}
        load(2)
        time.sleep(0.5)
        after = {pid: (fds(pid), rss_kb(pid)) for pid in pids}
        for pid in pids:
            (fd_before, rss_before), (fd_after, rss_after) = before[pid], after[pid]
            assert fd_after <= fd_before + 4, (pid, before[pid], after[pid])
            assert rss_after - rss_before < 8_000, (pid, before[pid], after[pid])  # < 8 MB
    finally:
        code, output = server.stop()
    assert code == 0, output
