"""``/live.js`` in headless Chromium, on a page of another site, as a user embeds it.

The page comes from a second server (another port: another origin), the script and the
counters from the app over real HTTP: cross-origin, as on a real site.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from counter import Settings, create_app, lifespan
from tests.conftest import delete_prefix
from tests.servers import RedisProcess
from tests.web.live_server import chromium, serving

SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
PAGE = """<!doctype html><html><head><meta charset="utf-8"></head>
<body style="font:16px sans-serif;margin:12px">
<p>Visits: <b id="visits" data-counter="live.site/visits" data-counter-hit>…</b></p>
<p>Downloads: <b id="downloads" data-counter="live.site/downloads"
   data-counter-format="comma" data-counter-poll="200">…</b></p>
<p>Missing: <b id="missing" data-counter="live.site/nothing" data-counter-missing="none"
   data-counter-poll="200">…</b></p>
<script src="{base}/live.js"></script></body></html>"""


@pytest.fixture
async def live_app(embedded_redis: RedisProcess, tmp_path: Path) -> AsyncIterator[Starlette]:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    settings = Settings(redis_url=embedded_redis.url, prefix=prefix, data_dir=tmp_path)
    app = create_app(settings)
    async with lifespan(app):
        yield app
        await delete_prefix((await app.state.counter_runtime.store()).redis, prefix)


def site(base: str) -> Starlette:
    """Another origin (its own port) serving the page that embeds the script."""

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.format(base=base))

    return Starlette(routes=[Route("/page.html", page)])


async def text(page: Page, element: str, expected: str) -> None:
    await page.wait_for_function(
        f"document.getElementById('{element}').textContent === {expected!r}", timeout=5000
    )


@pytest.mark.parametrize("transport", ["eventsource", "polling"])
async def test_live_js_counts_shows_and_follows(live_app: Starlette, transport: str) -> None:
    store = await live_app.state.counter_runtime.store()
    await store.put("live.site", "visits", 41, now=store.clock())
    await store.put("live.site", "downloads", 1233, now=store.clock())
    async with (
        serving(live_app) as base,
        chromium() as browser,
        httpx.AsyncClient() as http,
    ):
        script = await http.get(f"{base}/live.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("application/javascript")
        page = await browser.new_page(viewport={"width": 360, "height": 160})
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        if transport == "polling":
            await page.add_init_script("delete window.EventSource;")
        async with serving(site(base)) as other_origin:
            await page.goto(f"{other_origin}/page.html")
            await follows(page, http, base)
            SCREENSHOTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / f"live-js-{transport}.png"))
            streamed = any("/stream/" in url for url in requested)
            polled = any("/get/" in url for url in requested)
            assert (streamed, polled) == (transport == "eventsource", transport == "polling")
    assert await store.get("live.site", "visits") == 42


async def follows(page: Page, http: httpx.AsyncClient, base: str) -> None:
    await text(page, "visits", "42")  # data-counter-hit counted this view
    await text(page, "downloads", "1,233")
    await text(page, "missing", "none")
    await http.get(f"{base}/hit/live.site/downloads")
    await text(page, "downloads", "1,234")
    await http.get(f"{base}/hit/live.site/nothing")
    await text(page, "missing", "1")
