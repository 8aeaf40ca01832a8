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

import os
import time

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

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: the hot path answers in well under a millisecond; exports and snapshots take long.
_HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
_REDIS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5)
_PUBLIC = frozenset({"hit", "get", "update", "set", "info", "create", "stats", "healthz",
                     "readyz", "metrics", "openapi.json", "dashboard", "stream",
                     "badge"})  # fmt: skip
_API = frozenset({"me", "count", "export", "counters", "snapshot", "stats", "sites", "paths"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
_HIT_SCRIPTS = frozenset({"hit", "update", "count_hits"})


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
            "counter_redis_script_calls", "Lua script calls sent to Redis", ["script"],
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
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._script_children: dict[str, tuple[Counter, Counter, Counter | None]] = {}

    def record_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:  # labels() takes a lock and builds a tuple: once per series
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def record_script(self, name: str, calls: int, seconds: float, failed: bool) -> None:
        """The Store's ``ScriptObserver``."""
        children = self._script_children.get(name)
        if children is None:
            hits = self.hits.labels(name) if name in _HIT_SCRIPTS else None
            children = (self.script_calls.labels(name), self.script_errors.labels(name), hits)
            self._script_children[name] = children
        children[0].inc(calls)
        self.redis_latency.observe(seconds)
        if failed:
            children[1].inc(calls)
        elif children[2] is not None:
            children[2].inc(calls)

    def export_running(self, delta: int) -> None:
        """The Exporter's ``on_running``."""
        self.exports_running.inc(delta)
        if delta > 0:
            self.exports_started.inc()

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``: the text format, every worker's samples in multiprocess mode."""
        body = generate_latest(scrape_registry(self.registry))
        return Response(body, 200, {"Cache-Control": "no-store"}, media_type=CONTENT_TYPE_LATEST)


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
    """Pure ASGI, outermost: every response's route, method, status and duration."""

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
