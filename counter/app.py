"""The application factory: ``create_app()`` and the ``lifespan`` a host app enters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route

from counter.api import PREFIX as API_PREFIX
from counter.api import ApiV0
from counter.api.openapi import openapi_json
from counter.engine.base import wall_clock_ms
from counter.runtime import Runtime
from counter.settings import Settings
from counter.web.badges import Badges
from counter.web.cors import CORSMiddleware
from counter.web.countapi import CountApi
from counter.web.dashboard import Dashboard
from counter.web.errors import RetryAfter, json_error_handlers
from counter.web.goatcount import GoatCount, goatcounter_routes
from counter.web.health import Health
from counter.web.hotpath import HotAnswers, HotPath
from counter.web.ingest import Ingest
from counter.web.live_script import live_script_route
from counter.web.metrics import Metrics, MetricsMiddleware
from counter.web.ratelimit import Limit, PublicIpLimit
from counter.web.stream import StreamHub
from counter.web.vcounter import VisitorCounter


def create_app(
    settings: Settings | None = None,
    *,
    redis: Redis | RedisCluster | None = None,
    clock: Callable[[], int] | None = None,
    handle_signals: bool = False,
) -> Starlette:
    """Build the counter ASGI app; with ``redis`` it uses that client instead of connecting.

    ``clock`` (ms) drives ``/api/v0`` time and rate-limit windows (tests); by default
    windows follow the Redis server's clock so every instance agrees. ``handle_signals``
    (``counter serve`` sets it; an embedding host keeps its signals) ends open streams as
    soon as SIGTERM/SIGINT arrives instead of when the server's graceful wait runs out.
    """
    runtime = Runtime(settings or Settings.from_env(), redis=redis)
    countapi = CountApi(runtime)
    ingest = Ingest(runtime, clock or wall_clock_ms)  # /count and /api/v0/count: one path
    api = ApiV0(runtime, clock=clock, ingest=ingest)
    count = GoatCount(runtime, ingest, clock or wall_clock_ms)
    counter = VisitorCounter(runtime, count.namespace)
    streams = StreamHub(runtime)

    health = Health(runtime)

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
                skip_prefixes=(API_PREFIX + "/", "/healthz", "/readyz", "/metrics"),
                clock=clock,
            )
        )
    metrics_routes = []
    metrics = record_hot = None
    router_metrics = []
    if runtime.settings.metrics:  # off by default: then nothing of it is installed
        metrics = Metrics()
        runtime.script_observer = metrics.record_script
        api.exporter.on_running = metrics.export_running
        metrics.watch_site_stats(runtime.site_stats)
        if runtime.settings.public_ip_limit:  # it may answer first: measure from outside
            middleware.insert(0, Middleware(MetricsMiddleware, metrics=metrics))
        else:  # the hot path times its own answers; everything else is measured at the
            # router (CORS preflights, answered before either, are not counted)
            record_hot = metrics.record_request
            router_metrics.append(Middleware(MetricsMiddleware, metrics=metrics))
        if not runtime.settings.metrics_port:  # else `counter serve` listens on that port
            metrics_routes.append(Route("/metrics", metrics.endpoint, methods=["GET"]))
    # Innermost: plain /hit and /get are answered before the router, after CORS and limits.
    middleware.append(Middleware(HotPath, countapi=countapi, record=record_hot))
    middleware.extend(router_metrics)
    app = Starlette(
        routes=[
            *Badges(countapi).routes(),  # before CountApi's: /hit/{ns}/{key} matches /hit/k/shield
            *countapi.routes(),
            *goatcounter_routes(count, counter),
            *streams.routes(),
            live_script_route(),
            Route("/healthz", health.healthz, methods=["GET"]),
            Route("/readyz", health.readyz, methods=["GET"]),
            Route("/openapi.json", openapi_json, methods=["GET"]),
            *metrics_routes,
            Mount(API_PREFIX, app=api.app),
            Mount("/dashboard", app=Dashboard()),
        ],
        middleware=middleware,
        exception_handlers=json_error_handlers(),
        lifespan=own_lifespan,
    )
    app.state.counter_runtime = runtime
    app.state.counter_api = api
    app.state.counter_streams = streams
    app.state.counter_handle_signals = handle_signals
    app.state.counter_metrics = metrics
    # What an RSGI front (counter/web/rsgi.py) may answer before the ASGI stack: nothing
    # when a middleware in front of the hot path (the public-IP limit) must see every request.
    app.state.counter_hot = (
        None if runtime.settings.public_ip_limit else HotAnswers(countapi, record_hot)
    )
    return app


@asynccontextmanager
async def _running(app: Starlette) -> AsyncIterator[None]:
    # Exports stop (and mark themselves failed) before the store they write to closes.
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.state.counter_runtime.running())
        await stack.enter_async_context(app.state.counter_api.running())
        streams: StreamHub = app.state.counter_streams
        stack.callback(streams.close)  # streams end before the store they read closes
        if app.state.counter_handle_signals:
            streams.install_signal_handlers()
        if app.state.counter_metrics is not None:
            stack.push_async_callback(app.state.counter_metrics.close)
        yield


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Run a counter app's start-up and shut-down from a host app's own lifespan.

    A mounted sub-app receives no lifespan events (Starlette issue #649); without this
    it still connects lazily on first request, but never flushes or closes on exit.
    """
    async with _running(app):
        yield
