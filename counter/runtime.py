"""What a running app holds: its settings, the Store, the stats, maybe an embedded Redis.

Connecting is lazy and idempotent, so the app works both when its lifespan runs and
when it is mounted inside a host app that never sends it lifespan events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from counter.engine.base import ScriptObserver
from counter.engine.changes import ChangeFeed
from counter.engine.keys import Keys
from counter.engine.statbatch import StatLimits
from counter.engine.statfold import SiteStatsFolder
from counter.engine.stats import StatsAggregator
from counter.engine.store import Store
from counter.errors import CounterError
from counter.redis.cluster import check_cluster, connect_cluster
from counter.redis.embedded import EmbeddedRedis
from counter.redis.resp import RespTransport
from counter.redis.transport import resp_supports
from counter.settings import Settings


def connect(url: str, *, max_connections: int = 64, socket_timeout: float = 10) -> Redis:
    """A client with a bounded pool that never retries a command.

    Requests beyond ``max_connections`` wait for a free connection (up to 5 s) instead
    of failing. No retries: a retried script could count twice. Stale pooled
    connections are still replaced before a command is sent (redis-py checks each
    connection as it leaves the pool), so a Redis restart costs no request.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        retry=Retry(NoBackoff(), 0),
        socket_connect_timeout=2,
        socket_timeout=socket_timeout,
    )
    return Redis.from_pool(pool)


class Runtime:
    """Lazily started engine state shared by every request of one app."""

    def __init__(self, settings: Settings, *, redis: Redis | RedisCluster | None = None) -> None:
        self.settings = settings
        self._redis = redis
        self._store: Store | None = None
        self._changes: ChangeFeed | None = None
        self._embedded: EmbeddedRedis | None = None
        self._lock = asyncio.Lock()
        # Set before the first request (metrics): told of every script call the Store makes.
        self.script_observer: ScriptObserver | None = None
        self.stats = StatsAggregator(self.store, settings.stats_flush_ms)
        # GoatCounter site statistics, folded per site in this process (engine/statfold.py).
        self.site_stats = SiteStatsFolder(
            self.store,
            StatLimits(
                retention_ms=settings.stats_retention_days * 86_400_000,
                member_cap=settings.stats_member_cap,
                max_paths=settings.stats_max_paths,
            ),
            settings.site_stats_flush_ms,
        )

    async def store(self) -> Store:
        """The Store, connecting (and starting the embedded Redis) on first use."""
        if self._store is not None:  # every request asks: the common case first, no lock
            return self._store
        async with self._lock:
            if self._store is None:
                store = await self._open()
                store.observer = self.script_observer
                if self.settings.stream_max_per_process:
                    self._changes = self._start_changes(store)
                self._store = store
                self.stats.start()
        return self._store

    async def settled_store(self, namespace: str | None = None) -> Store:
        """The Store, once this process's pending statistics of ``namespace`` (None: of
        every site) are written: a reader sees every hit this process has answered."""
        await self.site_stats.settle(namespace)
        return await self.store()

    def _start_changes(self, store: Store) -> ChangeFeed:
        """Every process publishes changes of counters watched anywhere, streams or not."""
        feed = ChangeFeed(
            store,
            interval_ms=self.settings.live_interval_ms,
            refresh_ms=self.settings.live_refresh_ms,
        )
        store.changes = feed
        feed.start()
        return feed

    async def changes(self) -> ChangeFeed | None:
        """The change feed (None when live updates are off), once the Store is open."""
        await self.store()
        return self._changes

    async def _open(self) -> Store:
        keys, ttl_ms = Keys(self.settings.prefix), self.settings.ttl_ms
        if self._redis is not None:
            return Store(self._redis, keys=keys, ttl_ms=ttl_ms)
        if self.settings.redis_cluster is not None:
            cluster = connect_cluster(
                self.settings.cluster_nodes, max_connections=self.settings.redis_max_connections
            )
            try:
                await check_cluster(cluster, self.settings.redis_cluster)
            except BaseException:
                await cluster.aclose()
                raise
            return Store(cluster, keys=keys, ttl_ms=ttl_ms)
        url = self.settings.redis_url
        if url is None:
            embedded = EmbeddedRedis(
                self.settings.data_dir, maxmemory=self.settings.redis_maxmemory
            )
            await asyncio.to_thread(embedded.start)
            self._embedded = embedded
            url = embedded.url
        redis = connect(url, max_connections=self.settings.redis_max_connections)
        transport = None
        if self.settings.redis_client == "resp" and resp_supports(url):
            # The hot path's scripts and reads on the auto-pipelining client; redis-py
            # (which connects only when used) for the rarer commands, and for TLS.
            transport = RespTransport.from_url(url)
        return Store(redis, transport=transport, keys=keys, ttl_ms=ttl_ms)

    async def close(self) -> None:
        """Flush stats, close the client we opened, stop the Redis we started."""
        changes, self._changes = self._changes, None
        if changes is not None:
            await changes.close()
        if self._store is not None:
            await self.stats.stop()  # its last flush still needs the open store
            await self.site_stats.stop()
            store, self._store = self._store, None
            if self._redis is None:  # a client handed to us belongs to the caller
                await store.close()
        embedded, self._embedded = self._embedded, None
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Runtime]:
        store = await self.store()
        # Loaded now so /readyz passes before the first request; Redis may be down yet.
        with contextlib.suppress(CounterError):
            await store.load_scripts()
        try:
            yield self
        finally:
            await self.close()
