"""The hot path: ``GET /hit/...`` and ``GET /get/...`` answered before Starlette's router.

These two routes carry nearly all of a counter's traffic. Routing, the Request object
and the Response machinery cost more CPU than the Redis call itself, so plain requests
(no query string) are answered here, through the same ``CountApi.call`` the router's
endpoints use, with the same status, body and headers. It is the innermost middleware,
so CORS and any rate limit apply as they do to the router. Everything else, including
``?callback=`` and ``?img``, goes on to the router unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from counter.web.countapi import CountApi
from counter.web.render import raw_json

_EMPTY_QUERY = QueryParams()
_BADGE_SUFFIXES = frozenset({"shield", "shield.json"})


class HotPath:
    """Pure-ASGI middleware in front of the router for the busiest CountAPI routes."""

    def __init__(self, app: ASGIApp, countapi: CountApi) -> None:
        self.app = app
        self.countapi = countapi
        self.routes = {f"/{name}/": spec for name, spec in countapi.hot_operations().items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        path = _route_path(scope)
        route = self.routes.get(path[:5])
        params = _params(path[5:]) if route is not None else None
        if route is None or params is None:
            await self.app(scope, receive, send)
            return
        fields, operation = route
        status, body, x_path = await self.countapi.call(
            fields, operation, params, lambda name: _header(scope, name), _EMPTY_QUERY
        )
        payload, headers = raw_json(status, body, x_path)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


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
