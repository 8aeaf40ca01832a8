"""`counter serve --server granian|uvicorn|hypercorn` as a user runs it: serves, stops cleanly."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest

from counter import ConfigError, Store
from counter.engine.keys import Keys
from counter.runtime import connect
from counter.settings import Settings
from tests.servers import RedisProcess, ServeProcess

pytestmark = pytest.mark.slow
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.mark.parametrize(
    ("server", "workers"), [("granian", 2), ("granian-asgi", 1), ("uvicorn", 1), ("hypercorn", 1)]
)
def test_serve_with_each_server(
    server: str, workers: int, embedded_redis: RedisProcess, prefix: str, tmp_path: Path
) -> None:
    process = ServeProcess(
        ["--server", server, "--workers", str(workers)],
        {"COUNTER_REDIS_URL": embedded_redis.url, "COUNTER_PREFIX": prefix,
         "COUNTER_SITE_STATS_FLUSH_MS": "1000"},
        tmp_path,
    ).start()  # fmt: skip
    try:
        hits = [httpx.get(f"{process.base_url}/hit/served/page").json() for _ in range(3)]
        assert hits == [{"value": 1}, {"value": 2}, {"value": 3}]
        jsonp = httpx.get(f"{process.base_url}/get/served/page?callback=cb")
        assert jsonp.text == 'cb({"value":3,"status":200});'
        pixel = httpx.get(f"{process.base_url}/count?p=/served", headers={"User-Agent": BROWSER})
        assert pixel.status_code == 200
    finally:
        code, output = process.stop(signal.SIGTERM)  # at once: the statistics are still folded
    assert code == 0, output
    assert f"({server}, {workers} worker(s)" in output
    # The stop wrote them (the interval had not run out).
    meta = asyncio.run(_site_meta(embedded_redis.url, prefix))
    assert (meta.get("visits"), meta.get("pageviews")) == ("1", "1"), (meta, output)


async def _site_meta(url: str, prefix: str) -> dict[str, str]:
    redis = connect(url)
    try:
        return await Store(redis, keys=Keys(prefix)).site_meta("default")
    finally:
        await redis.aclose()


def test_server_and_client_choices() -> None:
    assert Settings.from_env({"COUNTER_SERVER": "uvicorn"}).server == "uvicorn"
    with pytest.raises(ConfigError, match=r"COUNTER_SERVER .* must be one of granian"):
        Settings(server="gunicorn")
    with pytest.raises(ConfigError, match="COUNTER_REDIS_CLIENT"):
        Settings(redis_client="aioredis")
