"""``/healthz`` (liveness: Redis answers) and ``/readyz`` (readiness: ready to count).

``/readyz`` also fails while Redis lacks the Lua scripts (a fresh or restarted Redis, or
a failover to a replica that never ran them); it loads them then, so the next probe passes.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from counter.errors import CounterError
from counter.runtime import Runtime


class Health:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def healthz(self, request: Request) -> Response:
        try:
            await (await self.runtime.store()).ping()
        except CounterError:
            return _json({"status": "unavailable"}, 503)
        return _json({"status": "ok"}, 200)

    async def readyz(self, request: Request) -> Response:
        try:
            store = await self.runtime.store()
            await store.ping()
            if not await store.scripts_loaded():
                await store.load_scripts()
                return _json({"status": "loading", "reason": "Lua scripts were not loaded"}, 503)
        except CounterError:
            return _json({"status": "unavailable", "reason": "Redis is unreachable"}, 503)
        return _json({"status": "ready"}, 200)


def _json(body: dict[str, object], status: int) -> Response:
    return Response(
        orjson.dumps(body), status, {"Cache-Control": "no-store"}, media_type="application/json"
    )
