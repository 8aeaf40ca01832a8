"""Redis going away and coming back: 503 with JSON, recovery without restarting the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from counter import Settings, create_app, lifespan
from tests.servers import RedisProcess


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisProcess]:
    """A persistent redis-server this test may stop and restart (never the shared one).

    AOF keeps the data over a restart, so whether a periodic stats flush ran before an
    outage does not change what the test reads.
    """
    server = RedisProcess(tmp_path / "redis", extra=["--appendonly", "yes"]).start()
    yield server
    server.stop()


async def test_unreachable_redis_is_503_json_then_recovers(own_redis: RedisProcess) -> None:
    app = create_app(Settings(redis_url=own_redis.url, prefix="fail:"))
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        assert (await client.get("/hit/survivor")).json() == {"value": 1}

        own_redis.stop()
        for url in ("/hit/survivor", "/get/survivor", "/info/survivor", "/create", "/stats"):
            down = await client.get(url)
            assert down.status_code == 503, url
            assert set(down.json()) == {"error"}
            assert "Traceback" not in down.text and "127.0.0.1" not in down.text
        assert (await client.get("/healthz")).status_code == 503
        jsonp = await client.get("/hit/survivor", params={"callback": "cb"})
        assert jsonp.status_code == 200 and '"status":503' in jsonp.text

        own_redis.start()  # same port and data, empty script cache
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/hit/survivor")).json() == {"value": 2}  # script reloaded
        assert (await client.get("/update/survivor", params={"amount": 0})).json() == {"value": 2}


async def test_stats_survive_an_outage(own_redis: RedisProcess) -> None:
    app = create_app(Settings(redis_url=own_redis.url, prefix="fail:"))
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        await client.get("/hit/one-key")
        own_redis.stop()
        await client.get("/hit/one-key")  # 503, still a request
        own_redis.start()
        stats = (await client.get("/stats")).json()
        # the deltas that could not be flushed during the outage were kept, not lost
        assert stats["requests"] == 3 and stats["keys_created"] == 1
