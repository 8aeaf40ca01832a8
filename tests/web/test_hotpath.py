"""The hot path answers plain /hit and /get exactly as the router does, and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from counter import Settings, create_app, lifespan
from counter.runtime import Runtime
from counter.web.countapi import CountApi
from counter.web.hotpath import HotPath

# A query string the routes ignore sends the same request through the Starlette router.
VIA_ROUTER = "?via=router"


def comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "content-length"]
    return response.status_code, headers, response.content


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/get/fast-ns/missing", {}),
        ("/get/missing-key", {}),
        ("/get/x", {}),  # malformed name: 400
        ("/get/:HOST:/page", {"Origin": "https://example.org"}),
    ],
)
async def test_get_is_byte_identical(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    fast = await client.get(path, headers=headers)
    routed = await client.get(path + VIA_ROUTER, headers=headers)
    assert comparable(fast) == comparable(routed)
    assert fast.headers["access-control-allow-origin"] == "*"


async def test_hit_matches_router_and_counts_once(client: httpx.AsyncClient) -> None:
    fast = await client.get("/hit/fast-ns/page")
    routed = await client.get("/hit/fast-ns/page" + VIA_ROUTER)
    assert fast.json() == {"value": 1}
    assert routed.json() == {"value": 2}
    assert comparable(fast)[:2] == comparable(routed)[:2]
    assert (await client.get("/get/fast-ns/page")).json() == {"value": 2}
    host = await client.get("/hit/:HOST:/visits", headers={"Referer": "https://a.example/x"})
    assert (host.status_code, host.headers["x-path"]) == (200, "a.example/visits")


async def test_refusals_match_router(client: httpx.AsyncClient) -> None:
    await client.get(
        "/create", params={"namespace": "fast-ns", "key": "capped", "update_upperbound": 0}
    )
    fast = await client.get("/hit/fast-ns/capped")
    routed = await client.get("/hit/fast-ns/capped" + VIA_ROUTER)
    assert comparable(fast) == comparable(routed)
    assert (fast.status_code, fast.json()) == (403, {"value": 0})


async def test_stats_count_hot_path_requests(client: httpx.AsyncClient) -> None:
    before = (await client.get("/stats")).json()
    await client.get("/hit/fast-ns/stat")
    await client.get("/get/fast-ns/stat")
    after = (await client.get("/stats")).json()
    assert after["requests"] - before["requests"] == 3  # two hot, one /stats
    assert after["keys_created"] - before["keys_created"] == 1
    assert after["keys_updated"] - before["keys_updated"] == 1


class Downstream:
    """Stands in for the router: records what the hot path passed on."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(scope["path"] + "?" + scope.get("query_string", b"").decode())
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
async def hot_path(
    settings: Settings, redis: Redis
) -> AsyncIterator[tuple[Downstream, httpx.AsyncClient]]:
    runtime = Runtime(settings)
    downstream = Downstream()
    app = HotPath(downstream, countapi=CountApi(runtime))
    async with runtime.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield downstream, client


async def test_only_plain_hit_and_get_are_taken(
    hot_path: tuple[Downstream, httpx.AsyncClient],
) -> None:
    downstream, client = hot_path
    for path in ("/hit/abc", "/hit/nsx/abc", "/get/nsx/abc", "/get/nsx/nothing", "/get/x"):
        assert (await client.get(path)).status_code != 299, path
    passed = [
        "/hit/abc?callback=f",
        "/hit/abc?img",
        "/hit/a/b/c",
        "/hit/abc/",
        "/hit//abc",
        "/hit/",
        "/update/abc",
        "/info/abc",
        "/stats",
        "/healthz",
    ]
    for path in passed:
        assert (await client.get(path)).status_code == 299, path
    assert (await client.post("/hit/abc")).status_code == 299
    assert len(downstream.paths) == len(passed) + 1


async def test_hot_path_under_a_mount(settings: Settings, redis: Redis) -> None:
    counter_app = create_app(settings)
    host = Starlette(routes=[Mount("/counter", app=counter_app)])
    async with lifespan(counter_app):
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            first = await client.get("/counter/hit/mounted/page")
            second = await client.get("/counter/hit/mounted/page" + VIA_ROUTER)
    assert (first.status_code, first.json()) == (200, {"value": 1})
    assert (second.status_code, second.json()) == (200, {"value": 2})
    assert first.headers["x-path"] == "mounted/page"
