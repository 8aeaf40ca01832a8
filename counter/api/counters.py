"""Counter management for token holders: list, read with history, set/reset/delete,
and namespace snapshots (JSON lines) for backup and migration.

``read`` lists, reads and exports snapshots; ``manage`` writes (``PUT`` sets a counter
whatever its ``enable_reset``: that flag guards the public ``/set``, not the owner).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from counter.api.io import ApiError, json_response, namespace_for, parse_json, read_body
from counter.api.snapshot_import import SnapshotImporter
from counter.api.snapshot_lines import counter_json, snapshot_line
from counter.engine.names import INT64_MAX, INT64_MIN, NAME_PATTERN, is_valid_name
from counter.engine.store import CounterInfo, Store
from counter.errors import CounterNotFound
from counter.runtime import Runtime

DEFAULT_PAGE = 100
MAX_PAGE = 500
_PUT_FIELDS = frozenset({"value", "enable_reset", "update_lowerbound", "update_upperbound"})


class CounterRoutes:
    def __init__(self, runtime: Runtime, clock: Callable[[], int]) -> None:
        self.runtime = runtime
        self.clock = clock
        self.importer = SnapshotImporter(runtime.settings.snapshot_max_body_bytes)

    async def list_page(self, request: Request) -> Response:
        """``GET /counters?namespace=&after=&limit=``: a page of counters, sorted by key."""
        query = request.query_params
        namespace = namespace_for(request, "read", query.get("namespace"))
        limit = _int_param(query.get("limit"), "limit", DEFAULT_PAGE, 1, MAX_PAGE)
        after = query.get("after", "")
        store = await self.runtime.store()
        # O(limit) at any namespace size: the index is sorted, paged from the cursor
        keys = await store.namespace_page(namespace, after=after, count=limit + 1)
        page = await _infos(store, namespace, keys[:limit])
        return json_response(
            {
                "namespace": namespace,
                "counters": [counter_json(info) for info in page],
                "more": len(keys) > limit,
            }
        )

    async def show(self, request: Request) -> Response:
        namespace, key = self._target(request, "read")
        store = await self.runtime.store()
        info = await store.info(namespace, key)
        daily, hourly = await store.history(namespace, key, now=self.clock())
        return json_response(
            {
                **counter_json(info),
                "daily": {_day(day): count for day, count in sorted(daily.items())},
                "hourly": {f"{_day(hour[:8])}T{hour[8:]}": n for hour, n in sorted(hourly.items())},
            }
        )

    async def put(self, request: Request) -> Response:
        namespace, key = self._target(request, "manage")
        body = parse_json(
            await read_body(
                request, self.runtime.settings.api_max_body_bytes, ("application/json",)
            )
        )
        errors = {field: ["unknown field"] for field in sorted(set(body) - _PUT_FIELDS)}
        options: dict[str, Any] = {}
        for field in ("value", "update_lowerbound", "update_upperbound"):
            if field in body:
                _collect(errors, options, field, lambda f=field: _int64(body[f], f))  # type: ignore[misc]
        if "enable_reset" in body:
            _collect(
                errors, options, "enable_reset", lambda: _flag(body["enable_reset"], "enable_reset")
            )
        if "value" not in body:
            errors.setdefault("value", []).append("required")
        _check_bounds(errors, options.get("update_lowerbound"), options.get("update_upperbound"))
        if errors:
            raise ApiError(400, errors=errors)
        store = await self.runtime.store()
        value = options.pop("value")
        old = await store.put(namespace, key, value, now=self.clock(), **options)
        info = await store.info(namespace, key)
        return json_response({**counter_json(info), "old_value": old}, 201 if old is None else 200)

    async def reset(self, request: Request) -> Response:
        """``POST .../reset``: the value back to 0 (history is kept; it records the past)."""
        namespace, key = self._target(request, "manage")
        store = await self.runtime.store()
        await store.info(namespace, key)  # 404 rather than creating a counter
        old = await store.put(namespace, key, 0, now=self.clock())
        return json_response({**counter_json(await store.info(namespace, key)), "old_value": old})

    async def delete(self, request: Request) -> Response:
        namespace, key = self._target(request, "manage")
        store = await self.runtime.store()
        if not await store.delete(namespace, key, now=self.clock()):
            raise CounterNotFound(f"{namespace}/{key}")
        return Response(status_code=204, headers={"Cache-Control": "no-store"})

    async def snapshot(self, request: Request) -> Response:
        """``GET /snapshot/{namespace}``: every counter as one JSON line, daily history included."""
        namespace = self._namespace(request, "read")
        store = await self.runtime.store()
        keys = await store.namespace_keys(namespace)
        return StreamingResponse(
            self._snapshot_lines(store, namespace, keys),
            media_type="application/x-ndjson",
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="{namespace}.jsonl"',
            },
        )

    async def _snapshot_lines(
        self, store: Store, namespace: str, keys: list[str]
    ) -> AsyncIterator[bytes]:
        for start in range(0, len(keys), DEFAULT_PAGE):
            infos = await _infos(store, namespace, keys[start : start + DEFAULT_PAGE])
            histories = await asyncio.gather(
                *(store.history(namespace, info.key, now=self.clock()) for info in infos)
            )
            yield b"".join(
                snapshot_line(info, daily)
                for info, (daily, _) in zip(infos, histories, strict=True)
            )

    async def restore(self, request: Request) -> Response:
        """``POST /snapshot/{namespace}``: write every line's counter; all lines or none."""
        namespace = self._namespace(request, "manage")
        imported = await self.importer.run(request, namespace, self.runtime.store, self.clock())
        return json_response({"namespace": namespace, "imported": imported})

    def _namespace(self, request: Request, permission: str) -> str:
        return namespace_for(request, permission, request.path_params["namespace"])

    def _target(self, request: Request, permission: str) -> tuple[str, str]:
        namespace = self._namespace(request, permission)
        key = request.path_params["key"]
        if not is_valid_name(key):
            raise ApiError(400, errors={"key": [f"must match {NAME_PATTERN}"]})
        return namespace, key


async def _infos(store: Store, namespace: str, keys: list[str]) -> list[CounterInfo]:
    """The counters still alive; expired ones leave the namespace index."""

    found = await store.infos(namespace, keys)  # one pipelined round trip
    gone = [key for key, info in zip(keys, found, strict=True) if info is None]
    await store.forget_keys(namespace, gone)
    return [info for info in found if info is not None]


def _day(compact: str) -> str:
    return f"{compact[:4]}-{compact[4:6]}-{compact[6:8]}"


def _int_param(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ApiError(400, errors={name: [f"must be an integer from {low} to {high}"]})
    return int(text)


def _int64(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{field} must be a signed 64-bit integer")
    return value


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be true or false")
    return value


def _collect(
    errors: dict[str, list[str]], options: dict[str, Any], field: str, parse: Callable[[], Any]
) -> None:
    try:
        options[field] = parse()
    except ValueError as error:
        errors.setdefault(field, []).append(str(error))


def _check_bounds(errors: dict[str, list[str]], lower: int | None, upper: int | None) -> None:
    if lower is not None and lower > 0:
        errors.setdefault("update_lowerbound", []).append("must be negative or zero")
    if upper is not None and upper < 0:
        errors.setdefault("update_upperbound", []).append("must be positive or zero")
