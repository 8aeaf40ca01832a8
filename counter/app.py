"""The application factory: ``create_app()`` and the ``lifespan`` a host app enters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import orjson
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from counter.api import PREFIX as API_PREFIX
from counter.api import ApiV0
from counter.errors import CounterError
from counter.runtime import Runtime
from counter.settings import Settings
from counter.web.cors import CORSMiddleware
from counter.web.countapi import CountApi
from counter.web.errors import RetryAfter, json_error_handlers
from counter.web.hotpath import HotPath
from counter.web.ratelimit import Limit, PublicIpLimit


def create_app(
    settings: Settings | None = None,
    *,
    redis: Redis | RedisCluster | None = None,
    clock: Callable[[], int] | None = None,
) -> Starlette:
    """Build the counter ASGI app; with ``redis`` it uses that client instead of connecting.

    ``clock`` (ms) drives ``/api/v0`` time and rate-limit windows (tests); by default
    windows follow the Redis server's clock so every instance agrees.
    """
    runtime = Runtime(settings or Settings.from_env(), redis=redis)
    countapi = CountApi(runtime)
    api = ApiV0(runtime, clock=clock)

    async def health(request: Request) -> Response:
        try:
            await (await runtime.store()).ping()
        except CounterError:
            return _json({"status": "unavailable"}, 503)
        return _json({"status": "ok"}, 200)

    @asynccontextmanager
    async def own_lifespan(app: Starlette) -> AsyncIterator[None]:
        async with _running(app):
            yield

    middleware = [Middleware(RetryAfter), Middleware(CORSMiddleware)]
    if runtime.settings.public_ip_limit:  # off by default: then it is not even installed
        limit = Limit(runtime.settings.public_ip_limit, runtime.settings.public_ip_window_s)
        middleware.append(
            Middleware(
                PublicIpLimit,
                runtime=runtime,
                limit=limit,
                skip_prefixes=(API_PREFIX + "/", "/healthz"),
                clock=clock,
            )
        )
    # Innermost: plain /hit and /get are answered before the router, after CORS and limits.
    middleware.append(Middleware(HotPath, countapi=countapi))
    app = Starlette(
        routes=[
            *countapi.routes(),
            Route("/healthz", health, methods=["GET"]),
            Mount(API_PREFIX, app=api.app),
        ],
        middleware=middleware,
        exception_handlers=json_error_handlers(),
        lifespan=own_lifespan,
    )
    app.state.counter_runtime = runtime
    app.state.counter_api = api
    return app


@asynccontextmanager
async def _running(app: Starlette) -> AsyncIterator[None]:
    # Exports stop (and mark themselves failed) before the store they write to closes.
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.state.counter_runtime.running())
        await stack.enter_async_context(app.state.counter_api.running())
        yield


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Run a counter app's start-up and shut-down from a host app's own lifespan.

    A mounted sub-app receives no lifespan events (Starlette issue #649); without this
    it still connects lazily on first request, but never flushes or closes on exit.
    """
    async with _running(app):
        yield


def _json(body: dict[str, object], status: int) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")
