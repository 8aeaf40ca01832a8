"""The visitor counter: ``GET /counter/{path}.{json,svg,html,png}`` (and under ``/site/{ns}/``).

``TOTAL`` counts the whole site; ``start`` (``YYYY-MM-DD``, ``week``, ``month``, ``year``) and
``end`` (``YYYY-MM-DD``, inclusive) bound the range, else it is all time. The number is visits,
as GoatCounter's, written with a narrow no-break space between thousands (its default format).
An unknown path is a 404 that still renders 0. Counts are cached in the process for
``counter_cache_ms`` so a popular page's counter costs no Redis round trip per view.
"""

from __future__ import annotations

import html
import io
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import orjson
from PIL import Image, ImageDraw, ImageFont
from starlette.requests import Request
from starlette.responses import Response

from counter.engine.sitestats import path_digest
from counter.engine.store import Store
from counter.errors import CounterError
from counter.runtime import Runtime
from counter.web.errors import error_text, status_for

THIN_SPACE = "\u202f"
_TYPES = {"json", "svg", "html", "png"}
_MAX_STYLE = 2000
_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="200" height="{h}" viewBox="0 0 200 {h}">
<style>
svg {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }}
#vc-box {{ fill: #fff; stroke: #9a15a4; stroke-width: 2; }}
#vc-label {{ fill: #444; font-size: 13px; }}
#vc-count {{ fill: #9a15a4; font-size: 24px; font-weight: bold; }}
#vc-by {{ fill: #888; font-size: 11px; }}
{style}
</style>
<rect id="vc-box" x="1" y="1" width="198" height="{box}" rx="6"/>
<text id="vc-label" x="50%" y="20" text-anchor="middle">Views for this {what}</text>
<text id="vc-count" x="50%" y="47" text-anchor="middle">{count}</text>
{by}</svg>
"""
_SVG_BY = '<text id="vc-by" x="50%" y="70" text-anchor="middle">counted by counter</text>\n'
_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Visitor counter</title>
<style>
html, body {{ margin: 0; padding: 0; background: transparent; }}
#vc {{ box-sizing: border-box; width: 200px; height: {h}px; text-align: center;
  border: 2px solid #9a15a4; border-radius: 6px; background: #fff; padding-top: 4px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }}
#vc-label {{ color: #444; font-size: 13px; }}
#vc-count {{ color: #9a15a4; font-size: 24px; font-weight: bold; line-height: 30px; }}
#vc-by {{ color: #888; font-size: 11px; }}
{style}
</style></head>
<body><div id="vc"><div id="vc-label">Views for this {what}</div>
<div id="vc-count">{count}</div>{by}</div></body></html>
"""
_HTML_BY = '<div id="vc-by">counted by counter</div>'


class BadCounter(ValueError):
    pass


def number(value: int) -> str:
    return f"{value:,}".replace(",", THIN_SPACE)


def day_range(start: str, end: str, today: date) -> list[date] | None:
    """The days asked for, or None for all time."""
    if not start and not end:
        return None
    relative = {"week": 7, "month": 30, "year": 365}
    try:
        first = (
            today - timedelta(days=relative[start])
            if start in relative
            else (date.fromisoformat(start) if start else today - timedelta(days=365 * 5))
        )
        last = date.fromisoformat(end) if end else today
    except ValueError:
        raise BadCounter(
            "start and end must be YYYY-MM-DD (start also week, month or year)"
        ) from None
    if last < first:
        raise BadCounter("end is before start")
    if (last - first).days > 3660:
        raise BadCounter("the range is longer than ten years")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def count_of(
    store: Store, namespace: str, path: str, days: list[date] | None
) -> tuple[int, bool]:
    """(visits, whether the path or site is known)."""
    if path == "TOTAL":
        if days is None:
            meta = await store.site_meta(namespace)
            return int(meta.get("visits", 0)), bool(meta)
        totals = await store.month_totals(namespace, days)
        visits = sum(sum(fields.get("v", ())) for fields in totals.values())
        return visits, bool(await store.site_meta(namespace))
    for candidate in (path, "/" + path.strip("/")):
        digest = path_digest(candidate)
        if await store.path_ids(namespace, [digest]):
            if days is None:
                return await store.path_total(namespace, digest), True
            hours = await store.hourly(namespace, [digest], days)
            return sum(sum(counts) for counts in hours[digest].values()), True
    return 0, False


