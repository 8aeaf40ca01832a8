"""How a command reaches the server's Redis: the shared flags and the Store they open.

``--data-dir`` reaches the embedded Redis of a server running on that directory, or
starts it for the duration of the command when none runs; ``--redis-url`` any other,
``--redis-cluster`` a Redis Cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from counter.engine.keys import Keys
from counter.engine.store import Store
from counter.errors import StoreUnavailable
from counter.redis.cluster import connect_cluster
from counter.redis.datadir import DataDirBusy
from counter.redis.embedded import EmbeddedRedis, socket_path
from counter.runtime import connect
from counter.settings import Settings


def add_redis_flags(parser: argparse.ArgumentParser) -> None:
    """The flags every Redis-talking command shares with ``counter serve``."""
    parser.add_argument(
        "--data-dir", type=Path, help="data directory of the server's embedded Redis"
    )
    parser.add_argument("--redis-url", help="the server's Redis (COUNTER_REDIS_URL)")
    parser.add_argument(
        "--redis-cluster",
        metavar="HOST:PORT,...",
        help="the server's Redis Cluster (COUNTER_REDIS_CLUSTER)",
    )
    parser.add_argument("--prefix", help="Redis key prefix (COUNTER_PREFIX, default cnt:)")


WAIT_S = 60.0


@asynccontextmanager
async def open_store(
    settings: Settings, *, connections: int = 2, wait_s: float | None = WAIT_S
) -> AsyncIterator[Store]:
    """A Store on the server's Redis, starting the embedded one briefly if none runs.

    With the data directory locked (a server runs on it) the command goes through the
    server's socket and waits for a stalled Redis (up to ``wait_s``) rather than
    replacing it; it starts its own Redis only when it could take the lock. ``wait_s``
    None waits only for that data directory's Redis: a wrong ``--redis-url`` fails at once.
    """
    embedded = None
    client: Redis | RedisCluster
    url = settings.redis_url
    wait = wait_s or 0.0
    if settings.redis_cluster is not None:
        client = connect_cluster(settings.cluster_nodes, max_connections=connections)
    else:
        if url is None:
            embedded = EmbeddedRedis(settings.data_dir, maxmemory=settings.redis_maxmemory)
            try:
                await asyncio.to_thread(embedded.start)
            except DataDirBusy:
                embedded = None
            url = f"unix://{socket_path(settings.data_dir)}"
            wait = WAIT_S if wait_s is None else wait_s
        client = connect(url, max_connections=connections, socket_timeout=max(wait, 10))
    store = Store(client, keys=Keys(settings.prefix), ttl_ms=settings.ttl_ms)
    try:
        await _wait_for(store, wait)
        yield store
    finally:
        await store.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def _wait_for(store: Store, wait_s: float) -> None:
    """PING until the Redis answers: a server may be starting or its Redis restarting."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            await store.ping()
            return
        except StoreUnavailable:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.2)
