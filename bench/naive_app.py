"""The naive baseline: Starlette + redis-py, one EVALSHA of the whole hit script per request.

What a straightforward build of ``/hit`` looks like, served by Hypercorn in the
comparison: ``hypercorn bench.naive_app:app --workers 2``. It sends ``hit_full.lua``, the
whole hit operation in one script, with the keys and arguments the Store gives it (the
Store first tries ``hit.lua``, the steady state alone); none of counter's hot-path work. With
``NAIVE_SCRIPT=minimal`` it sends the minimal hit-like script instead (``HINCRBY`` +
``PEXPIRE``, ``bench/redis_cost.py``), the naive reference of issue 9.
"""

from __future__ import annotations

import os
import time

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.redis_cost import MINIMAL_SCRIPT
from counter.engine import scripts
from counter.engine.keys import Keys

redis = Redis.from_url(os.environ.get("COUNTER_REDIS_URL", "redis://127.0.0.1:6379/0"))
keys = Keys(os.environ.get("COUNTER_PREFIX", "cnt:"))
hit_script = redis.register_script(scripts.load("hit_full").text)
minimal_script = redis.register_script(MINIMAL_SCRIPT)
MINIMAL = os.environ.get("NAIVE_SCRIPT") == "minimal"
TTL_MS = 15_778_800_000


async def hit(request: Request) -> JSONResponse:
    namespace = request.path_params.get("namespace", "default")
    key = request.path_params["key"]
    if MINIMAL:
        value = await minimal_script(keys=[keys.counter(namespace, key)], args=[TTL_MS])
        return JSONResponse({"value": int(value)})
    now = time.time_ns() // 1_000_000
    reply = await hit_script(
        keys=[keys.counter(namespace, key), keys.history(namespace, key)],
        args=[1, now // 3_600_000, TTL_MS, now],
    )
    # the common success is the bare value; a table carries a status (see lua/hit_full.lua)
    status, value = (reply[0], reply[1]) if isinstance(reply, list) else (0, reply)
    return JSONResponse({"value": int(value)}, 200 if status == 0 else 403)


async def get(request: Request) -> JSONResponse:
    namespace = request.path_params.get("namespace", "default")
    value = await redis.hget(keys.counter(namespace, request.path_params["key"]), "value")
    if value is None:
        return JSONResponse({"value": None}, 404)
    return JSONResponse({"value": int(value)})


async def healthz(request: Request) -> JSONResponse:
    await redis.ping()
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/hit/{key}", hit),
        Route("/hit/{namespace}/{key}", hit),
        Route("/get/{key}", get),
        Route("/get/{namespace}/{key}", get),
        Route("/healthz", healthz),
    ]
)
