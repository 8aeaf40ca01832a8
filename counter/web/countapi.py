"""The CountAPI-compatible routes: parse -> one Store call -> render.

``/get /hit /update /set /info`` take ``/<key>`` (namespace ``default``) or
``/<namespace>/<key>``; ``/create`` takes query options; ``/stats`` the totals.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from counter.engine.names import (
    DEFAULT_NAMESPACE,
    HOST_TOKEN,
    PATHNAME_TOKEN,
    parse_bool,
    parse_int64,
    substitute,
    validate_name,
)
from counter.engine.store import Store
from counter.errors import CounterError, InvalidInput
from counter.runtime import Runtime
from counter.version import __version__
from counter.web.errors import COUNTAPI_FIELD_STATUSES, error_text, status_for
from counter.web.render import check_callback, render

Body = dict[str, Any]
Operation = Callable[[Store, str, str, QueryParams], Awaitable[Body]]
Header = Callable[[str], "str | None"]

VALUE_FIELDS = ("value",)
SET_FIELDS = ("old_value", "value")
CREATE_FIELDS = ("namespace", "key", "value")
INFO_FIELDS = (
    "namespace",
    "key",
    "ttl",
    "created",
    "update_lowerbound",
    "update_upperbound",
    "enable_reset",
    "value",
)


WRITING_ROUTES = frozenset({"hit", "update", "set", "create"})


class CountApi:
    """Handlers bound to one Runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.stats = runtime.stats

    def routes(self) -> list[Route]:
        operations: list[tuple[str, tuple[str, ...], Operation]] = [
            ("get", VALUE_FIELDS, self._get),
            ("hit", VALUE_FIELDS, self._hit),
            ("update", VALUE_FIELDS, self._update),
            ("set", SET_FIELDS, self._set),
            ("info", INFO_FIELDS, self._info),
        ]
        routes = []
        for name, fields, operation in operations:
            endpoint = self._counter_endpoint(fields, operation)
            routes.append(Route(f"/{name}/{{key}}", endpoint, methods=["GET"]))
            routes.append(Route(f"/{name}/{{namespace}}/{{key}}", endpoint, methods=["GET"]))
        routes.append(Route("/create", self.create, methods=["GET"]))
        routes.append(Route("/stats", self.stats_endpoint, methods=["GET"]))
        for route in routes:
            if route.path.split("/")[1] in WRITING_ROUTES and route.methods is not None:
                # Starlette answers HEAD with the GET endpoint; link checkers and prefetchers
                # send HEAD, and must not count: 405 (Allow: GET), nothing written.
                route.methods.discard("HEAD")
        return routes

    def _counter_endpoint(
        self, fields: tuple[str, ...], operation: Operation
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            query = request.query_params
            headers = request.headers
            status, body, path = await self.call(
                fields, operation, request.path_params, headers.get, query
            )
            return render(query, status, body, path)

        return endpoint

    async def call(
        self,
        fields: tuple[str, ...],
        operation: Operation,
        params: Mapping[str, str],
        header: Header,
        query: QueryParams,
    ) -> tuple[int, Body, str | None]:
        """Run one counter route: its HTTP status, body and ``X-Path`` (None if unnamed).

        Shared by the router's endpoints and the hot path in ``hotpath.py``.
        """
        self.stats.count("requests")
        path = None
        try:
            if query:  # the hot path has none
                check_callback(query)
            namespace, key = _target(params, header)
            path = f"{namespace}/{key}"
            body = await operation(await self.runtime.store(), namespace, key, query)
        except CounterError as error:
            return (*_refusal_body(error, fields), path)
        return 200, body, path

    def hot_operations(self) -> dict[str, tuple[tuple[str, ...], Operation]]:
        """The busiest routes, which ``hotpath.py`` answers before the router."""
        return {"hit": (VALUE_FIELDS, self._hit), "get": (VALUE_FIELDS, self._get)}

    async def _get(self, store: Store, namespace: str, key: str, query: QueryParams) -> Body:
        return {"value": await store.get(namespace, key)}

    async def _hit(self, store: Store, namespace: str, key: str, query: QueryParams) -> Body:
        result = await store.hit(namespace, key)
        self.stats.count("keys_updated")
        if result.created:
            self.stats.count("keys_created")
        return {"value": result.value}

    async def _update(self, store: Store, namespace: str, key: str, query: QueryParams) -> Body:
        amount = parse_int64(query.get("amount"), "amount")
        value = await store.update(namespace, key, amount)
        self.stats.count("keys_updated")
        return {"value": value}

    async def _set(self, store: Store, namespace: str, key: str, query: QueryParams) -> Body:
        value = parse_int64(query.get("value"), "value")
        old_value = await store.set(namespace, key, value)
        self.stats.count("keys_updated")
        return {"old_value": old_value, "value": value}

    async def _info(self, store: Store, namespace: str, key: str, query: QueryParams) -> Body:
        info = await store.info(namespace, key)
        return {field: getattr(info, field) for field in INFO_FIELDS}

    async def create(self, request: Request) -> Response:
        self.stats.count("requests")
        query = request.query_params
        path = None
        try:
            check_callback(query)
            origin, referer = request.headers.get("origin"), request.headers.get("referer")
            namespace = validate_name(
                substitute(query.get("namespace") or DEFAULT_NAMESPACE, origin, referer)
            )
            key = validate_name(substitute(query.get("key") or str(uuid.uuid4()), origin, referer))
            options = _create_options(query)
            path = f"{namespace}/{key}"
            await (await self.runtime.store()).create(namespace, key, **options)
        except CounterError as error:
            return _refusal(query, error, CREATE_FIELDS, path)
        self.stats.count("keys_created")
        body = {"namespace": namespace, "key": key, "value": options["value"]}
        return render(query, 200, body, path)

    async def stats_endpoint(self, request: Request) -> Response:
        self.stats.count("requests")
        query = request.query_params
        try:
            check_callback(query)
            await self.runtime.store()
            totals: Body = await self.stats.totals()
        except CounterError as error:
            return _refusal(query, error, (), None)
        return render(query, 200, {**totals, "version": __version__}, None)


_TOKENS = (HOST_TOKEN, PATHNAME_TOKEN)


def _target(params: Mapping[str, str], header: Header) -> tuple[str, str]:
    """The (namespace, key) a path names, placeholders substituted, both validated."""
    namespace, key = params.get("namespace", DEFAULT_NAMESPACE), params["key"]
    if namespace in _TOKENS or key in _TOKENS:
        origin, referer = header("origin"), header("referer")
        namespace = substitute(namespace, origin, referer)
        key = substitute(key, origin, referer)
    return validate_name(namespace), validate_name(key)


def _create_options(query: QueryParams) -> dict[str, Any]:
    lower = parse_int64(query.get("update_lowerbound"), "update_lowerbound", default=-1)
    upper = parse_int64(query.get("update_upperbound"), "update_upperbound", default=1)
    if lower > 0:
        raise InvalidInput("update_lowerbound must be negative or zero")
    if upper < 0:
        raise InvalidInput("update_upperbound must be positive or zero")
    return {
        "value": parse_int64(query.get("value"), "value", default=0),
        "enable_reset": parse_bool(query.get("enable_reset"), "enable_reset"),
        "update_lowerbound": lower,
        "update_upperbound": upper,
    }


def _refusal(
    query: QueryParams, error: CounterError, fields: tuple[str, ...], path: str | None
) -> Response:
    return render(query, *_refusal_body(error, fields), path)


def _refusal_body(error: CounterError, fields: tuple[str, ...]) -> tuple[int, Body]:
    status = status_for(error)
    if status in COUNTAPI_FIELD_STATUSES:
        # CountAPI's shape: the route's own fields, null where the error has no value.
        return status, {field: getattr(error, field, None) for field in fields}
    return status, {"error": error_text(error, status)}
