"""Counter management over HTTP: list, read with history, set/reset/delete, snapshots."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from counter import Settings, Store
from tests.apikit import Clock, api_client, bearer, new_token

INT64_MAX = 2**63 - 1


@pytest.fixture
async def http(settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings, clock=Clock()) as client:
        yield client


@pytest.fixture
async def headers(store: Store) -> dict[str, str]:
    return bearer(await new_token(store, "admin", "count,read,manage", "site.com,copy.site.com"))


async def test_list_pages_through_a_namespace_and_prunes_expired(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    for n in range(5):
        await store.hit("site.com", f"page-{n}")
    await store.hit("elsewhere", "page-9")
    first = await http.get("/api/v0/counters?namespace=site.com&limit=2", headers=headers)
    assert first.status_code == 200
    body = first.json()
    assert [c["key"] for c in body["counters"]] == ["page-0", "page-1"] and body["more"] is True
    first_counter = body["counters"][0]
    assert first_counter == {
        "namespace": "site.com",
        "key": "page-0",
        "value": 1,
        "created": first_counter["created"],
        "ttl": first_counter["ttl"],
        "enable_reset": False,
        "update_lowerbound": 0,
        "update_upperbound": 1,
    }
    await store.redis.delete(store.keys.counter("site.com", "page-3"))  # as if it expired
    rest = await http.get(
        "/api/v0/counters", params={"namespace": "site.com", "after": "page-1"}, headers=headers
    )
    assert [c["key"] for c in rest.json()["counters"]] == ["page-2", "page-4"]
    assert rest.json()["more"] is False
    assert "page-3" not in await store.namespace_keys("site.com")
    bad = await http.get("/api/v0/counters?namespace=site.com&limit=0", headers=headers)
    assert bad.status_code == 400 and "limit" in bad.json()["errors"]


async def test_read_one_with_history(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    # 20 days back: inside the counters' ttl (daily history), older than the 7 days of hourly
    past = datetime.fromtimestamp(time.time() // 1 - 20 * 86_400, UTC)
    hits = {
        "no_sessions": True,
        "hits": [{"path": "/h"}, {"path": "/h", "created_at": past.strftime("%Y-%m-%dT%H:%M:%SZ")}],
    }
    assert (
        await http.post("/api/v0/count", headers=headers, json={**hits, "namespace": "site.com"})
    ).status_code == 202
    response = await http.get("/api/v0/counters/site.com/h..", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["value"] == 2
    assert body["daily"][past.strftime("%Y-%m-%d")] == 1 and sum(body["daily"].values()) == 2
    assert sum(body["hourly"].values()) == 1  # the past hit is older than 7 days
    missing = await http.get("/api/v0/counters/site.com/none-here", headers=headers)
    assert (missing.status_code, missing.json()) == (404, {"error": "not found"})
    bad = await http.get("/api/v0/counters/site.com/x", headers=headers)
    assert bad.status_code == 400


async def test_put_sets_whatever_enable_reset_and_creates(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    await store.hit("site.com", "locked")  # enable_reset off: public /set refuses
    assert (await http.get("/set/site.com/locked?value=5")).status_code == 403
    put = await http.put("/api/v0/counters/site.com/locked", headers=headers, json={"value": 5})
    assert put.status_code == 200
    assert (put.json()["old_value"], put.json()["value"]) == (1, 5)
    created = await http.put(
        "/api/v0/counters/site.com/fresh",
        headers=headers,
        json={
            "value": INT64_MAX,
            "enable_reset": True,
            "update_lowerbound": -3,
            "update_upperbound": 3,
        },
    )
    assert created.status_code == 201 and created.json()["old_value"] is None
    info = (await http.get("/info/site.com/fresh")).json()
    assert info["value"] == INT64_MAX and info["enable_reset"] is True
    assert (info["update_lowerbound"], info["update_upperbound"]) == (-3, 3)
    assert "fresh" in await store.namespace_keys("site.com")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "value"),
        ({"value": "5"}, "value"),
        ({"value": INT64_MAX + 1}, "value"),
        ({"value": 1, "update_lowerbound": 1}, "update_lowerbound"),
        ({"value": 1, "update_upperbound": -1}, "update_upperbound"),
        ({"value": 1, "enable_reset": 1}, "enable_reset"),
        ({"value": 1, "colour": "red"}, "colour"),
    ],
)
async def test_put_validates(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    store: Store,
    body: dict[str, object],
    field: str,
) -> None:
    response = await http.put("/api/v0/counters/site.com/checked", headers=headers, json=body)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert await store.namespace_keys("site.com") == []


async def test_reset_and_delete(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    for _ in range(3):
        await store.hit("site.com", "gone-soon")
    reset = await http.post("/api/v0/counters/site.com/gone-soon/reset", headers=headers)
    assert reset.status_code == 200 and (reset.json()["old_value"], reset.json()["value"]) == (3, 0)
    assert (
        await http.post("/api/v0/counters/site.com/nothing/reset", headers=headers)
    ).status_code == 404
    deleted = await http.delete("/api/v0/counters/site.com/gone-soon", headers=headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await http.get("/get/site.com/gone-soon")).status_code == 404
    assert await store.redis.exists(store.keys.history("site.com", "gone-soon")) == 0
    assert "gone-soon" not in await store.namespace_keys("site.com")
    again = await http.delete("/api/v0/counters/site.com/gone-soon", headers=headers)
    assert again.status_code == 404


async def test_snapshot_round_trip_into_another_namespace(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    await store.create(
        "site.com", "big", value=INT64_MAX - 1, enable_reset=True, update_lowerbound=-9
    )
    for _ in range(2):
        await store.hit("site.com", "small")
    snapshot = await http.get("/api/v0/snapshot/site.com", headers=headers)
    assert snapshot.status_code == 200
    assert snapshot.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in snapshot.content.splitlines()]
    assert [(line["key"], line["value"]) for line in lines] == [
        ("big", INT64_MAX - 1),
        ("small", 2),
    ]
    assert sum(lines[1]["daily"].values()) == 2

    restored = await http.post(
        "/api/v0/snapshot/copy.site.com",
        headers={**headers, "Content-Type": "application/x-ndjson"},
        content=snapshot.content,
    )
    assert restored.status_code == 200 and restored.json() == {
        "namespace": "copy.site.com",
        "imported": 2,
    }
    big = (await http.get("/info/copy.site.com/big")).json()
    assert (
        big["value"] == INT64_MAX - 1
        and big["enable_reset"] is True
        and big["update_lowerbound"] == -9
    )
    copied = (await http.get("/api/v0/counters/copy.site.com/small", headers=headers)).json()
    assert copied["value"] == 2 and copied["daily"] == lines[1]["daily"]
    assert copied["created"] == lines[1]["created"]


async def test_snapshot_import_is_all_or_nothing(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    body = b"\n".join(
        [
            b'{"key": "fine", "value": 1}',
            b'{"key": "x", "value": 1}',
            b"not json",
            b'{"key": "day", "value": 1, "daily": {"2026/01/01": 1}}',
            b'{"key": "bounds", "value": 1, "update_upperbound": -1}',
        ]
    )
    response = await http.post(
        "/api/v0/snapshot/site.com",
        headers={**headers, "Content-Type": "application/x-ndjson"},
        content=body,
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["line 2", "line 3", "line 4", "line 5"]
    assert await store.namespace_keys("site.com") == []
    wrong_type = await http.post(
        "/api/v0/snapshot/site.com", headers={**headers, "Content-Type": "text/csv"}, content=body
    )
    assert wrong_type.status_code == 415


async def test_snapshot_needs_read_and_manage(http: httpx.AsyncClient, store: Store) -> None:
    counting = bearer(await new_token(store, "counting", "count", "site.com"))
    assert (await http.get("/api/v0/snapshot/site.com", headers=counting)).status_code == 403
    reader = bearer(await new_token(store, "reader", "read", "site.com"))
    assert (await http.get("/api/v0/snapshot/site.com", headers=reader)).status_code == 200
    line = b'{"key": "abc", "value": 1}'
    refused = await http.post("/api/v0/snapshot/site.com", headers=reader, content=line)
    assert refused.status_code == 403
