"""POST /api/v0/count over HTTP: counters, the hit log, partial batches, idempotent retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from redis.asyncio import Redis

from counter import Settings, Store
from tests.apikit import Clock, api_client, bearer, new_token


@pytest.fixture
def api_clock() -> Clock:
    return Clock()


@pytest.fixture
async def http(
    settings: Settings, api_clock: Clock, redis: Redis
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings.with_changes(api_count_limit=1000), clock=api_clock) as client:
        yield client


@pytest.fixture
async def headers(store: Store) -> dict[str, str]:
    return bearer(await new_token(store))


async def logged(store: Store, namespace: str = "site.com") -> list[tuple[int, dict[str, str]]]:
    return await store.read_hit_log(namespace, after=0, until=10_000, count=10_000)


async def test_the_seed_example_counts_two_pages(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    body = {"no_sessions": True, "hits": [{"path": "/one"}, {"path": "/two"}]}
    response = await http.post("/api/v0/count", headers=headers, json=body)
    assert (response.status_code, response.json()) == (202, {})
    assert await store.get("site.com", "one") == 1
    assert await store.get("site.com", "two") == 1
    assert [(hit_id, entry["p"]) for hit_id, entry in await logged(store)] == [
        (1, "/one"),
        (2, "/two"),
    ]


async def test_keys_come_from_paths_as_pathname_does_and_events_by_name(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    hits = [
        {"path": "/blog/a-post?x=1"},
        {"path": "/blog/a-post?x=1"},
        {"path": "/"},
        {"path": "signup-click", "event": True, "title": "Sign up"},
    ]
    response = await http.post(
        "/api/v0/count", headers=headers, json={"no_sessions": True, "hits": hits}
    )
    assert response.status_code == 202
    assert await store.get("site.com", "bloga-postx1") == 2
    assert await store.get("site.com", "...") == 1  # '/' keeps nothing: padded like :PATHNAME:
    assert await store.get("site.com", "signup-click") == 1
    # The same key via CountAPI's placeholder, for the record.
    pathname = await http.get("/get/site.com/:PATHNAME:", headers={"Referer": "https://s/"})
    assert pathname.json() == {"value": 1}
    events = [entry for _, entry in await logged(store) if entry["e"] == "1"]
    assert [(e["p"], e["t"]) for e in events] == [("signup-click", "Sign up")]


async def test_every_field_is_logged(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store, api_clock: Clock
) -> None:
    # a past created_at (within the counters' ttl: older days are not kept)
    past = datetime.fromtimestamp(api_clock() // 1000 - 3 * 86_400, UTC)
    hit = {
        "path": "/pricing",
        "title": "Pricing",
        "ref": "https://news.example/item",
        "query": "?utm_source=mail",
        "size": [1920, 1080, 2],
        "bot": 0,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "location": "nl",
        "ip": "192.0.2.44",
        "language": "nl-NL",
        "created_at": past.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    response = await http.post("/api/v0/count", headers=headers, json={"hits": [hit]})
    assert response.status_code == 202, response.text
    [(_, entry)] = await logged(store)
    assert entry["p"] == "/pricing" and entry["t"] == "Pricing"
    assert entry["r"] == "https://news.example/item" and entry["q"] == "?utm_source=mail"
    assert entry["sz"] == "1920,1080,2" and entry["l"] == "NL" and entry["ua"] == hit["user_agent"]
    assert entry["c"] == str(int(past.timestamp() * 1000))
    assert len(entry["s"]) == 16 and "192.0.2.44" not in str(entry)  # the IP is never stored
    daily, _ = await store.history("site.com", "pricing", now=api_clock())
    assert daily == {past.strftime("%Y%m%d"): 1}  # a past created_at lands in its own day


async def test_sessions_are_required_unless_no_sessions(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    hits = [
        {"path": "/a"},
        {"path": "/a", "session": "visitor-1"},
        {
            "path": "/a",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0)",
            "ip": "192.0.2.1",
        },
        {"path": "/a", "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0)"},
    ]
    response = await http.post("/api/v0/count", headers=headers, json={"hits": hits})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"0", "3"}
    entries = await logged(store)
    assert len(entries) == 2 and all(entry["s"] for _, entry in entries)
    assert await store.get("site.com", "a..") == 2


async def test_a_partial_batch_stores_the_valid_hits(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store, api_clock: Clock
) -> None:
    await store.create("site.com", "closed", update_upperbound=0)
    future = datetime.fromtimestamp(api_clock() / 1000 + 3600, UTC).isoformat()
    hits = [
        {"path": "/ok-1"},
        {"title": "no path"},
        {"path": "/ok-2", "created_at": future},
        {"path": "/ok-3", "event": "yes"},
        {"path": "/closed"},
        "not an object",
        {"path": "/ok-4", "size": "100,200"},
        {"path": "/ok-5", "surprise": 1},
        {"path": "/ok-6", "ip": "not-an-ip", "user_agent": "x"},
        {"path": "/ok-7", "created_at": "yesterday"},
    ]
    response = await http.post(
        "/api/v0/count", headers=headers, json={"no_sessions": True, "hits": hits}
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "error" not in response.json()
    assert list(errors) == ["1", "2", "3", "4", "5", "7", "8", "9"]
    assert errors["2"] == ["created_at is in the future"]
    assert "update_upperbound" in errors["4"][0]
    assert await store.get("site.com", "ok-1") == 1
    assert await store.get("site.com", "ok-4") == 1
    assert await store.get("site.com", "closed") == 0
    assert [entry["p"] for _, entry in await logged(store)] == ["/ok-1", "/ok-4"]


async def test_control_characters_are_refused_and_not_stored(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    hits = [
        {"path": "/ok"},
        {"path": "/nul\x00"},
        {"path": "/t", "title": "a\tb"},
        {"path": "/r", "ref": "https://a.example/\x1b"},
    ]
    response = await http.post(
        "/api/v0/count", headers=headers, json={"no_sessions": True, "hits": hits}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "1": ["path must not contain control characters"],
        "2": ["title must not contain control characters"],
        "3": ["ref must not contain control characters"],
    }
    assert [entry["p"] for _, entry in await logged(store)] == ["/ok"]


@pytest.mark.parametrize("hits", [[], [{"path": "/x"}] * 501, None, {"path": "/x"}])
async def test_empty_or_oversized_batches_store_nothing(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store, hits: object
) -> None:
    body = {"no_sessions": True, "hits": hits}
    response = await http.post("/api/v0/count", headers=headers, json=body)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["hits"]
    assert await store.last_hit_id("site.com") == 0
    assert await store.namespace_keys("site.com") == []


async def test_500_hits_are_accepted(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    hits = [{"path": f"/page-{i % 50}"} for i in range(500)]
    response = await http.post(
        "/api/v0/count", headers=headers, json={"no_sessions": True, "hits": hits}
    )
    assert response.status_code == 202
    assert await store.get("site.com", "page-7") == 10
    assert await store.last_hit_id("site.com") == 500


async def test_unknown_body_fields_are_refused(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    body = {"no_sessions": True, "hits": [{"path": "/x"}], "nosessions": True}
    response = await http.post("/api/v0/count", headers=headers, json=body)
    assert (response.status_code, response.json()) == (
        400,
        {"errors": {"nosessions": ["unknown field"]}},
    )
    assert await store.last_hit_id("site.com") == 0


async def test_idempotency_key_makes_a_retry_count_once(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    body = {"no_sessions": True, "hits": [{"path": "/once"}, {"path": "/twice", "bot": -1}]}
    keyed = {**headers, "Idempotency-Key": "batch-0001"}
    first = await http.post("/api/v0/count", headers=keyed, json=body)
    retry = await http.post("/api/v0/count", headers=keyed, json=body)
    assert first.status_code == retry.status_code == 400
    assert (
        first.json() == retry.json() == {"errors": {"1": ["bot must be an integer from 0 to 255"]}}
    )
    assert retry.headers["idempotent-replayed"] == "true"
    assert await store.get("site.com", "once") == 1
    assert await store.last_hit_id("site.com") == 1

    changed = await http.post(
        "/api/v0/count", headers=keyed, json={**body, "hits": body["hits"][:1]}
    )
    assert changed.status_code == 422
    assert "error" in changed.json()

    other_key = await http.post(
        "/api/v0/count", headers={**headers, "Idempotency-Key": "b-2"}, json=body
    )
    assert other_key.status_code == 400
    assert await store.get("site.com", "once") == 2


async def test_idempotency_keys_are_per_token(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    other = bearer(await new_token(store, "other"))
    body = {"no_sessions": True, "hits": [{"path": "/shared"}]}
    for token_headers in (headers, other):
        response = await http.post(
            "/api/v0/count", headers={**token_headers, "Idempotency-Key": "same"}, json=body
        )
        assert response.status_code == 202
    assert await store.get("site.com", "shared") == 2


async def test_concurrent_retries_with_one_key_count_once(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    body = {"no_sessions": True, "hits": [{"path": f"/c-{i}"} for i in range(50)]}
    keyed = {**headers, "Idempotency-Key": "racing"}
    answers = await asyncio.gather(
        *(http.post("/api/v0/count", headers=keyed, json=body) for _ in range(5))
    )
    statuses = sorted(response.status_code for response in answers)
    assert statuses.count(202) >= 1 and set(statuses) <= {202, 409}
    assert await store.get("site.com", "c-7") == 1
    assert await store.last_hit_id("site.com") == 50


async def test_count_feeds_the_stats(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    before = (await http.get("/stats")).json()
    body = {"no_sessions": True, "hits": [{"path": "/s-1"}, {"path": "/s-1"}, {"path": "/s-2"}]}
    assert (await http.post("/api/v0/count", headers=headers, json=body)).status_code == 202
    after = (await http.get("/stats")).json()
    assert after["keys_created"] - before["keys_created"] == 2
    assert after["keys_updated"] - before["keys_updated"] == 2
