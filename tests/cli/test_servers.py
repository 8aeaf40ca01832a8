"""`counter serve --server granian|uvicorn|hypercorn` as a user runs it: serves, stops cleanly."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from counter import ConfigError
from counter.settings import Settings
from tests.servers import RedisProcess, ServeProcess

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("server", "workers"), [("granian", 2), ("granian-asgi", 1), ("uvicorn", 1), ("hypercorn", 1)]
)
def test_serve_with_each_server(
    server: str, workers: int, embedded_redis: RedisProcess, prefix: str, tmp_path: Path
) -> None:
    process = ServeProcess(
        ["--server", server, "--workers", str(workers)],
        {"COUNTER_REDIS_URL": embedded_redis.url, "COUNTER_PREFIX": prefix},
        tmp_path,
    ).start()
    try:
        hits = [httpx.get(f"{process.base_url}/hit/served/page").json() for _ in range(3)]
        assert hits == [{"value": 1}, {"value": 2}, {"value": 3}]
        jsonp = httpx.get(f"{process.base_url}/get/served/page?callback=cb")
        assert jsonp.text == 'cb({"value":3,"status":200});'
    finally:
        code, output = process.stop(signal.SIGTERM)
    assert code == 0, output
    assert f"({server}, {workers} worker(s)" in output


def test_server_and_client_choices() -> None:
    assert Settings.from_env({"COUNTER_SERVER": "uvicorn"}).server == "uvicorn"
    with pytest.raises(ConfigError, match=r"COUNTER_SERVER .* must be one of granian"):
        Settings(server="gunicorn")
    with pytest.raises(ConfigError, match="COUNTER_REDIS_CLIENT"):
        Settings(redis_client="aioredis")
