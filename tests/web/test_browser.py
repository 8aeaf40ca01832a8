"""count.js and the visitor counter in a real headless Chromium (Debian's), against a live server.

Chromium under automation says so (``navigator.webdriver``, a ``HeadlessChrome`` User-Agent) and
would rightly be counted as a bot; the browser here turns both off to stand in for a person,
and one test keeps them on to see the bot kept apart.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from counter import Settings, Store, create_app
from counter.engine.keys import Keys
from counter.runtime import connect
from tests.apikit import bearer, new_token
from tests.conftest import delete_prefix
from tests.liveserver import LiveServer
from tests.servers import RedisProcess

CHROMIUM = "/usr/bin/chromium"
PERSON = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIXTURES = Path(__file__).parent / "fixtures"
SCREENSHOTS = Path(__file__).parent.parent / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture
async def live(embedded_redis: RedisProcess) -> AsyncIterator[tuple[str, Store, str]]:
    """(counter base URL, a Store on the same keys, a stats token for namespace ``default``)."""
    prefix = f"browser:{uuid.uuid4().hex[:8]}:"
    settings = Settings(redis_url=embedded_redis.url, prefix=prefix, counter_cache_ms=0)
    redis = connect(embedded_redis.url)
    store = Store(redis, keys=Keys(prefix))
    secret = await new_token(store, perms="count,stats,site-read", namespaces="default")
    try:
        with LiveServer(create_app(settings)) as base:
            yield base, store, secret
    finally:
        await delete_prefix(redis, prefix)
        await redis.aclose()


def page_app(counter: str, script: str, body: str) -> Starlette:
    """The site being counted: one page that loads a count.js from ``script``."""

    async def page(request: Any) -> Response:
        return HTMLResponse(
            f"""<!DOCTYPE html><html><head><title>A test page</title></head><body>
<h1>Hello</h1>{body}
<script data-goatcounter="{counter}/count" data-goatcounter-settings='{{"allow_local": true}}'
 async src="{script}"></script></body></html>"""
        )

    async def goatcounter_js(request: Any) -> Response:
        js = (FIXTURES / "goatcounter-count.js").read_bytes()
        return Response(js, media_type="text/javascript")

    return Starlette(routes=[Route("/page.html", page), Route("/gc-count.js", goatcounter_js)])


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[*ARGS, "--disable-blink-features=AutomationControlled"],
        )
        yield browser
        await browser.close()


async def until(check: Any, timeout: float = 10) -> Any:
    """Poll ``check()`` (async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def counter_json(base: str, path: str) -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{base}/counter/{path}.json")
        return dict(response.json())


@pytest.fixture
def site() -> Iterator[None]:
    SCREENSHOTS.mkdir(exist_ok=True)
    yield


async def test_our_count_js_counts_a_pageview_an_event_and_shows_the_counter(
    live: tuple[str, Store, str], chromium: Browser, site: None
) -> None:
    base, _, secret = live
    body = """<p><button id="signup" data-goatcounter-click="signup-click"
 data-goatcounter-title="Sign up">Sign up</button></p><div id="svg-counter"></div>
<div id="html-counter"></div>"""
    with LiveServer(page_app(base, f"{base}/count.js", body)) as pages:
        context = await chromium.new_context(user_agent=PERSON)
        page = await context.new_page()
        beacons: list[str] = []
        page.on("request", lambda r: beacons.append(r.method) if "/count?" in r.url else None)
        await page.goto(f"{pages}/page.html")
        shown = await until(lambda: counter_json(base, "%2Fpage.html"))
        assert await until(
            lambda: _equals(counter_json(base, "%2Fpage.html"), {"count": "1", "count_unique": "1"})
        )
        assert beacons[:1] == ["POST"], beacons  # sendBeacon, not the image fallback
        await page.click("#signup")
        assert await until(
            lambda: _equals(counter_json(base, "signup-click"), {"count": "1", "count_unique": "1"})
        )
        await _visitor_counters(page)
        await context.close()
        assert shown
    async with httpx.AsyncClient(base_url=base, headers=bearer(secret)) as api:
        hits = (await api.get("/api/v0/stats/hits")).json()
    counts = {hit["path"]: (hit["count"], hit["event"]) for hit in hits["hits"]}
    assert counts == {"/page.html": (1, False), "signup-click": (1, True)}


async def _equals(pending: Any, expected: object) -> bool:
    return bool(await pending == expected)


async def _visitor_counters(page: Page) -> None:
    await page.evaluate(
        """() => {
        goatcounter.visit_count({type: 'svg', append: '#svg-counter', path: '/page.html'})
        goatcounter.visit_count({type: 'html', append: '#html-counter', path: '/page.html',
                                 style: '#vc-count { color: #0a7d32 }'})
    }"""
    )
    svg = page.locator("#svg-counter img")
    await svg.wait_for()
    await page.wait_for_function(
        "() => { const i = document.querySelector('#svg-counter img');"
        " return i.complete && i.naturalWidth > 0 }"
    )
    frame = page.frame_locator("#html-counter iframe")
    assert (await frame.locator("#vc-count").inner_text()).strip() == "1"
    assert (
        await frame.locator("#vc-count").evaluate("e => getComputedStyle(e).color")
        == "rgb(10, 125, 50)"
    )
    await svg.screenshot(path=str(SCREENSHOTS / "visitor-counter-svg.png"))
    await page.locator("#html-counter iframe").screenshot(
        path=str(SCREENSHOTS / "visitor-counter-html.png")
    )


async def test_goatcounter_s_own_count_js_works_unmodified(
    live: tuple[str, Store, str], chromium: Browser
) -> None:
    base, store, _ = live
    with LiveServer(page_app(base, "/gc-count.js", "")) as pages:
        context = await chromium.new_context(user_agent=PERSON)
        page = await context.new_page()
        sent: list[tuple[str, str]] = []
        page.on("request", lambda r: sent.append((r.method, r.url)) if "/count?" in r.url else None)
        await page.goto(f"{pages}/page.html?utm_campaign=spring")
        assert await until(
            lambda: _equals(counter_json(base, "%2Fpage.html"), {"count": "1", "count_unique": "1"})
        )
        await context.close()
    [(method, url)] = sent
    params = parse_qs(urlsplit(url).query)
    assert method == "POST" and urlsplit(url).path == "/count"
    assert params["p"] == ["/page.html?utm_campaign=spring"] and params["t"] == ["A test page"]
    assert params["b"] == ["0"] and params["q"] == ["?utm_campaign=spring"] and "rnd" in params
    assert len(params["s"][0].split(",")) == 3
    [(_, entry)] = await store.read_hit_log("default", after=0, until=9, count=9)
    assert entry["p"] == "/page.html" and entry["fv"] == "1"  # tracking parameter dropped


async def test_an_automated_browser_is_kept_apart_as_a_bot(live: tuple[str, Store, str]) -> None:
    base, store, _ = live
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        with LiveServer(page_app(base, f"{base}/count.js", "")) as pages:
            page = await browser.new_page()
            await page.goto(f"{pages}/page.html")
            entries = await until(lambda: store.read_hit_log("default", after=0, until=9, count=9))
        await browser.close()
    assert [int(entry["b"]) >= 150 for _, entry in entries] == [True]  # navigator.webdriver
    # statistics are written within COUNTER_SITE_STATS_FLUSH_MS of the answer
    meta = await until(lambda: store.site_meta("default"))
    assert meta.get("bots") == "1"
