"""The hot path: ``GET /hit/...`` and ``GET /get/...`` answered before Starlette's router.

These two routes carry nearly all of a counter's traffic. Routing, the Request object
and the Response machinery cost more CPU than the Redis call itself, so plain requests
(no query string) are answered here, through the same ``CountApi.call`` the router's
endpoints use, with the same status, body and headers. It is the innermost middleware,
so CORS and any rate limit apply as they do to the router. Everything else, including
``?callback=`` and ``?img``, goes on to the router unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from counter.web.countapi import CountApi, Operation
from counter.web.render import raw_json

_EMPTY_QUERY = QueryParams()
_BADGE_SUFFIXES = frozenset({"shield", "shield.json"})


Record = Callable[[str, str, int, float], None]  # (route, method, status, seconds)


class HotAnswers:
    """The hot path's answers, for any server interface: the ASGI middleware below and the
    RSGI front (``counter/web/rsgi.py``) both ask ``find`` and then ``answer``.

    With ``record`` (metrics on) it times and records its own answers: wrapping them in
    the metrics middleware's send hook would cost more than the bookkeeping itself.
    """

    def __init__(self, countapi: CountApi, record: Record | None = None) -> None:
        self.countapi = countapi
        self.record = record
        self.routes = hot_routes(countapi)

    def find(self, method: str, path: str, query: object) -> Found | None:
        """The route, its parameters and its prefix when the hot path answers, else None."""
        if method != "GET" or query:
            return None
        route = self.routes.get(path[:5])
        if route is None:
            return None
        params = _params(path[5:])
        return None if params is None else (route, params, path[:5])

    async def answer(
        self, found: Found, header: Callable[[str], str | None]
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        """Status, payload and headers (as text, before CORS) of the route ``found`` names."""
        started = time.perf_counter() if self.record is not None else 0.0
        (fields, operation), params, prefix = found
        status, body, x_path = await self.countapi.call(
            fields, operation, params, header, _EMPTY_QUERY
        )
        payload, headers = raw_json(status, body, x_path)
        if self.record is not None:
            self.record(prefix[:-1], "GET", status, time.perf_counter() - started)
        return status, payload, headers


class HotPath:
    """Pure-ASGI middleware in front of the router for the busiest CountAPI routes."""

    def __init__(self, app: ASGIApp, countapi: CountApi, record: Record | None = None) -> None:
        self.app = app
        self.hot = HotAnswers(countapi, record)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = None
        if scope["type"] == "http":
            found = self.hot.find(scope["method"], _route_path(scope), scope["query_string"])
        if found is None:
            await self.app(scope, receive, send)
            return
        status, payload, text = await self.hot.answer(found, lambda name: _header(scope, name))
        headers = [(name.encode(), value.encode("latin-1")) for name, value in text]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


Spec = tuple[tuple[str, ...], Operation]
Found = tuple[Spec, Mapping[str, str], str]  # (route, path parameters, "/hit/" or "/get/")


def hot_routes(countapi: CountApi) -> dict[str, Spec]:
    """``{"/hit/": (fields, operation), ...}`` for the routes the hot path answers."""
    return {f"/{name}/": spec for name, spec in countapi.hot_operations().items()}


def _route_path(scope: Scope) -> str:
    """The path below the app's mount point (as Starlette's router computes it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] == "/":
        return path[len(root) :]
    return path


def _params(rest: str) -> Mapping[str, str] | None:
    """``key`` or ``namespace/key`` as the router's ``{param}`` would match, else None."""
    parts = rest.split("/")
    if parts[-1] in _BADGE_SUFFIXES:
        return None  # /hit/<key>/shield is a badge (counter/web/badges.py), not a counter named so
    if len(parts) == 1 and parts[0]:
        return {"key": parts[0]}
    if len(parts) == 2 and parts[0] and parts[1]:
        return {"namespace": parts[0], "key": parts[1]}
    return None


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope["headers"]:
        if key == wanted:
            return bytes(value).decode("latin-1")
    return None
