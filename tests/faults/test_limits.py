"""Abuse a server can meet: connection floods, slow clients, a full memory ceiling."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import httpx
import pytest
import redis

from counter.redis.embedded import maxmemory_bytes, socket_path
from tests.faults.kit import open_descriptors, silent_connections
from tests.servers import ServeProcess, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.fault]

FLOOD = 5000


def embedded_serve(tmp_path: Path, *args: str) -> ServeProcess:
    env = {"COUNTER_REDIS_URL": ""}
    return ServeProcess(["--data-dir", str(tmp_path / "data"), *args], env, tmp_path)


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """True when the server closes ``sock`` within ``timeout`` seconds."""
    sock.setblocking(True)
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True  # reset
    return True


@pytest.mark.parametrize("server_name", ["granian", "uvicorn", "hypercorn"])
def test_silent_and_slow_connections_cannot_lock_clients_out(
    tmp_path: Path, server_name: str
) -> None:
    server = embedded_serve(
        tmp_path, "--server", server_name, "--workers", "2", "--header-timeout-s", "3"
    ).start()
    flood: list[socket.socket] = []
    try:
        assert httpx.get(f"{server.base_url}/hit/probe").status_code == 200
        idle = open_descriptors(server)
        flood = silent_connections(server.port, FLOOD)
        # Wait until the server has accepted the flood (a loaded machine takes a while).
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: open_descriptors(server) >= idle + FLOOD, 5, "the flood")
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"GET /hit/slow HTTP/1.1\r\n")
        started = time.monotonic()
        answer = httpx.get(f"{server.base_url}/hit/probe", timeout=10)
        elapsed = time.monotonic() - started
        assert answer.json() == {"value": 2}
        assert elapsed < 1.0, f"a new client waited {elapsed:.2f}s behind {FLOOD} silent ones"
        # A slow client trickling its headers is cut off at the header deadline...
        if server_name != "hypercorn":  # Hypercorn times out silence, not a trickle
            deadline = time.monotonic() + 8
            cut = False
            while time.monotonic() < deadline and not cut:
                try:
                    slow.sendall(b"X")
                    time.sleep(0.2)
                except OSError:
                    cut = True
            assert cut or closed_by_server(slow, 0.1), "a slowloris client was never cut off"
        # ...and silent connections once the header timeout has passed.
        assert closed_by_server(flood[0], 8), "a silent connection was never closed"
        slow.close()
    finally:
        for sock in flood:
            sock.close()
        code, output = server.stop()
    assert code == 0, output


def test_memory_ceiling_refuses_writes_keeps_reads(tmp_path: Path) -> None:
    assert maxmemory_bytes("auto") > 0
    assert maxmemory_bytes("512mb") == 512 << 20
    server = embedded_serve(tmp_path, "--redis-maxmemory", "4mb").start()
    direct = redis.Redis(unix_socket_path=str(socket_path(tmp_path / "data")))
    try:
        assert direct.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert int(direct.config_get("maxmemory")["maxmemory"]) == 4 << 20
        assert httpx.get(f"{server.base_url}/hit/kept").json() == {"value": 1}
        with pytest.raises(redis.OutOfMemoryError):  # fill Redis up to its ceiling
            for index in range(64):
                direct.set(f"filler:{index}", b"x" * (256 << 10))
        # The refused SET's own buffer was freed: move the ceiling just under what is used.
        used = int(direct.info("memory")["used_memory"])  # type: ignore[index]
        direct.config_set("maxmemory", used - (3 << 19))  # 1.5 MB under, still above idle
        for url in ("/hit/kept", "/hit/new-one", "/create?key=other"):
            full = httpx.get(f"{server.base_url}{url}")
            assert full.status_code == 503, url
            assert full.headers["retry-after"] == "1"
            assert set(full.json()) == {"error"}
        assert httpx.get(f"{server.base_url}/get/kept").json() == {"value": 1}  # reads work
        assert direct.exists("cnt:{default/kept}")  # nothing was evicted
        direct.delete(*(f"filler:{index}" for index in range(64)))
        wait_until(
            lambda: httpx.get(f"{server.base_url}/hit/kept").status_code == 200, 5, "room again"
        )
    finally:
        direct.close()
        server.stop()
