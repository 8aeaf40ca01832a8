"""How a command reaches the server's Redis: the shared flags and the Store they open.

``--data-dir`` reaches the embedded Redis of a server running on that directory, or
starts it for the duration of the command when none runs; ``--redis-url`` any other,
``--redis-cluster`` a Redis Cluster.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from counter.engine.keys import Keys
from counter.engine.store import Store
from counter.redis.cluster import connect_cluster
from counter.redis.embedded import EmbeddedRedis, answers_ping, socket_path
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


@asynccontextmanager
async def open_store(settings: Settings, *, connections: int = 2) -> AsyncIterator[Store]:
    """A Store on the server's Redis, starting the embedded one briefly if it is not up."""
    embedded = None
    client: Redis | RedisCluster
    url = settings.redis_url
    if settings.redis_cluster is not None:
        client = connect_cluster(settings.cluster_nodes, max_connections=connections)
    else:
        if url is None:
            if answers_ping(socket_path(settings.data_dir)):
                url = f"unix://{socket_path(settings.data_dir)}"
            else:
                embedded = await asyncio.to_thread(EmbeddedRedis(settings.data_dir).start)
                url = embedded.url
        client = connect(url, max_connections=connections)
    store = Store(client, keys=Keys(settings.prefix), ttl_ms=settings.ttl_ms)
    try:
        await store.ping()
        yield store
    finally:
        await store.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
