"""The CountAPI-compatible routes through the real HTTP stack (ASGI) on a real Redis."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from redis.asyncio import Redis

from counter import __version__

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


async def create(client: httpx.AsyncClient, **params: object) -> httpx.Response:
    response = await client.get("/create", params=params)
    assert response.status_code == 200, response.text
    return response


async def test_hit_creates_then_increments(client: httpx.AsyncClient) -> None:
    first = await client.get("/hit/visits")
    assert first.status_code == 200
    assert first.json() == {"value": 1}
    assert first.headers["x-path"] == "default/visits"
    second = await client.get("/hit/site.com/visits")
    assert second.json() == {"value": 1}
    assert second.headers["x-path"] == "site.com/visits"
    assert (await client.get("/hit/visits")).json() == {"value": 2}
    info = (await client.get("/info/visits")).json()
    assert info["enable_reset"] is False
    assert (info["update_lowerbound"], info["update_upperbound"]) == (0, 1)


async def test_get(client: httpx.AsyncClient) -> None:
    missing = await client.get("/get/nothing-here")
    assert (missing.status_code, missing.json()) == (404, {"value": None})
    assert missing.headers["x-path"] == "default/nothing-here"
    await client.get("/hit/ns1/page")
    found = await client.get("/get/ns1/page")
    assert (found.status_code, found.json()) == (200, {"value": 1})


async def test_create_defaults(client: httpx.AsyncClient) -> None:
    body = (await create(client)).json()
    assert set(body) == {"namespace", "key", "value"}
    assert body["namespace"] == "default" and body["value"] == 0
    assert len(body["key"]) == 36  # a UUID4
    info = (await client.get(f"/info/{body['key']}")).json()
    assert info["enable_reset"] is False
    assert (info["update_lowerbound"], info["update_upperbound"]) == (-1, 1)


async def test_create_with_options_and_conflict(client: httpx.AsyncClient) -> None:
    response = await create(
        client,
        namespace="my.site",
        key="clicks",
        value=42,
        enable_reset="true",
        update_lowerbound=-5,
        update_upperbound=10,
    )
    assert response.json() == {"namespace": "my.site", "key": "clicks", "value": 42}
    assert response.headers["x-path"] == "my.site/clicks"
    again = await client.get("/create", params={"namespace": "my.site", "key": "clicks"})
    assert again.status_code == 409
    assert again.json() == {"namespace": None, "key": None, "value": None}
    info = (await client.get("/info/my.site/clicks")).json()
    assert info["value"] == 42 and info["enable_reset"] is True
    assert (info["update_lowerbound"], info["update_upperbound"]) == (-5, 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("true", True), ("0", False), ("false", False), ("TRUE", True)],
)
async def test_enable_reset_spellings(client: httpx.AsyncClient, text: str, expected: bool) -> None:
    await create(client, key="resettable", enable_reset=text)
    assert (await client.get("/info/resettable")).json()["enable_reset"] is expected


async def test_update_within_and_outside_bounds(client: httpx.AsyncClient) -> None:
    await create(client, key="score", value=10, update_lowerbound=-3, update_upperbound=5)
    assert (await client.get("/update/score", params={"amount": 5})).json() == {"value": 15}
    assert (await client.get("/update/score", params={"amount": -3})).json() == {"value": 12}
    refused = await client.get("/update/score", params={"amount": 6})
    assert (refused.status_code, refused.json()) == (403, {"value": 12})
    refused = await client.get("/update/score", params={"amount": -4})
    assert (refused.status_code, refused.json()) == (403, {"value": 12})
    missing = await client.get("/update/nope-nope", params={"amount": 1})
    assert (missing.status_code, missing.json()) == (404, {"value": None})


async def test_set(client: httpx.AsyncClient) -> None:
    await create(client, key="resettable", value=3, enable_reset=1)
    await create(client, key="locked", value=7)
    ok = await client.get("/set/resettable", params={"value": -20})
    assert (ok.status_code, ok.json()) == (200, {"old_value": 3, "value": -20})
    locked = await client.get("/set/locked", params={"value": 1})
    assert (locked.status_code, locked.json()) == (403, {"old_value": 7, "value": 7})
    assert (await client.get("/get/locked")).json() == {"value": 7}
    missing = await client.get("/set/nobody-here", params={"value": 1})
    assert (missing.status_code, missing.json()) == (404, {"old_value": None, "value": None})


async def test_hit_refused_when_upper_bound_is_zero(client: httpx.AsyncClient) -> None:
    await create(client, key="frozen", value=5, update_upperbound=0)
    refused = await client.get("/hit/frozen")
    assert (refused.status_code, refused.json()) == (403, {"value": 5})


async def test_info_fields(client: httpx.AsyncClient) -> None:
    await create(client, key="described", value=9)
    info = await client.get("/info/described")
    body = info.json()
    assert list(body) == [
        "namespace",
        "key",
        "ttl",
        "created",
        "update_lowerbound",
        "update_upperbound",
        "enable_reset",
        "value",
    ]
    assert body["namespace"] == "default" and body["key"] == "described" and body["value"] == 9
    assert 15_778_700_000 < body["ttl"] <= 15_778_800_000
    assert body["created"] > 1_700_000_000_000
    missing = await client.get("/info/not-described")
    assert missing.status_code == 404
    assert missing.json() == dict.fromkeys(body)


async def test_int64_range_is_exact(client: httpx.AsyncClient) -> None:
    await create(
        client,
        key="big",
        value=INT64_MAX - 1,
        update_upperbound=INT64_MAX,
        update_lowerbound=INT64_MIN,
        enable_reset=1,
    )
    assert (await client.get("/hit/big")).json() == {"value": INT64_MAX}
    overflow = await client.get("/hit/big")
    assert (overflow.status_code, overflow.json()) == (403, {"value": INT64_MAX})
    overflow = await client.get("/update/big", params={"amount": 1})
    assert (overflow.status_code, overflow.json()) == (403, {"value": INT64_MAX})
    assert (await client.get("/get/big")).json() == {"value": INT64_MAX}
    await client.get("/set/big", params={"value": INT64_MIN + 2})
    assert (await client.get("/update/big", params={"amount": -2})).json() == {"value": INT64_MIN}
    underflow = await client.get("/update/big", params={"amount": -1})
    assert (underflow.status_code, underflow.json()) == (403, {"value": INT64_MIN})
    # 2^53 + 1 is where a double would silently round
    await client.get("/set/big", params={"value": 2**53})
    assert (await client.get("/hit/big")).json() == {"value": 2**53 + 1}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/hit/aa", "Malformed Namespace/Key"),
        ("/hit/aa/valid", "Malformed Namespace/Key"),
        ("/get/" + "x" * 65, "Malformed Namespace/Key"),
        ("/hit/bad%20name", "Malformed Namespace/Key"),
        ("/hit/%7Bslot%7D", "Malformed Namespace/Key"),
        ("/create?key=aa", "Malformed Namespace/Key"),
        ("/create?namespace=aa", "Malformed Namespace/Key"),
        ("/create?update_upperbound=-1", "update_upperbound must be positive"),
        ("/create?update_lowerbound=1", "update_lowerbound must be negative"),
        ("/create?value=1.5", "value must be an integer"),
        ("/create?value=9223372036854775808", "value must fit in a signed 64-bit integer"),
        ("/create?enable_reset=maybe", "enable_reset must be 1, 0, true or false"),
        ("/update/some-key", "amount is required"),
        ("/update/some-key?amount=abc", "amount must be an integer"),
        ("/update/some-key?amount=1e3", "amount must be an integer"),
        ("/set/some-key", "value is required"),
        ("/set/some-key?value=-9223372036854775809", "value must fit in a signed 64-bit integer"),
    ],
)
async def test_bad_input_is_400_with_error(
    client: httpx.AsyncClient, redis: Redis, prefix: str, url: str, message: str
) -> None:
    response = await client.get(url)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert message in response.json()["error"]
    # nothing written (the request counter of /stats may flush at any moment: not a write)
    written = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    assert [key for key in written if key != f"{prefix}stats".encode()] == []


async def test_cors_and_preflight(client: httpx.AsyncClient) -> None:
    response = await client.get("/hit/cors-key", headers={"Origin": "https://a.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "X-Path" in response.headers["access-control-expose-headers"]
    preflight = await client.options(
        "/hit/cors-key",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert (await client.get("/get/cors-key")).json() == {"value": 1}  # preflight counted nothing


async def test_jsonp(client: httpx.AsyncClient) -> None:
    ok = await client.get("/hit/jsonp-key", params={"callback": "cb.handle_1"})
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("application/javascript")
    assert ok.text == 'cb.handle_1({"value":1,"status":200});'
    missing = await client.get("/get/absent-key", params={"callback": "cb"})
    assert (missing.status_code, missing.text) == (200, 'cb({"value":null,"status":404});')
    bad = await client.get("/get/aa", params={"callback": "cb"})
    assert bad.status_code == 200 and '"status":400' in bad.text


@pytest.mark.parametrize("callback", ["alert(1)", "a;b", "x</script>", "1abc", "", "a" * 200])
async def test_jsonp_rejects_unsafe_callbacks(client: httpx.AsyncClient, callback: str) -> None:
    response = await client.get("/hit/jsonp-key", params={"callback": callback})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert (await client.get("/get/jsonp-key")).status_code == 404  # the hit never ran


async def test_img_returns_gif_after_running(client: httpx.AsyncClient) -> None:
    for query in ("img", "img=1"):
        response = await client.get(f"/hit/pixel-key?{query}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/gif"
        assert response.content.startswith(b"GIF89a")
        assert response.headers["x-path"] == "default/pixel-key"
    assert (await client.get("/get/pixel-key")).json() == {"value": 2}


async def test_host_and_pathname_substitution(client: httpx.AsyncClient) -> None:
    headers = {
        "Origin": "https://www.example.com:8443",
        "Referer": "https://www.example.com/blog/a-post?x=1",
    }
    response = await client.get("/hit/:HOST:/:PATHNAME:", headers=headers)
    assert response.headers["x-path"] == "www.example.com/bloga-post"
    only_referer = await client.get("/hit/:HOST:/x-y", headers={"Referer": "http://b.org/p"})
    assert only_referer.headers["x-path"] == "b.org/x-y"
    root = await client.get("/hit/:HOST:/:PATHNAME:", headers={"Referer": "http://c.io/"})
    assert root.headers["x-path"] == "c.io/..."
    nothing = await client.get("/hit/:HOST:/:PATHNAME:")
    assert nothing.headers["x-path"] == ".../..."
    long_path = "/" + "p" * 100
    cut = await client.get("/hit/:PATHNAME:", headers={"Referer": f"http://d.io{long_path}"})
    assert cut.headers["x-path"] == "default/" + "p" * 64
    created = await client.get(
        "/create?namespace=:HOST:&key=k-1", headers={"Origin": "https://e.net"}
    )
    assert created.json()["namespace"] == "e.net"


async def test_stats_counts_requests_creates_and_updates(client: httpx.AsyncClient) -> None:
    before = (await client.get("/stats")).json()
    assert set(before) == {"keys_created", "keys_updated", "requests", "version"}
    assert before["version"] == __version__
    await client.get("/hit/stat-key")  # created + updated
    await client.get("/hit/stat-key")  # updated
    await create(client, key="stat-other")  # created
    after = (await client.get("/stats")).json()
    assert after["keys_created"] - before["keys_created"] == 2
    assert after["keys_updated"] - before["keys_updated"] == 2
    assert after["requests"] - before["requests"] == 4  # three above plus the /stats itself


async def test_unknown_route_and_method_are_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/hit/a-b/c-d/e-f")
    assert (missing.status_code, missing.json()) == (404, {"error": "not found"})
    wrong = await client.post("/hit/some-key")
    assert (wrong.status_code, wrong.json()) == (405, {"error": "method not allowed"})


async def test_concurrent_hits_are_exact(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(client.get("/hit/busy-key") for _ in range(300)))
    assert all(r.status_code == 200 for r in responses)
    assert sorted(r.json()["value"] for r in responses) == list(range(1, 301))
    assert (await client.get("/get/busy-key")).json() == {"value": 300}
