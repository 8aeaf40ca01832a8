"""The minimal auto-pipelining client on real redis-servers: exact replies, NOSCRIPT reload,
restarts, lost replies never resent, reply timeouts, AUTH and SELECT."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis

from counter import Keys, Store, StoreUnavailable
from counter.redis.resp import RespTransport
from tests.servers import RedisProcess


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test alone: it may be restarted and its script cache flushed."""
    server = RedisProcess(tmp_path / "redis").start()
    yield server
    server.stop()


def resp_store(url: str, prefix: str, **options: float) -> Store:
    transport = RespTransport.from_url(url, **options)
    return Store(Redis.from_url(url), transport=transport, keys=Keys(prefix))


async def test_concurrent_hits_each_get_their_own_reply(standalone_url: str, prefix: str) -> None:
    store = resp_store(standalone_url, prefix)
    try:
        results = await asyncio.gather(*(store.hit("ns", "many") for _ in range(300)))
        # Coalesced into pipelines, yet every caller got the reply to its own script.
        assert sorted(r.value for r in results) == list(range(1, 301))
        assert sum(r.created for r in results) == 1
        reads = await asyncio.gather(*(store.get("ns", "many") for _ in range(50)))
        assert reads == [300] * 50
    finally:
        await store.transport.command("DEL", *(await _keys(store, prefix)))
        await store.close()


async def test_script_cache_flushed_runs_script_once(private_redis: RedisProcess) -> None:
    store = resp_store(private_redis.url, "t:")
    try:
        assert (await store.hit("ns", "key")).value == 1
        await store.transport.command("SCRIPT", "FLUSH")
        # Concurrent callers all meet NOSCRIPT; each script runs exactly once.
        results = await asyncio.gather(*(store.hit("ns", "key") for _ in range(20)))
        assert sorted(r.value for r in results) == list(range(2, 22))
        assert await store.get("ns", "key") == 21
    finally:
        await store.close()


async def test_recovers_after_redis_restart(private_redis: RedisProcess) -> None:
    store = resp_store(private_redis.url, "t:")
    try:
        assert (await store.hit("ns", "key")).value == 1
        private_redis.stop()
        with pytest.raises(StoreUnavailable):
            await store.hit("ns", "key")
        with pytest.raises(StoreUnavailable):  # still down: a clear error, no hang
            await store.get("ns", "key")
        private_redis.start()  # same port, empty data and empty script cache
        assert (await store.hit("ns", "key")).value == 1
        assert await store.get("ns", "key") == 1
    finally:
        await store.close()


class ReplyDropper:
    """A TCP proxy in front of Redis that can cut the connection instead of passing a reply."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = "pass"  # "pass" | "drop" (close, reply lost) | "hold" (never answer)
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/0"

    async def __aenter__(self) -> ReplyDropper:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for handler in self.handlers:
            handler.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        await self.server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        redis_r, redis_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, up: bool) -> None:
            while data := await source.read(65536):
                if not up and self.mode == "drop":
                    client_w.transport.abort()
                    return
                if not up and self.mode == "hold":
                    continue
                sink.write(data)
            sink.close()

        try:
            with contextlib.suppress(OSError):
                await asyncio.gather(pump(client_r, redis_w, True), pump(redis_r, client_w, False))
        finally:
            redis_w.transport.abort()
            client_w.transport.abort()


@contextlib.asynccontextmanager
async def proxied_store(
    server: RedisProcess, **options: float
) -> AsyncIterator[tuple[ReplyDropper, Store]]:
    async with ReplyDropper(server.port) as proxy:
        store = resp_store(proxy.url, "t:", **options)
        try:
            yield proxy, store
        finally:
            await store.close()


async def test_lost_reply_fails_and_is_never_resent(private_redis: RedisProcess) -> None:
    direct = Redis.from_url(private_redis.url)
    async with proxied_store(private_redis) as (proxy, store):
        assert (await store.hit("ns", "key")).value == 1
        proxy.mode = "drop"
        with pytest.raises(StoreUnavailable):
            await store.hit("ns", "key")
        # Redis applied the hit whose reply was lost, exactly once: no blind retry.
        assert await direct.hget("t:{ns/key}", "value") == b"2"
        proxy.mode = "pass"
        assert (await store.hit("ns", "key")).value == 3  # reconnected before sending
    await direct.aclose()


async def test_no_reply_in_time_fails_the_request(private_redis: RedisProcess) -> None:
    async with proxied_store(private_redis, reply_timeout=0.2) as (proxy, store):
        proxy.mode = "hold"
        with pytest.raises(StoreUnavailable):
            await store.get("ns", "key")
        proxy.mode = "pass"
        with pytest.raises(Exception, match="ns/key"):  # answered again: the counter is missing
            await store.get("ns", "key")


async def test_auth_and_database_from_url(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path / "redis").start()
    try:
        setup = redis.Redis(port=server.port)
        setup.config_set("requirepass", "s3cret")
        setup.close()
        url = f"redis://:s3cret@127.0.0.1:{server.port}/5"
        store = resp_store(url, "t:")
        assert (await store.hit("ns", "key")).value == 1
        await store.close()
        check = redis.Redis(port=server.port, password="s3cret", db=5)
        assert check.hget("t:{ns/key}", "value") == b"1"
        check.close()
        wrong = resp_store(f"redis://:nope@127.0.0.1:{server.port}/5", "t:")
        with pytest.raises(StoreUnavailable):
            await wrong.hit("ns", "key")
        await wrong.close()
    finally:
        server.stop()


def test_url_parsing() -> None:
    tcp = RespTransport.from_url("redis://user:p%40ss@example.org:6380/3")
    assert (tcp.host, tcp.port, tcp.db, tcp.username, tcp.password) == (
        "example.org",
        6380,
        3,
        "user",
        "p@ss",
    )
    unix = RespTransport.from_url("unix:///run/redis.sock?db=2")
    assert (unix.path, unix.db, unix.password) == ("/run/redis.sock", 2, None)
    with pytest.raises(ValueError, match="rediss"):
        RespTransport.from_url("rediss://example.org")


async def test_both_transports_give_the_store_the_same_replies(
    standalone_url: str, prefix: str
) -> None:
    fast = resp_store(standalone_url, prefix)
    standard = Store(Redis.from_url(standalone_url), keys=Keys(prefix))
    try:
        for store in (fast, standard, fast):
            await store.hit("ns", "same")
            await store.add_stats({"requests": 2, "keys_updated": 1})
        assert await fast.get("ns", "same") == await standard.get("ns", "same") == 3
        assert await fast.read_stats() == await standard.read_stats()
        assert (await fast.read_stats())["requests"] == 6
        fast_info, standard_info = await fast.info("ns", "same"), await standard.info("ns", "same")
        assert replace(fast_info, ttl=0) == replace(standard_info, ttl=0)  # ttl: ms ticking
    finally:
        await fast.transport.command("DEL", *(await _keys(fast, prefix)))
        await fast.close()
        await standard.close()


async def _keys(store: Store, prefix: str) -> list[bytes]:
    found: list[bytes] = await store.transport.command("KEYS", f"{prefix}*")
    return found or [f"{prefix}none".encode()]
