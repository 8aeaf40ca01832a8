"""The application factory: ``create_app()`` and the ``lifespan`` a host app enters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .cors import CORSMiddleware
from .countapi import CountApi
from .errors import CounterError
from .fastpath import HotPath
from .http_errors import INTERNAL_ERROR
from .runtime import Runtime
from .settings import Settings


def create_app(settings: Settings | None = None, *, redis: Redis | None = None) -> Starlette:
    """Build the counter ASGI app; with ``redis`` it uses that client instead of connecting."""
    runtime = Runtime(settings or Settings.from_env(), redis=redis)
    countapi = CountApi(runtime)

    async def health(request: Request) -> Response:
        try:
            await (await runtime.store()).ping()
        except CounterError:
            return _json({"status": "unavailable"}, 503)
        return _json({"status": "ok"}, 200)

    @asynccontextmanager
    async def own_lifespan(app: Starlette) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    app = Starlette(
        routes=[*countapi.routes(), Route("/healthz", health, methods=["GET"])],
        # HotPath first: it answers plain /hit and /get itself, CORS headers included.
        middleware=[Middleware(HotPath, countapi=countapi), Middleware(CORSMiddleware)],
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
        lifespan=own_lifespan,
    )
    app.state.counter_runtime = runtime
    return app


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Run a counter app's start-up and shut-down from a host app's own lifespan.

    A mounted sub-app receives no lifespan events (Starlette issue #649); without this
    it still connects lazily on first request, but never flushes or closes on exit.
    """
    runtime: Runtime = app.state.counter_runtime
    async with runtime.running():
        yield


def _json(body: dict[str, object], status: int) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    text = {404: "not found", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
    return _json({"error": text}, exc.status_code)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return _json({"error": INTERNAL_ERROR}, 500)
