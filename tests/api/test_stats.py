"""The stats API through a real GoatCounter client (goatcounter-mcp-server's, unmodified) over
a real socket, and its shapes, parameters and refusals checked directly."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from counter import Settings, Store, create_app
from counter.api.statsquery import site_id
from tests.apikit import bearer, new_token
from tests.liveserver import LiveServer

with warnings.catch_warnings():  # its module builds a FastMCP server the old way at import
    warnings.simplefilter("ignore", DeprecationWarning)
    from goatcounter_mcp_server.server import GoatcounterApiClient, GoatcounterApiClientError

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
DAY1 = (NOW - timedelta(days=2)).replace(hour=9)
DAY2 = (NOW - timedelta(days=1)).replace(hour=15)


@pytest.fixture
def base_url(settings: Settings, redis: Redis) -> Iterator[str]:
    app = create_app(settings.with_changes(api_count_limit=1000, api_limit=1000))
    with LiveServer(app) as url:
        yield url


@pytest.fixture
async def secret(store: Store) -> str:
    return await new_token(store, perms="count,stats,site-read")


def hit(path: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {"path": path, "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), **fields}


@pytest.fixture
async def counted(base_url: str, secret: str) -> None:
    hits = [
        hit("/", DAY1, user_agent=FIREFOX, size=[1920, 1080, 1], location="NL",
            ref="https://news.example/item?id=1", title="Home"),
        hit("/", DAY1, user_agent=CHROME, size=[390, 844, 3], location="US-CA",
            query="?utm_campaign=launch&utm_source=mail"),
        hit("/", DAY2, user_agent=CHROME, size=[1920, 1080, 1], location="US-NY", language="en"),
        hit("/about", DAY2, user_agent=FIREFOX, ref="https://news.example/other", title="About"),
        hit("signup", DAY2, user_agent=FIREFOX, event=True, title="Sign up"),
        hit("/", DAY2, user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)"),
    ]  # fmt: skip
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post(
            "/api/v0/count", headers=bearer(secret), json={"no_sessions": True, "hits": hits}
        )
    assert response.status_code == 202, response.text


@pytest.fixture
async def client(base_url: str, secret: str, counted: None) -> AsyncIterator[GoatcounterApiClient]:
    api = GoatcounterApiClient("site.com", secret, base_url_template=base_url)
    yield api
    await api.close()


def no_error_keys(body: Any) -> Any:
    assert "error" not in body and "errors" not in body, body
    return body


async def test_the_client_reads_sites_and_paths(client: GoatcounterApiClient) -> None:
    sites = no_error_keys(await client.list_sites())["sites"]
    assert [(s["id"], s["code"], s["received_data"]) for s in sites] == [
        (site_id("site.com"), "site.com", True)
    ]
    first = no_error_keys(await client.list_paths(limit=2))
    assert [(p["id"], p["path"], p["event"]) for p in first["paths"]] == [
        (1, "/", False),
        (2, "/about", False),
    ]
    assert first["more"] is True
    rest = await client.list_paths(limit=2, after=2)
    assert [(p["path"], p["title"], p["event"]) for p in rest["paths"]] == [
        ("signup", "Sign up", True)
    ]
    assert rest["more"] is False


async def test_the_client_reads_totals_and_hits(client: GoatcounterApiClient) -> None:
    start, end = DAY1.strftime("%Y-%m-%d"), NOW.strftime("%Y-%m-%d %H:%M:%S")
    total = no_error_keys(await client.get_stats_total(start=start, end=end))
    assert total == {"total": 5, "total_events": 1, "total_utc": 5}  # the bot is not in it
    hits = no_error_keys(await client.get_stats_hits(start=start, end=end, limit=2, daily=True))
    assert hits["more"] is True and hits["total"] == 5
    home, second = hits["hits"]
    assert (home["path"], home["count"], home["path_id"]) == ("/", 3, 1)
    assert second["count"] == 1
    days = {stat["day"]: stat for stat in home["stats"]}
    assert days[DAY1.date().isoformat()]["hourly"][9] == 2
    assert days[DAY2.date().isoformat()]["daily"] == 1 and home["max"] == 2
    assert all(len(stat["hourly"]) == 24 for stat in home["stats"])


async def test_the_client_reads_the_dimension_pages(client: GoatcounterApiClient) -> None:
    start = DAY1.strftime("%Y-%m-%d")
    browsers = no_error_keys(await client.get_stats_browsers(start=start))
    assert [(s["id"], s["count"]) for s in browsers["stats"]] == [("Firefox", 3), ("Chrome", 2)]
    systems = await client.get_stats_systems(start=start)
    assert {s["name"]: s["count"] for s in systems["stats"]} == {"Linux": 3, "Windows": 2}
    sizes = await client.get_stats_sizes(start=start)
    assert {s["id"]: s["count"] for s in sizes["stats"]} == {
        "desktophd": 2,
        "phone": 1,
        "unknown": 2,
    }
    locations = await client.get_stats_locations(start=start)
    assert {s["id"]: s["count"] for s in locations["stats"]} == {"US": 2, "NL": 1, "(unknown)": 2}
    refs = await client.get_stats_refs(start=start)
    assert [(s["name"], s["count"], s["ref_scheme"]) for s in refs["stats"]] == [
        ("", 2, None),  # GoatCounter's empty referrer: the direct visit to / and the event
        ("news.example", 2, "h"),
        ("mail", 1, "c"),
    ]


async def test_refusals_reach_the_client_as_errors(base_url: str, store: Store) -> None:
    foreign = await new_token(store, perms="count", namespaces="site.com")
    api = GoatcounterApiClient("site.com", foreign, base_url_template=base_url)
    with pytest.raises(GoatcounterApiClientError, match="403"):
        await api.get_stats_total()
    await api.close()
