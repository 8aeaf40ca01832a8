"""The visitor counter: GoatCounter's JSON, SVG/HTML/PNG, ranges, 404 showing 0, refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis

from counter import Settings
from tests.apikit import api_client

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}


@pytest.fixture
async def http(settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings.with_changes(counter_cache_ms=0)) as client:
        for _ in range(3):  # three visitors (ns: no sessions), one path, plus one elsewhere
            assert (await client.get("/count?p=/post&ns=1", headers=BROWSER)).status_code == 200
        await client.get("/site/other.site/count?p=/post", headers=BROWSER)
        yield client


async def test_json_is_goatcounter_s_strings(http: httpx.AsyncClient) -> None:
    response = await http.get("/counter/%2Fpost.json")
    assert (response.status_code, response.json()) == (200, {"count": "3", "count_unique": "3"})
    assert response.headers["access-control-allow-origin"] == "*"
    total = await http.get("/counter/TOTAL.json")
    assert total.json() == {"count": "3", "count_unique": "3"}
    # GoatCounter tries the path as given, then with one leading slash
    assert (await http.get("/counter/post.json")).json()["count"] == "3"
    other = await http.get("/site/other.site/counter/%2Fpost.json")
    assert other.json()["count"] == "1"


async def test_an_unknown_path_is_a_404_that_still_shows_0(http: httpx.AsyncClient) -> None:
    for kind in ("json", "svg", "html", "png"):
        response = await http.get(f"/counter/%2Fnever.{kind}")
        assert response.status_code == 404, kind
    assert (await http.get("/counter/%2Fnever.json")).json() == {"count": "0", "count_unique": "0"}
    assert ">0<" in (await http.get("/counter/%2Fnever.svg")).text


async def test_ranges(http: httpx.AsyncClient) -> None:
    today = datetime.now(UTC).date()
    for query in ("start=week", "start=month", "start=year", f"start={today}&end={today}"):
        assert (await http.get(f"/counter/%2Fpost.json?{query}")).json()["count"] == "3", query
    before = today - timedelta(days=3)
    assert (await http.get(f"/counter/%2Fpost.json?end={before}")).json()["count"] == "0"
    assert (await http.get(f"/counter/TOTAL.json?start={today}")).json()["count"] == "3"


async def test_svg_html_and_png_are_themeable_and_brandable(http: httpx.AsyncClient) -> None:
    svg = await http.get("/counter/%2Fpost.svg?style=%23vc-count%7Bfill%3Ared%7D")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert "#vc-count{fill:red}" in svg.text and "counted by counter" in svg.text
    bare = await http.get("/counter/%2Fpost.svg?no_branding=1")
    assert 'height="60"' in bare.text and "counted by" not in bare.text
    page = await http.get("/counter/TOTAL.html")
    assert page.headers["content-type"].startswith("text/html") and "this site" in page.text
    png = await http.get("/counter/%2Fpost.png")
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"


async def test_thousands_get_a_narrow_no_break_space(settings: Settings, redis: Redis) -> None:
    async with api_client(settings.with_changes(counter_cache_ms=0)) as http:
        store = await http.app.state.counter_runtime.store()  # type: ignore[attr-defined]
        await redis.hset(store.keys.site_stat("default", "meta"), "visits", 1234567)
        assert (await http.get("/counter/TOTAL.json")).json()["count"] == "1\u202f234\u202f567"


@pytest.mark.parametrize(
    "url",
    [
        "/counter/%2Fpost.gif",
        "/counter/%2Fpost",
        "/counter/%2Fpost.json?start=yesterday",
        "/counter/%2Fpost.json?end=2026-13-01",
        "/counter/%2Fpost.json?start=2026-02-01&end=2026-01-01",
        "/counter/%2Fpost.svg?style=%3C%2Fstyle%3E%3Cscript%3E",
        "/site/bad%20name/counter/%2Fpost.json",
    ],
)
async def test_bad_requests_are_400(http: httpx.AsyncClient, url: str) -> None:
    response = await http.get(url)
    assert response.status_code == 400, url
    assert "error" in response.json()


async def test_counts_are_cached_briefly_in_the_process(settings: Settings, redis: Redis) -> None:
    async with api_client(settings.with_changes(counter_cache_ms=60_000)) as http:
        await http.get("/count?p=/c&ns=1", headers=BROWSER)
        assert (await http.get("/counter/%2Fc.json")).json()["count"] == "1"
        await http.get("/count?p=/c&ns=1", headers=BROWSER)
        assert (await http.get("/counter/%2Fc.json")).json()["count"] == "1"  # from the cache
        assert (await http.get("/counter/%2Fc.json?start=week")).json()["count"] == "2"
