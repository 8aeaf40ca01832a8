"""``/stream`` over real HTTP (uvicorn on a loopback port) on every backend.

Two app instances on one Redis stand for two servers: a change made through either
reaches streams on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette

from counter import Settings, Store, create_app, lifespan
from counter.engine.records import CounterRecord
from counter.web.stream import StreamHub
from tests.apikit import bearer, new_token
from tests.web.live_server import serving
from tests.web.sse import Stream, open_stream


@dataclass
class Instance:
    app: Starlette
    base: str
    http: httpx.AsyncClient

    @property
    def hub(self) -> StreamHub:
        hub: StreamHub = self.app.state.counter_streams
        return hub

    async def store(self) -> Store:
        store: Store = await self.app.state.counter_runtime.store()
        return store


@asynccontextmanager
async def instance(settings: Settings) -> AsyncIterator[Instance]:
    app = create_app(settings)
    async with (
        lifespan(app),
        serving(app) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
    ):
        yield Instance(app, base, http)


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    return settings.with_changes(stream_heartbeat_ms=300, live_refresh_ms=1000)


@pytest.fixture
async def one(live_settings: Settings, redis: object) -> AsyncIterator[Instance]:
    async with instance(live_settings) as running:
        yield running


async def test_initial_value_headers_and_every_write_path(one: Instance) -> None:
    http, store = one.http, await one.store()
    await http.get(
        "/create", params={"namespace": "live.ns", "key": "page", "value": 7, "enable_reset": 1}
    )
    async with open_stream(http, "/stream/live.ns/page") as stream:
        headers = stream.response.headers
        assert stream.response.status_code == 200
        assert headers["content-type"] == "text/event-stream; charset=utf-8"
        assert headers["cache-control"] == "no-cache"
        assert headers["x-accel-buffering"] == "no"
        first = await stream.next()
        assert (first.id, first.event, first.value) == ("7", "message", 7)
        await http.get("/hit/live.ns/page")
        assert (await stream.values_until(8))[-1] == 8
        await http.get("/update/live.ns/page", params={"amount": -1})
        assert (await stream.values_until(7))[-1] == 7
        await http.get("/set/live.ns/page", params={"value": 100})
        event = await stream.next()
        assert (event.id, event.value) == ("100", 100)
        await store.put("live.ns", "page", -5, now=store.clock())  # management writes
        assert (await stream.values_until(-5))[-1] == -5
        await store.count_batch("live.ns", [("page", 3, store.clock())], now=store.clock())
        assert (await stream.values_until(-2))[-1] == -2
        await store.delete("live.ns", "page", now=store.clock())
        gone = await stream.next()
        assert (gone.id, gone.event, gone.data) == ("missing", "missing", '{"value": null}')
        record = CounterRecord(
            value=42,
            created=store.clock(),
            enable_reset=False,
            update_lowerbound=-1,
            update_upperbound=1,
            daily={},
        )
        await store.restore("live.ns", "page", record, now=store.clock())
        assert (await stream.values_until(42))[-1] == 42


async def test_api_count_and_management_routes_notify(one: Instance) -> None:
    secret = await new_token(await one.store(), "live", "count,read,manage", "site.com")
    headers = bearer(secret)
    async with open_stream(one.http, "/stream/site.com/about") as stream:
        missing = await stream.next()
        assert (missing.event, missing.id) == ("missing", "missing")
        hits = {"no_sessions": True, "hits": [{"path": "/about"}, {"path": "/about"}]}
        assert (await one.http.post("/api/v0/count", headers=headers, json=hits)).status_code == 202
        assert (await stream.values_until(2))[-1] == 2
        put = await one.http.put(
            "/api/v0/counters/site.com/about", headers=headers, json={"value": 9}
        )
        assert put.status_code == 200
        assert (await stream.values_until(9))[-1] == 9
        deleted = await one.http.delete("/api/v0/counters/site.com/about", headers=headers)
        assert deleted.status_code == 204
        assert (await stream.next()).event == "missing"


async def test_the_count_pixel_notifies(one: Instance) -> None:
    browser = {
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    }
    async with open_stream(one.http, "/stream/pixel.site/about") as stream:
        assert (await stream.next()).event == "missing"
        counted = await one.http.get(
            "/site/pixel.site/count", params={"p": "/about", "ns": "1"}, headers=browser
        )
        assert counted.status_code == 200, counted.headers.get("x-goatcounter")
        assert (await stream.values_until(1))[-1] == 1


async def test_changes_on_any_instance_reach_every_instance(
    live_settings: Settings, redis: object
) -> None:
    async with instance(live_settings) as a, instance(live_settings) as b:
        await a.http.get("/hit/cross/counter")
        async with (
            open_stream(a.http, "/stream/cross/counter") as on_a,
            open_stream(b.http, "/stream/cross/counter") as on_b,
        ):
            assert (await on_a.next()).value == 1 and (await on_b.next()).value == 1
            await b.http.get("/hit/cross/counter")
            assert (await on_a.values_until(2))[-1] == 2
            assert (await on_b.values_until(2))[-1] == 2
            await a.http.get("/hit/cross/counter")
            assert (await on_b.values_until(3))[-1] == 3
        # A stream opened on B after A's writes began still sees A's next write.
        async with open_stream(b.http, "/stream/cross/other") as late:
            assert (await late.next()).event == "missing"
            await a.http.get("/hit/cross/other")
            assert (await late.values_until(1))[-1] == 1


async def test_last_event_id_resumes_without_repeating_or_losing(one: Instance) -> None:
    await one.http.get("/set/resume/key1")  # 404: nothing made
    for _ in range(5):
        await one.http.get("/hit/resume/key1")
    # Already has 5: no event until the next change, which arrives normally.
    async with open_stream(one.http, "/stream/resume/key1", {"Last-Event-ID": "5"}) as stream:
        await one.http.get("/hit/resume/key1")
        event = await stream.next()
        assert (event.id, event.value) == ("6", 6)
    # Missed a change while away: the current value comes first.
    async with open_stream(one.http, "/stream/resume/key1", {"Last-Event-ID": "4"}) as stream:
        event = await stream.next()
        assert (event.id, event.value) == ("6", 6)


async def test_heartbeat_comments_keep_an_idle_stream_open(one: Instance) -> None:
    await one.http.get("/hit/beats/key1")
    async with open_stream(one.http, "/stream/beats/key1") as stream:
        await stream.next()
        with pytest.raises(TimeoutError):
            await stream.next(timeout=1.0)  # nothing changes: no event, only heartbeats
        assert stream.comments.count("heartbeat") >= 2


async def test_at_most_one_event_per_interval_under_load(one: Instance) -> None:
    async with open_stream(one.http, "/stream/busy/key1") as stream:
        await stream.next()
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(10):
            await asyncio.gather(*(one.http.get("/hit/busy/key1") for _ in range(15)))
        values = await stream.values_until(150, timeout=5)
        elapsed = loop.time() - started
    assert values == sorted(values) and values[-1] == 150
    assert len(values) <= elapsed / 0.1 + 2  # coalesced: far fewer events than 150 hits


async def test_caps_per_ip_and_per_process_answer_429(
    live_settings: Settings, redis: object
) -> None:
    settings = live_settings.with_changes(
        stream_max_per_ip=2, stream_max_per_process=3, trusted_proxies="127.0.0.1"
    )
    async with instance(settings) as one, AsyncExitStack() as streams:
        held = []  # a dropped Stream's line iterator would close its connection
        for _ in range(2):
            held.append(
                await streams.enter_async_context(open_stream(one.http, "/stream/caps/key1"))
            )
            await held[-1].next()
        refused = await one.http.get("/stream/caps/key1")
        assert refused.status_code == 429 and "error" in refused.json()
        assert refused.headers["retry-after"] == "10"
        # Another client (behind the trusted proxy) still gets the process's last slot.
        elsewhere = {"X-Forwarded-For": "198.51.100.7"}
        stream = await streams.enter_async_context(
            open_stream(one.http, "/stream/caps/key1", elsewhere)
        )
        await stream.next()
        assert len(one.hub.clients) == 3
        full = await one.http.get("/stream/caps/key1", headers={"X-Forwarded-For": "192.0.2.1"})
        assert full.status_code == 429
        await streams.aclose()
        for _ in range(100):  # the server notices the closed connections
            if not one.hub.clients:
                break
            await asyncio.sleep(0.02)
    assert one.hub.clients == set()


async def test_bad_names_are_400_and_streams_off_is_503(
    live_settings: Settings, redis: object
) -> None:
    async with instance(live_settings) as one:
        response = await one.http.get("/stream/ab")
        assert response.status_code == 400 and "error" in response.json()
    async with instance(live_settings.with_changes(stream_max_per_process=0)) as off:
        assert (await off.http.get("/stream/some/key1")).status_code == 503
        assert (await off.store()).changes is None  # and no feed, no subscription


async def test_shutdown_ends_every_stream_cleanly(one: Instance) -> None:
    async with AsyncExitStack() as stack:
        streams: list[Stream] = []
        for index in range(5):
            stream = await stack.enter_async_context(
                open_stream(one.http, f"/stream/closing/key{index}")
            )
            await stream.next()
            streams.append(stream)
        one.hub.close()
        for stream in streams:
            await stream.end(timeout=2)  # a complete chunked body: no reset, no error
        assert one.hub.clients == set()
        assert (await one.http.get("/stream/closing/key1")).status_code == 503


async def test_a_client_that_stops_reading_is_dropped(one: Instance) -> None:
    """A send that never completes (a full socket) costs the client its stream, not us."""
    hub = one.hub
    hub.send_timeout = 0.2
    sent: list[dict[str, object]] = []
    stuck = asyncio.Event()

    async def send(message: dict[str, object]) -> None:
        sent.append(message)
        if len(sent) > 2:
            await stuck.wait()  # the transport's buffer is full from here on

    async def receive() -> dict[str, object]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    await one.http.get("/hit/slow/key1")
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/stream/slow/key1",
        "headers": [],
        "path_params": {"namespace": "slow", "key": "key1"},
        "client": ("127.0.0.9", 9),
    }
    task = asyncio.create_task(hub(scope, receive, send))
    for _ in range(100):
        if len(sent) >= 2:
            break
        await asyncio.sleep(0.01)
    await one.http.get("/hit/slow/key1")  # event 1 is sent, then the socket "fills"
    await asyncio.sleep(0.2)
    await one.http.get("/hit/slow/key1")
    await asyncio.wait_for(task, 3)
    assert hub.dropped == 1 and hub.clients == set() and hub.per_ip == {}
