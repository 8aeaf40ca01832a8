"""Servers for `counter load`: the real one (`counter serve` on the embedded Redis) and fakes."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import RedisProcess, ServeProcess, free_port

ROOT = Path(__file__).resolve().parents[2]


def counter_load(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``counter load ARGS`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "counter.cli", "load", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def real_server(
    embedded_redis: RedisProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """``(base URL, token with the count permission)`` of a real `counter serve`."""
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    env = {"COUNTER_REDIS_URL": embedded_redis.url, "COUNTER_PREFIX": prefix}
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "counter.cli",
            "token",
            "create",
            "--name",
            "load",
            "--perm",
            "count",
            "--namespace",
            "*",
            "--redis-url",
            embedded_redis.url,
            "--prefix",
            prefix,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    token = created.stdout.strip().splitlines()[-1]
    # /api/v0/count's default limit is GoatCounter's 60 per 120 s: the load needs more.
    env.update(COUNTER_API_COUNT_LIMIT="1000000000", COUNTER_API_COUNT_WINDOW_S="1")
    server = ServeProcess(["--workers", "1"], env, tmp_path_factory.mktemp("serve")).start()
    try:
        yield server.base_url, token
    finally:
        server.stop()
        with embedded_redis_client(embedded_redis) as client:
            for key in client.scan_iter(match=f"{prefix}*", count=1000):
                client.delete(key)


def embedded_redis_client(server: RedisProcess):  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis(port=server.port)


@pytest.fixture
def fake() -> Iterator[Callable[[str], str]]:
    """Start a fake server in MODE (see fake_server.py); returns its base URL."""
    started: list[subprocess.Popen[str]] = []

    def start(mode: str) -> str:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.load.fake_server", mode, str(port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
