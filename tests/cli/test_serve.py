"""`counter serve` as a user runs it: a real process, the embedded Redis, signals, config errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from counter.redis.embedded import answers_ping, socket_path
from tests.conftest import Backend
from tests.servers import ServeProcess, wait_until

pytestmark = pytest.mark.slow


def redis_servers_for(data_dir: Path) -> list[int]:
    """PIDs of redis-server processes serving ``data_dir`` (found through /proc)."""
    needle = str(socket_path(data_dir)).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"redis-server" in cmdline and needle in cmdline:
                pids.append(int(entry.name))
    return pids


def embedded_serve(tmp_path: Path, *args: str) -> ServeProcess:
    # Only the embedded path: no Redis URL may leak in from the environment.
    env = {"COUNTER_REDIS_URL": ""}
    return ServeProcess(["--data-dir", str(tmp_path / "data"), *args], env, tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_on_embedded_redis_stops_cleanly_and_keeps_data(tmp_path: Path, sig: int) -> None:
    data_dir = tmp_path / "data"
    server = embedded_serve(tmp_path).start()
    try:
        for expected in (1, 2, 3):
            assert httpx.get(f"{server.base_url}/hit/persisted").json() == {"value": expected}
        assert len(redis_servers_for(data_dir)) == 1
    finally:
        code, output = server.stop(sig)
    assert code == 0, output
    assert redis_servers_for(data_dir) == []  # no orphaned redis-server
    assert (data_dir / "appendonly.aof").exists()

    server = embedded_serve(tmp_path).start()
    try:
        assert httpx.get(f"{server.base_url}/get/persisted").json() == {"value": 3}
    finally:
        server.stop()
    assert redis_servers_for(data_dir) == []


def test_killed_serve_leaves_no_orphan(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = embedded_serve(tmp_path).start()
    server.stop(signal.SIGKILL)
    # the child gets SIGTERM from the kernel when its parent dies (PR_SET_PDEATHSIG)
    wait_until(lambda: redis_servers_for(data_dir) == [], 10, "the embedded redis-server to exit")


def test_several_workers_share_one_embedded_redis(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = embedded_serve(tmp_path, "--workers", "2").start()
    try:
        assert len(redis_servers_for(data_dir)) == 1

        def hits(_: int) -> list[int]:
            with httpx.Client(base_url=server.base_url) as client:
                return [client.get("/hit/shared").json()["value"] for _ in range(50)]

        with ThreadPoolExecutor(8) as pool:
            values = sorted(v for batch in pool.map(hits, range(8)) for v in batch)
        assert values == list(range(1, 401))  # exact under concurrency, across workers
        assert httpx.get(f"{server.base_url}/get/shared").json() == {"value": 400}
    finally:
        code, output = server.stop()
    assert code == 0, output
    assert redis_servers_for(data_dir) == []


async def test_serve_with_external_redis(
    tmp_path: Path, backend: Backend, prefix: str, redis: object
) -> None:
    # ``redis`` deletes this test's keys from the (possibly shared) server afterwards
    server = ServeProcess([*backend.serve_args(), "--prefix", prefix], {}, tmp_path).start()
    try:
        assert httpx.get(f"{server.base_url}/hit/external").json() == {"value": 1}
    finally:
        server.stop()
    assert not (tmp_path / "counter-data").exists()  # no embedded Redis was started


def test_second_server_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    server = embedded_serve(tmp_path).start()
    try:
        result = run_cli(tmp_path, "serve", "--data-dir", str(tmp_path / "data"))
        assert result.returncode == 2
        assert "is in use by a running counter process" in result.stderr
        assert answers_ping(socket_path(tmp_path / "data"))  # the first one is untouched
    finally:
        server.stop()


def run_cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "counter.cli", *args],
        cwd=cwd,
        env={**os.environ, "COUNTER_REDIS_URL": "", **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--port", "0"], {}, "COUNTER_PORT (--port) must be between 1 and 65535, got 0"),
        (["--workers", "0"], {}, "COUNTER_WORKERS (--workers) must be between 1 and 64"),
        ([], {"COUNTER_PORT": "eighty"}, "COUNTER_PORT must be an integer, got 'eighty'"),
        (["--redis-url", "http://x"], {}, "must start with redis://, rediss:// or unix://"),
        (["--prefix", "a{b}"], {}, "COUNTER_PREFIX (--prefix) must not contain { or }"),
        ([], {"COUNTER_TTL_MS": "-1"}, "COUNTER_TTL_MS (--ttl-ms) must be a positive number"),
    ],
)
def test_invalid_configuration_fails_at_start_with_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = run_cli(tmp_path, "serve", *args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("counter: error: ")
    assert message in lines[0]
    assert not (tmp_path / "counter-data").exists()
