"""/api/v0 authentication, permissions, the error format and body limits, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from counter import Settings, Store
from tests.apikit import Clock, api_client, bearer, new_token
from tests.servers import RedisProcess

RATE_HEADERS = ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")


@pytest.fixture
async def http(settings: Settings, store: Store, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings, clock=Clock()) as client:
        yield client


def assert_error(response: httpx.Response, status: int) -> None:
    """The error format: JSON, exactly one of error (a string) / errors (an object)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert ("error" in body) != ("errors" in body), body
    if "error" in body:
        assert isinstance(body["error"], str) and body["error"]
    else:
        assert all(isinstance(v, list) and v for v in body["errors"].values())


async def test_me_describes_the_token(http: httpx.AsyncClient, store: Store) -> None:
    secret = await new_token(store, "deploy", "count,read", "site.com,blog.site.com")
    response = await http.get("/api/v0/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "deploy"
    assert body["permissions"] == ["count", "read"]
    assert body["namespaces"] == ["blog.site.com", "site.com"]
    assert "error" not in body and "errors" not in body
    assert all(name in response.headers for name in RATE_HEADERS)
    basic = await http.get("/api/v0/me", auth=("", secret))  # GoatCounter's browser form
    assert basic.status_code == 200 and basic.json()["name"] == "deploy"
    assert (await http.get("/api/v0/me", auth=("someone", secret))).status_code == 401


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer cnt_not-a-real-token",
        "Basic dXNlcjpwYXNz",
        "Basic !!!",
        "Token abc",
        "Bearer " + "x" * 500,
    ],
)
async def test_missing_or_unknown_token_is_401(
    http: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await http.get("/api/v0/me", headers=headers)
    assert_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert all(name in response.headers for name in RATE_HEADERS)


async def test_a_revoked_token_stops_working(http: httpx.AsyncClient, store: Store) -> None:
    secret = await new_token(store, "short-lived")
    assert (await http.get("/api/v0/me", headers=bearer(secret))).status_code == 200
    assert await store.delete_token("short-lived")
    assert_error(await http.get("/api/v0/me", headers=bearer(secret)), 401)


async def test_missing_permission_or_namespace_is_403(
    http: httpx.AsyncClient, store: Store
) -> None:
    counting = bearer(await new_token(store, "counting", "count", "site.com"))
    hits = {"no_sessions": True, "hits": [{"path": "/x"}]}
    assert_error(await http.post("/api/v0/export", headers=counting), 403)
    assert_error(await http.get("/api/v0/counters", headers=counting), 403)
    assert_error(await http.delete("/api/v0/counters/site.com/abc", headers=counting), 403)
    other = {**hits, "namespace": "other.com"}
    assert_error(await http.post("/api/v0/count", headers=counting, json=other), 403)
    assert (await http.post("/api/v0/count", headers=counting, json=hits)).status_code == 202
    reader = bearer(await new_token(store, "reader", "read", "site.com"))
    assert_error(await http.post("/api/v0/count", headers=reader, json=hits), 403)
    assert_error(await http.get("/api/v0/counters/other.com/x-y", headers=reader), 403)


async def test_namespace_is_required_when_the_token_has_several(
    http: httpx.AsyncClient, store: Store
) -> None:
    several = bearer(await new_token(store, "several", "count", "a-site.com,b-site.com"))
    hits = {"no_sessions": True, "hits": [{"path": "/x"}]}
    response = await http.post("/api/v0/count", headers=several, json=hits)
    assert_error(response, 400)
    assert "namespace" in response.json()["errors"]
    every = bearer(await new_token(store, "every", "count", "*"))
    assert_error(await http.post("/api/v0/count", headers=every, json=hits), 400)
    chosen = {**hits, "namespace": "any.where"}
    assert (await http.post("/api/v0/count", headers=every, json=chosen)).status_code == 202
    bad = {**hits, "namespace": "{slot}"}
    assert_error(await http.post("/api/v0/count", headers=every, json=bad), 400)


async def test_unknown_route_and_method_are_json_with_rate_headers(
    http: httpx.AsyncClient, store: Store
) -> None:
    headers = bearer(await new_token(store))
    missing = await http.get("/api/v0/no-such-thing", headers=headers)
    assert_error(missing, 404)
    assert missing.json() == {"error": "not found"}
    assert all(name in missing.headers for name in RATE_HEADERS)
    wrong_method = await http.get("/api/v0/count", headers=headers)
    assert_error(wrong_method, 405)
    assert all(name in wrong_method.headers for name in RATE_HEADERS)
    assert_error(await http.get("/api/v0/export/12345", headers=headers), 404)
    assert_error(await http.get("/api/v0/export/not-a-number", headers=headers), 404)


async def test_errors_are_json_whatever_the_content_type(
    http: httpx.AsyncClient, store: Store
) -> None:
    secret = await new_token(store)
    auth = {"Authorization": f"Bearer {secret}"}
    form = await http.post(
        "/api/v0/count",
        headers={**auth, "Content-Type": "application/x-www-form-urlencoded"},
        content=b"hits=1",
    )
    assert_error(form, 415)
    text = await http.post(
        "/api/v0/count", headers={**auth, "Content-Type": "text/plain"}, content=b"{}"
    )
    assert_error(text, 415)
    broken = await http.post("/api/v0/count", headers=bearer(secret), content=b"{not json")
    assert_error(broken, 400)
    array = await http.post("/api/v0/count", headers=bearer(secret), content=b"[]")
    assert_error(array, 400)


async def test_body_over_the_limit_is_413(settings: Settings, store: Store) -> None:
    headers = bearer(await new_token(store))
    async with api_client(settings.with_changes(api_max_body_bytes=200)) as http:
        big = {"no_sessions": True, "hits": [{"path": "/" + "a" * 300}]}
        assert_error(await http.post("/api/v0/count", headers=headers, json=big), 413)

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(10):
                yield b" " * 50

        streamed = await http.post("/api/v0/count", headers=headers, content=chunks())
        assert_error(streamed, 413)
    assert await store.last_hit_id("site.com") == 0


async def test_cors_preflight_is_answered_and_not_charged(
    http: httpx.AsyncClient, store: Store
) -> None:
    headers = bearer(await new_token(store))
    first = await http.post("/api/v0/count", headers=headers, json={"hits": []})
    remaining = int(first.headers["x-rate-limit-remaining"])
    for _ in range(3):
        preflight = await http.options(
            "/api/v0/count",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
            },
        )
        assert preflight.status_code == 204
        assert "authorization" in preflight.headers["access-control-allow-headers"]
        assert "x-rate-limit-limit" not in preflight.headers
    second = await http.post("/api/v0/count", headers=headers, json={"hits": []})
    assert int(second.headers["x-rate-limit-remaining"]) == remaining - 1
    exposed = second.headers["access-control-expose-headers"]
    assert "X-Rate-Limit-Remaining" in exposed and "Retry-After" in exposed


async def test_redis_down_is_503_without_internals(
    tmp_path_factory: pytest.TempPathFactory, prefix: str, tmp_path: object
) -> None:
    server = RedisProcess(tmp_path_factory.mktemp("redis-down")).start()
    settings = Settings(redis_url=server.url, prefix=prefix)
    try:
        async with api_client(settings) as http:
            server.stop()
            response = await http.get("/api/v0/me", headers=bearer("cnt_whatever"))
            assert_error(response, 503)
            assert "Connection" not in response.json()["error"]
            assert "6379" not in response.text and str(server.port) not in response.text
    finally:
        server.stop()


async def test_an_unexpected_store_reply_is_500_without_internals(
    http: httpx.AsyncClient, store: Store
) -> None:
    headers = bearer(await new_token(store))
    await store.redis.set(store.keys.hit_log("site.com"), "not a stream")  # corrupted state
    body = {"no_sessions": True, "hits": [{"path": "/x"}]}
    response = await http.post("/api/v0/count", headers=headers, json=body)
    assert_error(response, 500)
    assert response.json() == {"error": "internal error"}
