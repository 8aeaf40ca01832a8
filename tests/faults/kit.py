"""The fault suite's tools: processes found through /proc, and a ledger of acknowledged hits."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from counter.redis.embedded import socket_path
from tests.servers import ServeProcess


def silent_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` TCP connections that never send a byte (connects started, not awaited)."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        sockets.append(sock)
    return sockets


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's, as Linux lists them per thread)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def workers(server: ServeProcess) -> list[int]:
    """The worker processes of a ``counter serve``: its children other than redis-server."""
    assert server.process is not None
    found = [(pid, cmdline(pid)) for pid in children(server.process.pid)]
    return [pid for pid, line in found if b"counter" in line and b"redis-server" not in line]


def open_descriptors(server: ServeProcess) -> int:
    """File descriptors held by the server's processes, Redis excluded (workers, recursively)."""
    assert server.process is not None
    total, todo = 0, [server.process.pid]
    while todo:
        pid = todo.pop()
        if b"redis-server" in cmdline(pid):
            continue
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{pid}/fd"))
            todo += children(pid)
    return total


def redis_pids(data_dir: Path) -> list[int]:
    """PIDs of redis-server processes serving ``data_dir``."""
    needle = str(socket_path(data_dir)).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            line = cmdline(int(entry.name))
            if b"redis-server" in line and needle in line:
                pids.append(int(entry.name))
    return pids


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    os.kill(pid, sig)


@dataclass
class Ledger:
    """Clients hitting one counter: how many hits were sent and how many acknowledged.

    A hit answered 200 was counted (it must be stored); one that failed may or may not
    have been (its connection died after sending): stored must lie in [acked, sent].
    """

    base_url: str
    key: str
    threads: int = 4
    sent: int = 0
    acked: int = 0
    failures: int = 0
    acked_at: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: list[threading.Thread] = field(default_factory=list)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while not self._stop.is_set():
                with self._lock:
                    self.sent += 1
                try:
                    ok = client.get(f"/hit/{self.key}").status_code == 200
                except httpx.HTTPError:
                    ok = False
                with self._lock:
                    if ok:
                        self.acked += 1
                        self.acked_at.append(time.monotonic())
                    else:
                        self.failures += 1
                if not ok:
                    time.sleep(0.01)

    def __enter__(self) -> Ledger:
        self._pool = [threading.Thread(target=self._run) for _ in range(self.threads)]
        for thread in self._pool:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._pool:
            thread.join()

    def served_after(self, moment: float) -> float | None:
        """Seconds from ``moment`` to the first acknowledged hit after it."""
        with self._lock:
            later = [at for at in self.acked_at if at > moment]
        return min(later) - moment if later else None
