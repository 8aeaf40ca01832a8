"""`counter serve --server granian|uvicorn|hypercorn` as a user runs it: serves, stops cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import httpx
import pytest

from counter import ConfigError, CounterNotFound, Store
from counter.engine.keys import Keys
from counter.runtime import connect
from counter.settings import Settings
from tests.apikit import bearer, new_token
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


def test_site_statistics_equal_the_counters_after_a_graceful_stop_under_load(
    embedded_redis: RedisProcess, prefix: str, tmp_path: Path
) -> None:
    """Two workers fold the statistics of concurrent batches on repeating paths; after
    SIGTERM every hit is in them exactly once: pageviews = visits = the counters' sum."""
    process = ServeProcess(
        ["--server", "granian", "--workers", "2"],
        {"COUNTER_REDIS_URL": embedded_redis.url, "COUNTER_PREFIX": prefix,
         "COUNTER_API_COUNT_LIMIT": "100000", "COUNTER_SITE_STATS_FLUSH_MS": "200"},
        tmp_path,
    ).start()  # fmt: skip
    paths = [f"/page{n}" for n in range(40)]

    async def load() -> int:
        store = Store(connect(embedded_redis.url), keys=Keys(prefix))
        headers = bearer(await new_token(store, perms="count", namespaces="load"))
        await store.redis.aclose()
        async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as http:

            async def client(number: int) -> int:
                sent = 0
                for batch in range(15):  # paths repeat: page0 in every batch, page39 rarely
                    hits = [{"path": paths[(number * batch + i) % (1 + i % 40)]}
                            for i in range(50)]  # fmt: skip
                    body = {"namespace": "load", "no_sessions": True, "hits": hits}
                    answer = await http.post("/api/v0/count", headers=headers, json=body)
                    assert answer.status_code == 202, answer.text
                    sent += len(hits)
                return sent

            return sum(await asyncio.gather(*(client(n) for n in range(8))))

    try:
        sent = asyncio.run(load())
    finally:
        code, output = process.stop(signal.SIGTERM)
    assert code == 0, output

    async def stored() -> tuple[dict[str, str], int]:
        redis = connect(embedded_redis.url)
        store = Store(redis, keys=Keys(prefix))
        try:
            meta = await store.site_meta("load")
            counted = 0
            for path in paths:
                with contextlib.suppress(CounterNotFound):
                    counted += await store.get("load", path.strip("/"))
            return meta, counted
        finally:
            await redis.aclose()

    meta, counted = asyncio.run(stored())
    assert counted == sent == 8 * 15 * 50
    assert (meta["pageviews"], meta["visits"]) == (str(sent), str(sent)), meta
