"""Badge routes: the counter's value as a shields-style SVG, or as shields.io endpoint JSON.

- ``/hit/[ns/]key/shield``: counts, then draws (as abacus serves it);
- ``/get/[ns/]key/shield`` and our own ``/badge/[ns/]key.svg``: draw without counting;
- ``/get/[ns/]key/shield.json``: ``{"schemaVersion": 1, "label", "message", "color"}`` for
  shields.io's endpoint badge.

Every answer forbids caching (GitHub's camo proxy would otherwise pin a stale number);
read-only badges carry an ``ETag`` so a revalidating cache gets a 304. Options are parsed
before the counter is touched: a bad option is a 400 that counts nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from counter.errors import CounterError
from counter.web.badge_options import MISSING_COLOR, BadgeOptions, parse_options
from counter.web.badge_svg import render as render_svg
from counter.web.countapi import CountApi
from counter.web.errors import error_text, status_for

NO_CACHE = "max-age=0, no-cache, no-store, must-revalidate"
SVG_TYPE = "image/svg+xml; charset=utf-8"
NOT_FOUND_MESSAGE = "not found"

Endpoint = Callable[[Request], Awaitable[Response]]


class Badges:
    """The badge endpoints, answered through ``CountApi.call`` like the JSON routes."""

    def __init__(self, countapi: CountApi) -> None:
        self.countapi = countapi
        self.operations = countapi.hot_operations()

    def routes(self) -> list[Route]:
        """Routes to mount before CountApi's: ``/hit/{ns}/{key}`` would match ``/hit/k/shield``."""
        hit_svg, get_svg = self._svg("hit"), self._svg("get")
        get_json = self._json()
        routes = []
        for pattern in ("/{key}", "/{namespace}/{key}"):
            routes.append(Route(f"/hit{pattern}/shield", hit_svg, methods=["GET"]))
            routes.append(Route(f"/get{pattern}/shield", get_svg, methods=["GET"]))
            routes.append(Route(f"/get{pattern}/shield.json", get_json, methods=["GET"]))
            routes.append(Route(f"/badge{pattern}.svg", get_svg, methods=["GET"]))
        return routes

    async def _value(
        self, request: Request, operation: str
    ) -> tuple[int, dict[str, object], str | None]:
        fields, run = self.operations[operation]
        return await self.countapi.call(
            fields, run, request.path_params, request.headers.get, request.query_params
        )

    def _svg(self, operation: str) -> Endpoint:
        read_only = operation == "get"

        async def endpoint(request: Request) -> Response:
            try:
                options = parse_options(request.query_params)
            except CounterError as error:
                return _error(error)
            status, body, path = await self._value(request, operation)
            value = body.get("value")
            if isinstance(value, int):
                svg = render_svg(options.badge(options.message(value)))
            elif status == 404:
                svg = render_svg(options.badge(NOT_FOUND_MESSAGE, color=MISSING_COLOR))
            else:
                return _json_response(body, status, path)
            return _answer(request, svg.encode(), SVG_TYPE, status, path, etag=read_only)

        return endpoint

    def _json(self) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                options = parse_options(request.query_params)
            except CounterError as error:
                return _error(error)
            status, body, path = await self._value(request, "get")
            value = body.get("value")
            if isinstance(value, int):
                payload = _endpoint_body(options, options.message(value), options.color)
            elif status == 404:
                payload = _endpoint_body(options, NOT_FOUND_MESSAGE, MISSING_COLOR)
            else:
                return _json_response(body, status, path)
            return _answer(request, orjson.dumps(payload), "application/json", status, path)

        return endpoint


def _endpoint_body(options: BadgeOptions, message: str, color: str) -> dict[str, object]:
    """shields.io's endpoint-badge schema (version 1)."""
    return {
        "schemaVersion": 1,
        "label": options.label,
        "message": message,
        "color": color.lstrip("#"),
        "labelColor": options.label_color.lstrip("#"),
    }


def _answer(
    request: Request,
    payload: bytes,
    media_type: str,
    status: int,
    path: str | None,
    *,
    etag: bool = True,
) -> Response:
    headers = {"Cache-Control": NO_CACHE}
    if path is not None:
        headers["X-Path"] = path
    if etag:
        tag = '"' + hashlib.blake2b(payload, digest_size=10).hexdigest() + '"'
        headers["ETag"] = tag
        if status == 200 and _matches(request.headers.get("if-none-match"), tag):
            return Response(None, 304, headers)
    return Response(payload, status, headers, media_type=media_type)


def _matches(if_none_match: str | None, tag: str) -> bool:
    if if_none_match is None:
        return False
    candidates = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return tag in candidates or "*" in candidates


def _error(error: CounterError) -> Response:
    status = status_for(error)
    return _json_response({"error": error_text(error, status)}, status, None)


def _json_response(body: dict[str, object], status: int, path: str | None) -> Response:
    headers = {"Cache-Control": NO_CACHE}
    if path is not None:
        headers["X-Path"] = path
    return Response(orjson.dumps(body), status, headers, media_type="application/json")
