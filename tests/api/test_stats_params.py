"""The stats routes: parameters as GoatCounter's clients send them, refusals as clean 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis

from counter import Settings, Store
from counter.engine.names import key_from_path
from tests.apikit import api_client, bearer, new_token

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
AT = (datetime.now(UTC) - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)


@pytest.fixture
async def http(settings: Settings, store: Store, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    secret = await new_token(store, perms="count,stats,site-read")
    async with api_client(settings.with_changes(api_limit=1000), headers=bearer(secret)) as client:
        stamp = AT.strftime("%Y-%m-%dT%H:%M:%SZ")
        hits = [
            {"path": "/a", "user_agent": FIREFOX, "created_at": stamp,
             "ref": "https://news.example/x", "location": "US-CA"},
            {"path": "/b", "user_agent": FIREFOX, "created_at": stamp},
            {"path": "/c", "user_agent": FIREFOX, "created_at": stamp, "session": "s1"},
            {"path": "/c", "user_agent": FIREFOX, "created_at": stamp, "session": "s1"},
        ]  # fmt: skip
        response = await client.post("/api/v0/count", json={"no_sessions": True, "hits": hits})
        assert response.status_code == 202
        yield client


async def test_names_are_case_insensitive_and_booleans_read_as_go_does(
    http: httpx.AsyncClient,
) -> None:
    paths = (await http.get("/api/v0/paths?Limit=1&After=1")).json()
    assert [p["path"] for p in paths["paths"]] == ["/b"] and paths["more"] is True
    for daily in ("True", "true", "1", "t", "False", "0"):
        response = await http.get(f"/api/v0/stats/hits?daily={daily}&start={AT.date()}")
        assert response.status_code == 200, daily
    hits = (await http.get(f"/api/v0/stats/hits?start={AT.date()}")).json()
    # a session's second view of /c is no visit: GoatCounter counts visitors
    assert {h["path"]: h["count"] for h in hits["hits"]} == {"/a": 1, "/b": 1, "/c": 1}


async def test_paths_by_id_or_by_name_and_a_path_s_referrers(http: httpx.AsyncClient) -> None:
    by_id = (await http.get(f"/api/v0/stats/hits?start={AT.date()}&include_paths=1,3")).json()
    assert sorted(h["path"] for h in by_id["hits"]) == ["/a", "/c"] and by_id["total"] == 2
    excluded = (await http.get(f"/api/v0/stats/hits?start={AT.date()}&exclude_paths=1")).json()
    assert sorted(h["path"] for h in excluded["hits"]) == ["/b", "/c"]
    by_name = await http.get(
        f"/api/v0/stats/total?start={AT.date()}&include_paths=/b&path_by_name=true"
    )
    assert by_name.json()["total"] == 1
    refs = (await http.get(f"/api/v0/stats/hits/1?start={AT.date()}")).json()
    assert refs == {
        "refs": [{"name": "news.example/x", "count": 1, "ref_scheme": "h"}],
        "more": False,
    }
    detail = (await http.get(f"/api/v0/stats/locations/US?start={AT.date()}")).json()
    assert detail == {"stats": [{"name": "US-CA", "count": 1}], "more": False}
    browsers = (await http.get(f"/api/v0/stats/browsers/Firefox?start={AT.date()}")).json()
    assert browsers["stats"] == [{"name": "Firefox 133", "count": 3}]


async def test_referrers_filter_by_path_and_direct_visits_are_the_empty_referrer(
    http: httpx.AsyncClient,
) -> None:
    async def refs(query: str) -> list[tuple[str, str, int, str | None]]:
        response = await http.get(f"/api/v0/stats/toprefs{query}&start={AT.date()}")
        assert response.status_code == 200, response.text
        return [
            (s.get("id"), s["name"], s["count"], s["ref_scheme"]) for s in response.json()["stats"]
        ]

    # GoatCounter's empty referrer row (its dashboard's "(no data)"): /b's and /c's visits.
    assert await refs("?limit=5") == [("", "", 2, None), ("news.example", "news.example", 1, "h")]
    assert await refs("?include_paths=1") == [("news.example", "news.example", 1, "h")]
    assert await refs("?include_paths=2,3") == [("", "", 2, None)]
    assert await refs("?include_paths=/a&path_by_name=true") == await refs("?include_paths=1")
    assert await refs("/news.example?include_paths=1") == [(None, "news.example/x", 1, "h")]
    assert await refs("/news.example?include_paths=2") == []


async def test_other_dimensions_say_why_they_cannot_filter_by_path(
    http: httpx.AsyncClient,
) -> None:
    for page in ("browsers", "systems", "sizes", "locations", "languages", "campaigns"):
        response = await http.get(f"/api/v0/stats/{page}?include_paths=1")
        assert response.status_code == 400
        assert response.json()["errors"]["include_paths"] == [
            f"{page} are counted per site and day, not per path: "
            "only toprefs can be filtered by path"
        ]


async def test_a_campaign_lists_its_referrers(http: httpx.AsyncClient) -> None:
    stamp = AT.strftime("%Y-%m-%dT%H:%M:%SZ")
    hits = [
        {"path": "/l", "user_agent": FIREFOX, "created_at": stamp, "session": f"c{n}", **fields}
        for n, fields in enumerate([
            {"query": "?utm_campaign=launch&utm_source=mail"},
            {"query": "?utm_campaign=launch&utm_source=mail"},
            {"query": "?utm_campaign=launch", "ref": "https://social.example/post"},
            {"query": "?utm_campaign=launch"},
            {"query": "?utm_campaign=other&utm_source=mail"},
        ])
    ]  # fmt: skip
    response = await http.post("/api/v0/count", json={"hits": hits})
    assert response.status_code == 202, response.text
    launch = (await http.get(f"/api/v0/stats/campaigns/launch?start={AT.date()}")).json()
    assert launch == {
        "stats": [
            {"name": "mail", "count": 2},
            {"name": "", "count": 1},
            {"name": "social.example/post", "count": 1},
        ],
        "more": False,
    }


async def test_query_values_with_control_characters_are_not_kept(http: httpx.AsyncClient) -> None:
    stamp = AT.strftime("%Y-%m-%dT%H:%M:%SZ")
    hit = {"path": "/q", "user_agent": FIREFOX, "created_at": stamp, "session": "q1",
           "query": "?utm_source=a%09b&utm_campaign=x%00y"}  # fmt: skip
    assert (await http.post("/api/v0/count", json={"hits": [hit]})).status_code == 202
    campaigns = (await http.get(f"/api/v0/stats/campaigns?start={AT.date()}")).json()
    assert campaigns["stats"] == []
    refs = (await http.get(f"/api/v0/stats/toprefs?start={AT.date()}")).json()
    assert [s["ref_scheme"] for s in refs["stats"]] == [None, "h"]  # /q's visit is direct


async def test_deleting_a_counter_leaves_the_statistics_and_group_is_not_a_parameter(
    http: httpx.AsyncClient, store: Store
) -> None:
    """Both as docs/goatcounter.md says: statistics are history, and GoatCounter has no group."""
    manage = bearer(await new_token(store, "manager", perms="manage"))
    assert await store.get("site.com", key_from_path("/a")) == 1
    deleted = await http.delete(f"/api/v0/counters/site.com/{key_from_path('/a')}", headers=manage)
    assert deleted.status_code == 204, deleted.text
    hits = (await http.get(f"/api/v0/stats/hits?start={AT.date()}")).json()
    assert {h["path"]: h["count"] for h in hits["hits"]} == {"/a": 1, "/b": 1, "/c": 1}
    counter = await http.get("/site/site.com/counter/a.json")
    assert counter.status_code == 200 and counter.json()["count"] == "1"
    grouped = await http.get(f"/api/v0/stats/hits?start={AT.date()}&group=day")
    assert grouped.status_code == 200 and grouped.json() == hits


@pytest.mark.parametrize(
    "url",
    [
        "/api/v0/stats/nothing",
        "/api/v0/stats/languages/en",
        "/api/v0/stats/hits?start=yesterday",
        "/api/v0/stats/hits?start=2026-02-30",
        "/api/v0/stats/hits?start=2026-01-10&end=2026-01-01",
        "/api/v0/stats/hits?limit=many",
        "/api/v0/stats/hits?daily=maybe",
        "/api/v0/stats/hits/abc",
        "/api/v0/stats/browsers?include_paths=1",
        "/api/v0/stats/total?include_paths=x",
        "/api/v0/paths?site=other.com",
        "/api/v0/paths?site=bad%20name",
        # The calendar's edges: these were 500s (OverflowError) until the fuzzing work.
        "/api/v0/stats/total?end=9999-12-31T23:30:00",
        "/api/v0/stats/total?end=0001-01-01",
        "/api/v0/stats/hits?start=0001-01-01T00:00:00%2B01:00",
        "/api/v0/stats/browsers?end=0001-01-03T05:00:00",
    ],
)
async def test_bad_requests_are_clean_4xx(http: httpx.AsyncClient, url: str) -> None:
    response = await http.get(url)
    assert 400 <= response.status_code < 500, (url, response.status_code)
    body = response.json()
    assert ("error" in body) != ("errors" in body)


async def test_a_token_of_several_sites_names_one(settings: Settings, store: Store) -> None:
    secret = await new_token(store, perms="stats,site-read", namespaces="a.com,b.com")
    async with api_client(settings, headers=bearer(secret)) as http:
        missing = await http.get("/api/v0/stats/total")
        assert missing.status_code == 400 and "site" in missing.json()["errors"]
        assert (await http.get("/api/v0/stats/total?site=b.com")).status_code == 200
        sites = (await http.get("/api/v0/sites")).json()["sites"]
        assert [s["code"] for s in sites] == ["a.com", "b.com"]
        one = await http.get(f"/api/v0/sites/{sites[1]['id']}")
        assert one.json()["code"] == "b.com"
        assert (await http.get(f"/api/v0/stats/total?site={sites[1]['id']}")).status_code == 200
        assert (await http.get("/api/v0/sites/12345")).status_code == 404


async def test_stats_need_the_stats_permission(settings: Settings, store: Store) -> None:
    secret = await new_token(store, perms="count")
    async with api_client(settings, headers=bearer(secret)) as http:
        assert (await http.get("/api/v0/stats/total")).status_code == 403
        assert (await http.get("/api/v0/sites")).status_code == 403
