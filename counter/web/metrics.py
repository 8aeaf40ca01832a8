"""Prometheus metrics through ``prometheus_client``: what they count and how they are served.

Off unless ``COUNTER_METRICS=1`` (``counter serve --metrics``): then ``create_app`` installs
``MetricsMiddleware`` outermost and, unless a separate port is configured, ``GET /metrics``.
Across worker processes the client's multiprocess mode is used: ``counter serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before any worker starts, every worker
writes its samples there, and whoever answers a scrape sums them.

Labels are bounded: a route is its path's first segment(s) from a fixed list (never a
namespace or key), so a scanner cannot grow the series without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from bisect import bisect_left

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from counter.engine.statfold import SiteStatsFolder

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: the hot path answers in well under a millisecond; exports and snapshots take long.
_HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
_REDIS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5)
_PUBLIC = frozenset({"hit", "get", "update", "set", "info", "create", "stats", "healthz",
                     "readyz", "metrics", "openapi.json", "dashboard", "stream",
                     "badge"})  # fmt: skip
_API = frozenset({"me", "count", "export", "counters", "snapshot", "stats", "sites", "paths"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
FLUSH_INTERVAL_S = 1.0
_HIT_SCRIPTS = frozenset({"hit", "hit_many", "update", "count_hits"})


class Metrics:
    """The metric families of one app, and their exposition."""

    def __init__(self) -> None:
        # prometheus_client picks its value storage when first imported; a worker forked
        # from a process that imported it before PROMETHEUS_MULTIPROC_DIR was set must
        # pick again, or its samples would stay in its own memory.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        # A registry per app: two apps in one process (tests, embedding) do not collide.
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "counter_http_requests", "HTTP requests by route, method and status",
            ["route", "method", "status"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "counter_http_request_duration_seconds", "Time to answer an HTTP request",
            ["route"], buckets=_HTTP_BUCKETS, registry=registry,
        )  # fmt: skip
        self.hits = Counter(
            "counter_hits", "Counter increments: one per /hit or /update, one per counter of "
            "an /api/v0/count batch", ["script"], registry=registry,
        )  # fmt: skip
        self.script_calls = Counter(
            "counter_redis_script_calls", "Lua script calls sent to Redis (hit_many: one per "
            "counter it carried)", ["script"],
            registry=registry,
        )  # fmt: skip
        self.script_errors = Counter(
            "counter_redis_script_errors", "Lua script calls that failed (Redis unreachable or "
            "an unexpected reply)", ["script"], registry=registry,
        )  # fmt: skip
        self.redis_latency = Histogram(
            "counter_redis_round_trip_seconds", "Round trip of one script call (or pipelined "
            "batch) to Redis, as a request waits for it", buckets=_REDIS_BUCKETS,
            registry=registry,
        )  # fmt: skip
        self.stream_subscribers = Gauge(
            "counter_stream_subscribers", "Clients subscribed to a live stream",
            multiprocess_mode="livesum", registry=registry,
        )  # fmt: skip
        self.exports_running = Gauge(
            "counter_export_jobs_running", "Export jobs running in this deployment's workers",
            multiprocess_mode="livesum", registry=registry,
        )  # fmt: skip
        self.exports_started = Counter(
            "counter_export_jobs_started", "Export jobs started", registry=registry
        )
        self.site_stats_pending = Gauge(
            "counter_site_stats_pending_hits", "Hits whose site statistics are folded in a "
            "worker, not yet written to Redis", multiprocess_mode="livesum", registry=registry,
        )  # fmt: skip
        self.site_stats_dropped = Counter(
            "counter_site_stats_dropped_hits", "Hits whose site statistics were dropped: Redis "
            "refused them too long, or at shutdown", registry=registry,
        )  # fmt: skip
        self._site_stats: SiteStatsFolder | None = None
        self._site_stats_dropped = 0
        # Per-request bookkeeping is plain dict arithmetic; the prometheus_client values
        # (a lock and an mmap write each, in multiprocess mode) are written once a second.
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[str, list[float]] = {}  # route -> [sum, count per bucket...]
        self._scripts: dict[tuple[str, bool], int] = {}  # (script, failed) -> calls
        self._redis = _tally(_REDIS_BUCKETS)
        self._flusher: asyncio.Task[None] | None = None

    def record_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        tally = self._latency.get(route)
        if tally is None:
            tally = self._latency[route] = _tally(_HTTP_BUCKETS)
        tally[0] += seconds
        tally[1 + bisect_left(_HTTP_BUCKETS, seconds)] += 1
        if self._flusher is None:
            self._start_flushing()

    def record_script(self, name: str, calls: int, seconds: float, failed: bool) -> None:
        """The Store's ``ScriptObserver``."""
        key = (name, failed)
        self._scripts[key] = self._scripts.get(key, 0) + calls
        self._redis[0] += seconds
        self._redis[1 + bisect_left(_REDIS_BUCKETS, seconds)] += 1

    def flush(self) -> None:
        """Move what was tallied since the last flush into the prometheus_client values."""
        requests, self._requests = self._requests, {}
        for (route, method, status), count in requests.items():
            self.requests.labels(route, method, str(status)).inc(count)
        latency, self._latency = self._latency, {}
        for route, tally in latency.items():
            _add(self.latency.labels(route), tally)
        scripts, self._scripts = self._scripts, {}
        for (name, failed), calls in scripts.items():
            self.script_calls.labels(name).inc(calls)
            if failed:
                self.script_errors.labels(name).inc(calls)
            elif name in _HIT_SCRIPTS:
                self.hits.labels(name).inc(calls)
        redis, self._redis = self._redis, _tally(_REDIS_BUCKETS)
        _add(self.redis_latency, redis)
        if self._site_stats is not None:
            self.site_stats_pending.set(self._site_stats.pending)
            dropped = self._site_stats.dropped
            if dropped > self._site_stats_dropped:
                self.site_stats_dropped.inc(dropped - self._site_stats_dropped)
                self._site_stats_dropped = dropped

    def _start_flushing(self) -> None:
        self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            self.flush()

    async def close(self) -> None:
        """Stop the periodic flush and flush what is left (the app's shutdown)."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        self.flush()

    def watch_site_stats(self, folder: SiteStatsFolder) -> None:
        """Report the folder's pending and dropped hits at every flush (and scrape)."""
        self._site_stats = folder

    def export_running(self, delta: int) -> None:
        """The Exporter's ``on_running``."""
        self.exports_running.inc(delta)
        if delta > 0:
            self.exports_started.inc()

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``: the text format, every worker's samples in multiprocess mode."""
        self.flush()  # this process's share is current; other workers' lag < FLUSH_INTERVAL_S
        body = generate_latest(scrape_registry(self.registry))
        return Response(body, 200, {"Cache-Control": "no-store"}, media_type=CONTENT_TYPE_LATEST)


