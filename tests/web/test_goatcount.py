"""/count over HTTP: GoatCounter's parameters, sites by Host, bots, sessions, limits, bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from counter import ConfigError, CounterNotFound, Settings, Store
from tests.apikit import api_client, settled

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
BROWSER = {"User-Agent": CHROME, "Accept-Language": "nl-NL,nl;q=0.9,en;q=0.8"}


@pytest.fixture
async def http(settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    site = settings.with_changes(sites="blog.example=blog", counter_cache_ms=0)
    async with api_client(site, client=("203.0.113.7", 40000)) as client:
        client.base_url = httpx.URL("http://blog.example")
        yield client


async def logged(store: Store, namespace: str) -> list[dict[str, str]]:
    return [entry for _, entry in await store.read_hit_log(namespace, after=0, until=99, count=99)]


def today() -> str:
    return datetime.now(UTC).strftime("%Y%m%d")


async def test_count_js_request_counts_a_pageview_with_every_field(
    http: httpx.AsyncClient, store: Store
) -> None:
    # Exactly what GoatCounter's count.js sends (sendBeacon: a POST without a body).
    query = (
        "?p=%2Fpost%3Fid%3D1%26utm_source%3Dnews%26fbclid%3Dabc&r=https%3A%2F%2Fnews.example%2Fa"
        "&t=A%20post&s=1920%2C1080%2C1&b=0&q=%3Futm_campaign%3Dlaunch&rnd=x1y2z"
    )
    response = await http.post("/count" + query, headers=BROWSER)
    assert response.status_code == 200
    assert response.content[:6] == b"GIF89a" and response.headers["content-type"] == "image/gif"
    assert response.headers["cache-control"] == "no-store,no-cache"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    [entry] = await logged(store, "blog")
    assert (entry["p"], entry["t"], entry["r"], entry["sz"]) == (
        "/post?id=1",
        "A post",
        "https://news.example/a",
        "1920,1080,1",
    )
    assert entry["s"] and entry["fv"] == "1" and entry["ua"] == CHROME
    assert await store.get("blog", "postid1") == 1  # the CountAPI counter of the path
    await settled(http)  # statistics are written within COUNTER_SITE_STATS_FLUSH_MS
    meta = await store.site_meta("blog")
    assert (meta["visits"], meta["pageviews"]) == ("1", "1")


async def test_sessions_make_the_second_view_no_visit_and_ns_turns_them_off(
    http: httpx.AsyncClient, store: Store
) -> None:
    for _ in range(2):
        assert (await http.get("/count?p=/a", headers=BROWSER)).status_code == 200
    await http.get("/count?p=/b", headers=BROWSER)
    await http.get("/count?p=/a&ns=1", headers=BROWSER)
    entries = await logged(store, "blog")
    assert [e["fv"] for e in entries] == ["1", "0", "1", "1"]
    assert entries[0]["s"] == entries[1]["s"] == entries[2]["s"] and entries[3]["s"] == ""
    assert "203.0.113.7" not in str(entries)  # the IP is never stored
    assert await store.get("blog", "a..") == 3


async def test_events_keep_their_name_and_pageviews_get_a_slash(
    http: httpx.AsyncClient, store: Store
) -> None:
    await http.get("/count?p=signup-click&e=true&t=Sign%20up", headers=BROWSER)
    await http.get("/count?p=about", headers=BROWSER)
    assert [(e["p"], e["e"]) for e in await logged(store, "blog")] == [
        ("signup-click", "1"),
        ("/about", "0"),
    ]


async def test_sites_map_hosts_and_the_site_route_names_one(
    http: httpx.AsyncClient, store: Store
) -> None:
    await http.get("/count?p=/x", headers=BROWSER)
    await http.get("http://other.example:8080/count?p=/x", headers=BROWSER)
    await http.get("http://other.example/site/shop.example/count?p=/x", headers=BROWSER)
    assert len(await logged(store, "blog")) == 1
    assert len(await logged(store, "default")) == 1
    assert len(await logged(store, "shop.example")) == 1


@pytest.mark.parametrize(
    ("user_agent", "query"),
    [(CHROME, "b=153"), ("Mozilla/5.0 (compatible; Googlebot/2.1)", "b=0"), ("curl/8.5.0", "")],
)
async def test_bots_are_kept_apart(
    http: httpx.AsyncClient, store: Store, user_agent: str, query: str
) -> None:
    response = await http.get(f"/count?p=/x&{query}", headers={"User-Agent": user_agent})
    assert response.status_code == 200
    with pytest.raises(CounterNotFound):  # no pageview in the counter
        await store.get("blog", "x..")
    [entry] = await logged(store, "blog")  # but the log keeps it, flagged
    assert int(entry["b"]) > 0
    await settled(http)
    meta = await store.site_meta("blog")
    assert meta.get("bots") == "1" and "pageviews" not in meta


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "p: required"),
        ("p=/x&b=5", "wrong value: b=5"),
        ("p=/x&b=abc", "b: not a number"),
        ("p=/x&e=maybe", "e: not a boolean"),
        ("p=/" + "x" * 3000, "path is longer"),
        ("p=/x&t=" + "t" * 2000, "title is longer"),
        ("p=/x&s=wide", "size must"),
        ("p=%00", "path must not contain control characters"),
        ("p=/a%0Ab", "path must not contain control characters"),
        ("p=/x&t=a%09b", "title must not contain control characters"),
        ("p=/x&r=https://a.example/%C2%85", "ref must not contain control characters"),
        ("p=/x&r=%7F", "ref must not contain control characters"),
    ],
)
async def test_bad_requests_are_400_gifs_that_say_why_and_store_nothing(
    http: httpx.AsyncClient, store: Store, redis: Redis, prefix: str, query: str, reason: str
) -> None:
    response = await http.get(f"/count?{query}", headers=BROWSER)
    assert response.status_code == 400
    assert response.content[:6] == b"GIF89a"
    assert reason in response.headers["x-goatcounter"]
    assert [key async for key in redis.scan_iter(match=f"{prefix}*")] == []


async def test_a_bad_site_name_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.get("/site/no%20such/count?p=/x", headers=BROWSER)
    assert response.status_code == 400 and "site" in response.headers["x-goatcounter"]


async def test_prefetch_is_not_a_visit(http: httpx.AsyncClient, store: Store) -> None:
    response = await http.get("/count?p=/x", headers={**BROWSER, "Sec-Purpose": "prefetch"})
    assert response.status_code == 200 and await logged(store, "blog") == []


async def test_each_client_gets_its_limit_and_loopback_none(
    settings: Settings, store: Store, redis: Redis
) -> None:
    limited = settings.with_changes(count_limit=2, count_window_s=60)
    async with api_client(limited, client=("198.51.100.9", 1)) as http:
        codes = [(await http.get("/count?p=/x", headers=BROWSER)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        refused = await http.get("/count?p=/x", headers=BROWSER)
        assert int(refused.headers["retry-after"]) >= 1 and refused.content[:6] == b"GIF89a"
        other = await http.get("/count?p=/x", headers={"User-Agent": "Mozilla/5.0 Firefox/133"})
        assert other.status_code == 200  # another User-Agent is another client
    async with api_client(limited, client=("127.0.0.1", 1)) as local:
        codes = [(await local.get("/count?p=/y", headers=BROWSER)).status_code for _ in range(4)]
        assert codes == [200] * 4
    assert len(await logged(store, "default")) == 7


def test_sites_come_from_the_environment_and_repeated_flags() -> None:
    from counter.cli.main import _parser

    settings = Settings.from_env({"COUNTER_SITES": "Blog.Example=blog, shop.example=shop"})
    assert settings.site_map() == {"blog.example": "blog", "shop.example": "shop"}
    args = vars(_parser().parse_args(["serve", "--site", "a.example=a", "--site", "b.example=b"]))
    assert args["site"] == ["a.example=a", "b.example=b"]
    for bad in ("blog.example", "=blog", "blog.example=no way"):
        with pytest.raises(ConfigError, match="COUNTER_SITES"):
            Settings(sites=bad)
    with pytest.raises(ConfigError, match="COUNTER_DEFAULT_SITE"):
        Settings(default_site="{x}")


async def test_concurrent_pageviews_share_their_sites_calls_and_keep_their_own_answers(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pageviews arriving together are logged and counted in one batch per site; a refused
    one (its counter takes no hits) is answered 400 alone and stored nowhere."""
    await store.create("blog", "closed", update_upperbound=0)
    calls: list[str] = []
    original = Store._script

    def recording(self: Store, name: str, batch: Any) -> Any:
        calls.extend(name for _ in batch)
        return original(self, name, batch)

    monkeypatch.setattr(Store, "_script", recording)
    paths = [f"/page{n}" for n in range(8)] + ["/closed"]
    unlimited = settings.with_changes(sites="blog.example=blog", count_limit=0)
    async with api_client(unlimited, client=("203.0.113.7", 40000)) as http:
        http.base_url = httpx.URL("http://blog.example")
        replies = await asyncio.gather(
            *(http.get(f"/count?p={path}&ns=1", headers=BROWSER) for path in paths)
        )
    assert [reply.status_code for reply in replies] == [200] * 8 + [400]
    assert "does not accept hits" in replies[-1].headers["x-goatcounter"]
    assert 1 <= calls.count("record_stats") <= 3 and 1 <= calls.count("log_hits") <= 3
    assert sorted(entry["p"] for entry in await logged(store, "blog")) == sorted(paths[:8])
    meta = await store.site_meta("blog")
    assert (meta["visits"], meta["pageviews"]) == ("8", "8")
    assert [await store.get("blog", p[1:]) for p in paths[:8]] == [1] * 8
    assert await store.get("blog", "closed") == 0
