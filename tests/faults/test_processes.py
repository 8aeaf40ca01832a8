"""Processes dying and stalling under load: Redis, one worker, the whole app; the data dir lock."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from counter.redis.embedded import socket_path
from tests.faults.kit import Ledger, kill, redis_pids, workers
from tests.servers import ServeProcess, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.fault]


def embedded_serve(tmp_path: Path, *args: str) -> ServeProcess:
    env = {"COUNTER_REDIS_URL": ""}  # only the embedded path
    return ServeProcess(["--data-dir", str(tmp_path / "data"), *args], env, tmp_path)


def cli(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "counter.cli", *args],
        cwd=cwd,
        env={**os.environ, "COUNTER_REDIS_URL": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_stopped_redis_is_waited_for_never_replaced(tmp_path: Path) -> None:
    """SIGSTOP of the server's Redis: the CLI waits, a second server is refused, no split."""
    data_dir = tmp_path / "data"
    server = embedded_serve(tmp_path).start()
    try:
        for _ in range(3):
            assert httpx.get(f"{server.base_url}/hit/one").status_code == 200
        [redis_pid] = redis_pids(data_dir)
        kill(redis_pid, signal.SIGSTOP)
        try:
            token = cli(tmp_path, "token", "create", "--data-dir", str(data_dir),
                        "--name", "ops", "--perm", "read", "--namespace", "*")  # fmt: skip
            second = cli(tmp_path, "serve", "--data-dir", str(data_dir), "--port", "1")
            _, refused = second.communicate(timeout=30)
            assert second.returncode == 2
            assert "is in use by a running counter process" in refused
            time.sleep(1)
            assert token.poll() is None  # still waiting for the stalled Redis
            assert socket_path(data_dir).exists()  # the live owner's socket is untouched
            assert redis_pids(data_dir) == [redis_pid]  # no second Redis on this directory
        finally:
            kill(redis_pid, signal.SIGCONT)
        out, err = token.communicate(timeout=30)
        assert token.returncode == 0, err
        assert "created token 'ops'" in out
        assert httpx.get(f"{server.base_url}/hit/one").json() == {"value": 4}
        assert redis_pids(data_dir) == [redis_pid]
    finally:
        code, output = server.stop()
    assert code == 0, output


def test_the_embedded_redis_is_restarted_and_keeps_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = embedded_serve(tmp_path, "--workers", "2").start()
    try:
        for _ in range(5):
            assert httpx.get(f"{server.base_url}/hit/kept").status_code == 200
        time.sleep(1.2)  # appendfsync everysec: what was acked a second ago is on disk
        [first] = redis_pids(data_dir)
        with Ledger(server.base_url, "load") as ledger:
            time.sleep(0.5)
            killed_at = time.monotonic()
            kill(first)
            wait_until(lambda: redis_pids(data_dir) not in ([], [first]), 5, "a new redis-server")
            restarted_at = time.monotonic()
            wait_until(lambda: ledger.served_after(restarted_at) is not None, 5, "service")
        recovery = ledger.served_after(killed_at)
        assert recovery is not None and recovery < 2.0, recovery
        assert httpx.get(f"{server.base_url}/get/kept").json() == {"value": 5}
        value = httpx.get(f"{server.base_url}/get/load").json()["value"]
        # acked hits of the last second before the kill may be lost (everysec): not more
        assert value <= ledger.sent
    finally:
        code, output = server.stop()
    assert code == 0, output
    assert "embedded redis-server restarted" in output
    assert redis_pids(data_dir) == []


def test_a_killed_worker_is_respawned_under_load(tmp_path: Path) -> None:
    server = embedded_serve(tmp_path, "--workers", "2").start()
    try:
        before = workers(server)
        assert len(before) == 2
        with Ledger(server.base_url, "ledger") as ledger:
            time.sleep(1)
            killed_at = time.monotonic()
            kill(before[0])
            wait_until(lambda: len(set(workers(server)) - set(before)) == 1, 5, "a new worker")
            respawned = time.monotonic() - killed_at
            time.sleep(0.5)
            assert server.process is not None and server.process.poll() is None
        stored = httpx.get(f"{server.base_url}/get/ledger").json()["value"]
        assert ledger.acked <= stored <= ledger.sent  # 0 acked hits lost, none invented
        assert respawned < 2.0, respawned
        assert (ledger.served_after(killed_at) or 99) < 2.0
    finally:
        code, output = server.stop()
    assert code == 0, output


def test_a_killed_app_loses_no_acked_hit(tmp_path: Path) -> None:
    """kill -9 of ``counter serve``: its Redis flushes on the way down (SIGTERM from the kernel)."""
    data_dir = tmp_path / "data"
    server = embedded_serve(tmp_path, "--workers", "2").start()
    with Ledger(server.base_url, "ledger") as ledger:
        time.sleep(1.5)
        server.stop(signal.SIGKILL)
    wait_until(lambda: redis_pids(data_dir) == [], 10, "the embedded redis-server to exit")
    server = embedded_serve(tmp_path).start()
    try:
        stored = httpx.get(f"{server.base_url}/get/ledger").json()["value"]
        assert ledger.acked > 0
        assert ledger.acked <= stored <= ledger.sent
    finally:
        server.stop()


def test_the_data_directory_is_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = embedded_serve(tmp_path).start()
    try:
        assert httpx.get(f"{server.base_url}/hit/private").status_code == 200
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        files = [path for path in data_dir.rglob("*") if path.is_file()]
        assert any("appendonly" in path.name for path in files)
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    finally:
        server.stop()

    data_dir.chmod(0o777)
    refused = cli(tmp_path, "serve", "--data-dir", str(data_dir))
    _, err = refused.communicate(timeout=30)
    assert refused.returncode == 2
    assert "writable by other users" in err


def test_a_crash_looping_redis_stops_the_server_with_status_1(tmp_path: Path) -> None:
    """Restarts back off; past 5 crashes in a minute ``counter serve`` exits 1 for systemd."""
    data_dir = tmp_path / "data"
    server = embedded_serve(tmp_path).start()
    assert server.process is not None
    killed: set[int] = set()
    deadline = time.monotonic() + 20
    while server.process.poll() is None and time.monotonic() < deadline:
        for pid in set(redis_pids(data_dir)) - killed:
            kill(pid)
            killed.add(pid)
        time.sleep(0.02)
    code, output = server.stop()
    assert code == 1, output
    assert len(killed) == 6  # the first Redis and 5 restarts
    assert "keeps crashing; giving up" in output
    assert redis_pids(data_dir) == []