def _tally(buckets: tuple[float, ...]) -> list[float]:
    """[sum, then one count per bucket and +Inf], as prometheus_client keeps a histogram."""
    return [0.0] * (len(buckets) + 2)


def _add(histogram: Histogram, tally: list[float]) -> None:
    """Add a tally to a histogram child. prometheus_client has no public call to add many
    observations at once; ``_sum`` and the per-bucket ``_buckets`` are what ``observe``
    itself increments (tests/web/test_metrics.py checks the exposition)."""
    if tally[0] or any(tally[1:]):
        histogram._sum.inc(tally[0])
        for bucket, count in zip(histogram._buckets, tally[1:], strict=True):
            if count:
                bucket.inc(count)


def scrape_registry(own: CollectorRegistry | None = None) -> CollectorRegistry:
    """What a scrape reads: the multiprocess directory when set, else ``own``."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return own or CollectorRegistry()


def route_label(scope: Scope) -> str:
    """A bounded name for the request's route: ``/hit``, ``/api/v0/counters``, ``other``."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    parts = path.split("/", 4)
    first = parts[1] if len(parts) > 1 else ""
    if first in _PUBLIC:
        return f"/{first}"
    if first == "api" and len(parts) > 3 and parts[2] == "v0":
        return f"/api/v0/{parts[3]}" if parts[3] in _API else "/api/v0/other"
    return "/" if path in ("", "/") else "other"


class MetricsMiddleware:
    """Pure ASGI: every response's route, method, status and duration.

    ``create_app`` puts it just in front of the router, behind the hot path, which records
    its own answers (``HotPath``): the busiest routes then skip this wrapper, which would
    cost them more than the bookkeeping itself. With the per-IP limit on (it may answer
    before the hot path) it goes outermost instead and sees everything.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        route = route_label(scope)  # now: routing rewrites the scope's root_path in place
        status = 500  # what the client sees if the app fails before it starts a response

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.record_request(route, method, status, time.perf_counter() - started)
