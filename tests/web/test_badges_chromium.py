"""Badges as a person sees them: served over HTTP, drawn by headless Chromium.

For every style: the image's natural size is the size the SVG declares, every text lies
inside its own box with room to spare, and the font Chromium really draws (DejaVu Sans,
as on most Linux desktops) has the width the server measured: text widths come from real
font metrics, not from ``textLength`` squeezing. PNG screenshots of every style are saved
under ``tests/screenshots/`` (look at them).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from counter import Settings, create_app, lifespan
from counter.web.badge_svg import STYLES
from tests.conftest import delete_prefix
from tests.servers import RedisProcess
from tests.web.live_server import chromium, serving

SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"

# (label, value, query): short and long labels, big numbers, every format, non-ASCII.
CASES: list[tuple[str, int, str]] = [
    ("visits", 1234, ""),
    ("counter", 1234567, "&format=comma"),
    ("page views", 987654321, "&format=short"),
    ("Besucher · Zähler", 42, "&color=e05d44&labelColor=0b7"),
    ("downloads", -9223372036854775808, "&color=brightgreen"),
]

# Per text, in CSS px: its box, its drawn extent, and its width drawn without textLength.
MEASURE_JS = """
async (urls) => {
  const out = [];
  for (const url of urls) {
    const svgText = await (await fetch(url)).text();
    const holder = document.createElement('div');
    holder.innerHTML = svgText;
    document.body.appendChild(holder);
    const svg = holder.querySelector('svg');
    const rects = [...svg.querySelectorAll('g')[0].querySelectorAll('rect')]
      .filter(r => r.getAttribute('fill') !== 'url(#s)')
      .map(r => r.getBoundingClientRect());
    const texts = [...svg.querySelectorAll('text:not([aria-hidden])')].map(t => {
      const drawn = t.getBoundingClientRect();
      const free = t.cloneNode(true);
      free.removeAttribute('textLength');
      t.parentNode.appendChild(free);
      const natural = free.getComputedTextLength() / 10;
      free.remove();
      return {left: drawn.left, right: drawn.right, top: drawn.top, bottom: drawn.bottom,
              natural, declared: Number(t.getAttribute('textLength')) / 10,
              font: getComputedStyle(t).fontFamily};
    });
    const box = svg.getBoundingClientRect();
    out.push({url, width: Number(svg.getAttribute('width')),
              height: Number(svg.getAttribute('height')),
              box: {left: box.left, top: box.top, width: box.width, height: box.height},
              rects: rects.map(r => ({left: r.left, right: r.right, top: r.top,
                                      bottom: r.bottom})),
              texts});
    holder.remove();
  }
  return out;
}
"""

IMAGES_JS = """
async (urls) => Promise.all(urls.map(url => new Promise((resolve) => {
  const img = new Image();
  img.onload = () => resolve({url, width: img.naturalWidth, height: img.naturalHeight});
  img.onerror = () => resolve({url, width: -1, height: -1});
  img.src = url;
})))
"""


@pytest.fixture
async def badge_app(embedded_redis: RedisProcess, tmp_path: Path) -> AsyncIterator[Starlette]:
    """One app on the embedded Redis: what is drawn does not depend on the backend."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    app = create_app(Settings(redis_url=embedded_redis.url, prefix=prefix, data_dir=tmp_path))
    async with lifespan(app):
        yield app
        store = await app.state.counter_runtime.store()
        await delete_prefix(store.redis, prefix)


async def test_every_style_is_sized_fitted_and_measured_in_chromium(badge_app: Starlette) -> None:
    store = await badge_app.state.counter_runtime.store()
    for index, (_, value, _) in enumerate(CASES):
        await store.put("badges", f"case{index}", value, now=store.clock())
    SCREENSHOTS.mkdir(exist_ok=True)
    async with serving(badge_app) as base, chromium() as browser:
        page = await browser.new_page(device_scale_factor=2, viewport={"width": 400, "height": 120})
        await page.goto(f"{base}/get/badges/case0")  # same origin for fetch()
        for style in STYLES:
            urls = [
                f"{base}/get/badges/case{index}/shield?style={style}&label={label}{query}"
                for index, (label, _, query) in enumerate(CASES)
            ]
            measured: list[dict[str, Any]] = await page.evaluate(MEASURE_JS, urls)
            images: list[dict[str, Any]] = await page.evaluate(IMAGES_JS, urls)
            for badge, image in zip(measured, images, strict=True):
                _check_badge(style, badge, image)
            await _screenshot(page, style, urls)


def _check_badge(style: str, badge: dict[str, Any], image: dict[str, Any]) -> None:
    where = f"{style}: {badge['url']}"
    assert (image["width"], image["height"]) == (badge["width"], badge["height"]), where
    assert badge["height"] == {"plastic": 18, "for-the-badge": 28}.get(
        style.removesuffix("-simple"), 20
    ), where
    simple = style.endswith("-simple")
    assert len(badge["texts"]) == len(badge["rects"]) == (1 if simple else 2), where
    assert sum(r["right"] - r["left"] for r in badge["rects"]) == pytest.approx(
        badge["width"], abs=0.01
    ), where
    for rect, text in zip(badge["rects"], badge["texts"], strict=True):
        assert "DejaVu Sans" in text["font"], where
        # Inside its own box, at least 3 px from each side, and vertically inside too.
        assert text["left"] >= rect["left"] + 3, where
        assert text["right"] <= rect["right"] - 3, where
        assert rect["top"] <= text["top"] and text["bottom"] <= rect["bottom"] + 1, where
        # The server's measured width is what Chromium draws without textLength.
        assert text["natural"] == pytest.approx(text["declared"], abs=1.0), where


async def _screenshot(page: Any, style: str, urls: list[str]) -> None:
    images = "".join(f'<p><img src="{url}"></p>' for url in urls)
    await page.set_content(
        f'<html><body style="margin:8px;background:#fff;font:12px sans-serif">'
        f"<div>style={style}</div>{images}</body></html>"
    )
    await page.wait_for_function("[...document.images].every(i => i.complete)")
    await page.screenshot(path=str(SCREENSHOTS / f"badge-{style}.png"), full_page=True)