class VisitorCounter:
    def __init__(self, runtime: Runtime, namespace_of: Callable[[Request], str]) -> None:
        self.runtime = runtime
        self.namespace_of = namespace_of
        self.cache_ms = runtime.settings.counter_cache_ms
        self._cache: dict[tuple[str, str, str, str], tuple[float, int, bool]] = {}

    async def counter(self, request: Request) -> Response:
        rest: str = request.path_params["rest"]
        path, dot, kind = rest.rpartition(".")
        if not dot or kind not in _TYPES:
            return _error(400, f"unknown extension: {kind!r}; use json, svg, html or png")
        query = request.query_params
        style = query.get("style", "")
        if len(style) > _MAX_STYLE or "<" in style:
            return _error(400, f"style must be CSS of at most {_MAX_STYLE} characters, without <")
        try:
            namespace = self.namespace_of(request)
            days = day_range(query.get("start", ""), query.get("end", ""), datetime.now(UTC).date())
            count, known = await self._count(
                namespace, path, days, query.get("start", ""), query.get("end", "")
            )
        except (BadCounter, ValueError) as error:
            return _error(400, str(error))
        except CounterError as error:
            status = status_for(error)
            return _error(status, error_text(error, status))
        status = 200 if known else 404
        text = number(count)
        what = "site" if path == "TOTAL" else "page"
        branding = not query.get("no_branding")
        cache = {"Cache-Control": "public, max-age=30"}
        if kind == "json":
            body = orjson.dumps({"count": text, "count_unique": text})
            # CORS (Access-Control-Allow-Origin: *) comes from web/cors.py, as on every route.
            return Response(body, status, cache, media_type="application/json")
        if kind == "svg":
            svg = _SVG.format(
                h=80 if branding else 60, box=78 if branding else 58,
                style=html.escape(style, quote=False), what=what, count=html.escape(text),
                by=_SVG_BY if branding else "",
            )  # fmt: skip
            return Response(svg, status, cache, media_type="image/svg+xml")
        if kind == "html":
            page = _HTML.format(
                h=80 if branding else 60, style=style, what=what, count=html.escape(text),
                by=_HTML_BY if branding else "",
            )  # fmt: skip
            return Response(page, status, cache, media_type="text/html; charset=utf-8")
        return Response(_png(text, what, branding), status, cache, media_type="image/png")

    async def _count(
        self, namespace: str, path: str, days: list[date] | None, start: str, end: str
    ) -> tuple[int, bool]:
        key = (namespace, path, start, end)
        now = time.monotonic() * 1000
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        store = await self.runtime.settled_store(namespace)
        count, known = await count_of(store, namespace, path, days)
        if self.cache_ms:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now + self.cache_ms, count, known)
        return count, known


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status, media_type="application/json")


def _png(text: str, what: str, branding: bool) -> bytes:
    height = 80 if branding else 60
    image = Image.new("RGBA", (200, height), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(
        (1, 1, 198, height - 2), radius=6, fill="white", outline="#9a15a4", width=2
    )
    small, big = ImageFont.load_default(size=13), ImageFont.load_default(size=24)
    draw.text((100, 20), f"Views for this {what}", fill="#444444", font=small, anchor="mm")
    draw.text((100, 40), text.replace(THIN_SPACE, " "), fill="#9a15a4", font=big, anchor="mm")
    if branding:
        draw.text(
            (100, 66),
            "counted by counter",
            fill="#888888",
            font=ImageFont.load_default(size=11),
            anchor="mm",
        )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
