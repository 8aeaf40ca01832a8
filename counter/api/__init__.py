"""``/api/v0``: the authenticated, GoatCounter-style API, as a Starlette sub-app.

``ApiV0(runtime).app`` is mounted by ``create_app``; ``ApiV0.running()`` belongs in the
host's lifespan so exports still running at shutdown end as failed, not as orphans.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from counter.api.count import CountRoute
from counter.api.counters import CounterRoutes
from counter.api.export_routes import ExportRoutes
from counter.api.guard import ApiGuard
from counter.api.io import ApiError, json_response, token_of
from counter.api.stats import StatsRoutes
from counter.engine.exports import Exporter, ExportSettings
from counter.engine.store import wall_clock_ms
from counter.errors import CounterError, CounterNotFound
from counter.runtime import Runtime
from counter.web.errors import error_text, json_error_handlers, status_for
from counter.web.ingest import Ingest
from counter.web.ratelimit import Limit

PREFIX = "/api/v0"


class ApiV0:
    """The sub-app and the export runner it owns."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Callable[[], int] | None = None,
        ingest: Ingest | None = None,
    ) -> None:
        settings = runtime.settings
        self.clock = clock or wall_clock_ms
        self.exporter = Exporter(
            ExportSettings(
                page_size=settings.export_page_size,
                lease_ms=settings.export_lease_ms,
                retention_ms=settings.export_retention_s * 1000,
            ),
            self.clock,
        )
        self.ingest = ingest or Ingest(runtime, self.clock)
        count = CountRoute(runtime, self.clock, self.ingest)
        exports = ExportRoutes(runtime, self.exporter)
        counters = CounterRoutes(runtime, self.clock)
        stats = StatsRoutes(runtime, self.clock)
        one = "/counters/{namespace}/{key}"
        routes = [
            Route("/me", me, methods=["GET"]),
            Route("/count", count.handle, methods=["POST"]),
            Route("/export", exports.start, methods=["POST"]),
            Route("/export/{export_id:int}", exports.show, methods=["GET"]),
            Route("/export/{export_id:int}/download", exports.download, methods=["GET"]),
            Route("/counters", counters.list_page, methods=["GET"]),
            Route(one, counters.show, methods=["GET"]),
            Route(one, counters.put, methods=["PUT"]),
            Route(one, counters.delete, methods=["DELETE"]),
            Route(f"{one}/reset", counters.reset, methods=["POST"]),
            Route("/snapshot/{namespace}", counters.snapshot, methods=["GET"]),
            Route("/snapshot/{namespace}", counters.restore, methods=["POST"]),
            Route("/sites", stats.sites, methods=["GET"]),
            Route("/sites/{id}", stats.site, methods=["GET"]),
            Route("/paths", stats.paths, methods=["GET"]),
            Route("/stats/total", stats.total, methods=["GET"]),
            Route("/stats/hits", stats.hits, methods=["GET"]),
            Route("/stats/hits/{path_id}", stats.refs, methods=["GET"]),
            Route("/stats/{page}", stats.page, methods=["GET"]),
            Route("/stats/{page}/{id}", stats.detail, methods=["GET"]),
        ]
        guard = Middleware(
            ApiGuard,
            runtime=runtime,
            count_limit=Limit(settings.api_count_limit, settings.api_count_window_s),
            api_limit=Limit(settings.api_limit, settings.api_window_s),
            clock=clock,  # None: windows follow the Redis server's clock
        )
        self.app = Starlette(
            routes=routes,
            middleware=[guard],
            exception_handlers={
                ApiError: _api_error,
                CounterError: _counter_error,
                **json_error_handlers({"Cache-Control": "no-store"}),
            },
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ApiV0]:
        try:
            yield self
        finally:
            await self.exporter.close()


async def me(request: Request) -> Response:
    """``GET /api/v0/me``: what the presented token is and may do."""
    return json_response(token_of(request).describe())


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response(exc.body, exc.status)


async def _counter_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CounterError)
    status = status_for(exc)
    text = "not found" if isinstance(exc, CounterNotFound) else error_text(exc, status)
    return json_response({"error": text}, status)
