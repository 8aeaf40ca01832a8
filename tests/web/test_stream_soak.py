"""Soak: open and drop thousands of streams; memory, file descriptors and state come back.

abacus's GHSA-vh64-54px-qgf8 was streams that were never released. Here 2,000 streams
(200 at a time, each reading its first event, every tenth hitting its counter while
open) are opened and dropped over real HTTP; afterwards the process has as many file
descriptors as before, its memory has not grown beyond noise, and no stream, watch or
registry entry is left. The figures are printed (``-s``) for the report.
"""

from __future__ import annotations

import asyncio
import gc
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from counter import Settings, create_app, lifespan
from tests.conftest import delete_prefix
from tests.servers import RedisProcess
from tests.web.live_server import serving
from tests.web.sse import open_stream

ROUNDS, AT_ONCE = 10, 200


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
async def soak_app(embedded_redis: RedisProcess, tmp_path: Path) -> AsyncIterator[Starlette]:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    settings = Settings(
        redis_url=embedded_redis.url,
        prefix=prefix,
        data_dir=tmp_path,
        stream_max_per_ip=AT_ONCE,
        stream_max_per_process=AT_ONCE,
    )
    app = create_app(settings)
    async with lifespan(app):
        yield app
        await delete_prefix((await app.state.counter_runtime.store()).redis, prefix)


async def one_round(http: httpx.AsyncClient, round_number: int) -> None:
    async def one(index: int) -> None:
        path = f"/stream/soak/key{index % 50}"
        async with open_stream(http, path) as stream:
            await stream.next()
            if index % 10 == 0:
                await http.get(f"/hit/soak/key{index % 50}")

    await asyncio.gather(*(one(round_number * AT_ONCE + index) for index in range(AT_ONCE)))


async def settle(app: Starlette) -> None:
    hub = app.state.counter_streams
    feed = await app.state.counter_runtime.changes()
    for _ in range(200):
        if not hub.clients and feed.local_count == 0:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # the last withdrawals from the registry
    gc.collect()


async def test_thousands_of_streams_leave_nothing_behind(soak_app: Starlette) -> None:
    limits = httpx.Limits(max_connections=AT_ONCE, max_keepalive_connections=0)
    async with serving(soak_app) as base:
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
            await one_round(http, 0)  # warm-up: imports, pools, allocator arenas
            await settle(soak_app)
            fds, rss = open_fds(), rss_kib()
            for round_number in range(1, ROUNDS + 1):
                await one_round(http, round_number)
            await settle(soak_app)
            fds_after, rss_after = open_fds(), rss_kib()
        store = await soak_app.state.counter_runtime.store()
        registry = await store.redis.zcard(store.keys.live_watchers())
    print(
        f"\nsoak: {ROUNDS * AT_ONCE} streams ({AT_ONCE} at once): fds {fds} -> {fds_after}, "
        f"RSS {rss / 1024:.1f} -> {rss_after / 1024:.1f} MiB, registry entries {registry}"
    )
    assert fds_after <= fds + 2  # a pooled Redis connection may open meanwhile
    assert rss_after - rss < 16 * 1024  # KiB: no per-stream growth (2,000 streams)
    assert soak_app.state.counter_streams.clients == set()
    assert (await soak_app.state.counter_runtime.changes()).local_count == 0
    assert registry == 0
