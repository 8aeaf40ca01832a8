"""Redis answering "not now" (LOADING, BUSY, MISCONF, OOM, READONLY...): 503 + Retry-After.

A fake Redis on a real TCP socket answers the connection handshake and then every
command with one error reply, for both Redis clients and every kind of route.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import hiredis
import httpx
import pytest

from counter import Settings, create_app, lifespan

pytestmark = pytest.mark.fault

ERRORS = [
    "LOADING Redis is loading the dataset in memory",
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist",
    "OOM command not allowed when used memory > 'maxmemory'.",
    "READONLY You can't write against a read only replica.",
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    "NOREPLICAS Not enough good replicas to write.",
    "TRYAGAIN Multiple keys request during rehashing of slot",
    "CLUSTERDOWN The cluster is down",
    # Redis 6 wraps an error raised inside a script:
    "ERR Error running script (call to f_0123): @user_script:1: @user_script: 1: "
    "-OOM command not allowed when used memory > 'maxmemory'.",
]
_HANDSHAKE = {b"CLIENT": b"+OK\r\n", b"SELECT": b"+OK\r\n", b"AUTH": b"+OK\r\n"}


class FakeRedis:
    """Answers CLIENT/SELECT/AUTH with +OK and everything else with ``self.error``."""

    def __init__(self) -> None:
        self.error = ERRORS[0]
        self.commands = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = hiredis.Reader()
        try:
            while data := await reader.read(65536):
                parser.feed(data)
                while (command := parser.gets()) is not False:
                    self.commands += 1
                    name = bytes(command[0]).upper()
                    writer.write(_HANDSHAKE.get(name) or f"-{self.error}\r\n".encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


@pytest.fixture
async def fake_redis() -> AsyncIterator[tuple[FakeRedis, int]]:
    fake = FakeRedis()
    port = await fake.start()
    yield fake, port
    assert fake.server is not None
    fake.server.close()


ROUTES = [
    ("GET", "/hit/page", None),  # the raw hot path
    ("GET", "/get/space/page", None),
    ("GET", "/hit/page?callback=cb", None),  # the router, JSONP
    ("GET", "/create?namespace=space&key=new", None),
    ("GET", "/update/page?amount=2", None),
    ("GET", "/set/page?value=3", None),
    ("GET", "/info/page", None),
    ("GET", "/stats", None),
    ("GET", "/healthz", None),
    ("GET", "/api/v0/me", None),
    ("POST", "/api/v0/count", b'{"hits": [{"path": "/x", "no_sessions": true}]}'),
    ("GET", "/api/v0/counters?namespace=space", None),
]


@pytest.mark.parametrize("client", ["resp", "redis-py"])
async def test_every_route_answers_503_with_retry_after(
    fake_redis: tuple[FakeRedis, int], client: str
) -> None:
    fake, port = fake_redis
    settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0", redis_client=client)
    app = create_app(settings)
    headers = {"Authorization": "Bearer " + "a" * 43, "Content-Type": "application/json"}
    async with (
        lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers
        ) as http,
    ):
        for error in ERRORS:
            fake.error = error
            for method, url, body in ROUTES:
                answer = await http.request(method, url, content=body)
                what = f"{error.split()[0]} {method} {url}"
                if "callback" in url:  # JSONP answers 200: the status travels in the body
                    assert answer.text.startswith('cb({"error":'), (what, answer.text)
                    assert '"status":503' in answer.text, (what, answer.text)
                    continue
                assert answer.status_code == 503, (what, answer.text)
                assert answer.headers["retry-after"] == "1", what
                assert set(answer.json()) == ({"status"} if url == "/healthz" else {"error"})
    assert fake.commands > len(ERRORS) * len(ROUTES) // 2  # the errors came from Redis
