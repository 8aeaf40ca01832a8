"""Mounting the counter app inside a host ASGI app, with and without passing on its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import counter
from counter import Settings


async def host_home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("host")


async def test_mounted_with_the_hosts_lifespan(settings: Settings, redis: Redis) -> None:
    counter_app = counter.create_app(settings)

    @asynccontextmanager
    async def host_lifespan(app: Starlette) -> AsyncIterator[None]:
        async with counter.lifespan(counter_app):  # the mounted app gets no lifespan itself
            yield

    host = Starlette(
        routes=[Route("/", host_home), Mount("/counter", app=counter_app)],
        lifespan=host_lifespan,
    )
    async with (
        host.router.lifespan_context(host),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=host), base_url="http://host"
        ) as client,
    ):
        assert (await client.get("/")).text == "host"
        hit = await client.get("/counter/hit/embedded-key")
        assert (hit.status_code, hit.json()) == (200, {"value": 1})
        assert hit.headers["x-path"] == "default/embedded-key"
        assert hit.headers["access-control-allow-origin"] == "*"
        assert (await client.get("/counter/get/embedded-key")).json() == {"value": 1}
        missing = await client.get("/counter/nothing")
        assert (missing.status_code, missing.json()) == (404, {"error": "not found"})
    # leaving the host's lifespan flushed this app's stats to Redis
    stats = await redis.hgetall(f"{settings.prefix}stats")
    assert int(stats[b"requests"]) == 2  # the hit and the get; a 404 route is no request


async def test_mounted_without_lifespan_connects_lazily(settings: Settings, redis: Redis) -> None:
    """The caveat of Starlette issue #649: no start-up event reaches a mounted app.

    The app still works, connecting on its first request; only the host's lifespan
    (``counter.lifespan``) closes it cleanly and flushes its last stats.
    """
    counter_app = counter.create_app(settings)
    host = Starlette(routes=[Mount("/c", app=counter_app)])
    async with (
        host.router.lifespan_context(host),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=host), base_url="http://host"
        ) as client,
    ):
        assert (await client.get("/c/hit/lazy-key")).json() == {"value": 1}
        assert (await client.get("/c/stats")).json()["requests"] == 2
    assert await redis.hget(f"{settings.prefix}{{default/lazy-key}}", "value") == b"1"
    await counter_app.state.counter_runtime.close()


async def test_create_app_uses_a_client_handed_to_it(settings: Settings, redis: Redis) -> None:
    counter_app = counter.create_app(settings.with_changes(redis_url=None), redis=redis)
    async with (
        counter.lifespan(counter_app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=counter_app), base_url="http://c"
        ) as client,
    ):
        assert (await client.get("/hit/given-client")).json() == {"value": 1}
    assert await redis.ping()  # the caller's client is still open after the app closed
