"""Rate limits over HTTP with a settable clock: per token on /api/v0, per client IP on the
public routes (off by default; loopback exempt; X-Forwarded-For only from trusted proxies)."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis

from counter import ConfigError, Settings, Store
from tests.apikit import Clock, api_client, bearer, new_token

ONE_HIT = {"no_sessions": True, "hits": [{"path": "/limited"}]}


async def test_count_limit_window_429_and_reset(settings: Settings, store: Store) -> None:
    clock = Clock()
    limited = settings.with_changes(api_count_limit=3, api_count_window_s=120)
    headers = bearer(await new_token(store))
    async with api_client(limited, clock=clock) as http:
        answers = [
            await http.post("/api/v0/count", headers=headers, json=ONE_HIT) for _ in range(3)
        ]
        assert [r.status_code for r in answers] == [202, 202, 202]
        assert [r.headers["x-rate-limit-remaining"] for r in answers] == ["2", "1", "0"]
        assert {r.headers["x-rate-limit-limit"] for r in answers} == {"3"}
        assert answers[0].headers["x-rate-limit-reset"] == "120"

        clock.advance(30)
        refused = await http.post("/api/v0/count", headers=headers, json=ONE_HIT)
        assert refused.status_code == 429
        assert refused.json() == {"error": "rate limited: too many requests"}
        assert refused.headers["retry-after"] == "90"
        assert refused.headers["x-rate-limit-remaining"] == "0"
        assert refused.headers["x-rate-limit-reset"] == "90"
        # A refused request changes nothing: not counted, not logged, not charged.
        assert await store.get("site.com", "limited") == 3
        assert await store.last_hit_id("site.com") == 3

        # Other routes have their own (larger) budget.
        me = await http.get("/api/v0/me", headers=headers)
        assert me.status_code == 200 and me.headers["x-rate-limit-limit"] == "300"

        clock.advance(90)
        again = await http.post("/api/v0/count", headers=headers, json=ONE_HIT)
        assert again.status_code == 202
        assert again.headers["x-rate-limit-remaining"] == "2"
    assert await store.get("site.com", "limited") == 4


async def test_each_token_has_its_own_window(settings: Settings, store: Store) -> None:
    limited = settings.with_changes(api_limit=1, api_window_s=60)
    first = bearer(await new_token(store, "first"))
    second = bearer(await new_token(store, "second"))
    async with api_client(limited, clock=Clock()) as http:
        assert (await http.get("/api/v0/me", headers=first)).status_code == 200
        assert (await http.get("/api/v0/me", headers=first)).status_code == 429
        assert (await http.get("/api/v0/me", headers=second)).status_code == 200


async def test_windows_are_shared_by_every_app_instance(settings: Settings, store: Store) -> None:
    clock = Clock()
    limited = settings.with_changes(api_limit=2, api_window_s=60)
    headers = bearer(await new_token(store))
    async with api_client(limited, clock=clock) as one, api_client(limited, clock=clock) as two:
        assert (await one.get("/api/v0/me", headers=headers)).status_code == 200
        assert (await two.get("/api/v0/me", headers=headers)).status_code == 200
        assert (await one.get("/api/v0/me", headers=headers)).status_code == 429


async def test_requests_without_a_token_are_charged_to_their_ip(
    settings: Settings, store: Store
) -> None:
    limited = settings.with_changes(api_limit=2, api_window_s=60)
    async with api_client(limited, clock=Clock(), client=("198.51.100.7", 4000)) as http:
        statuses = [(await http.get("/api/v0/me")).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


async def test_public_ip_limit_is_off_by_default(settings: Settings, redis: Redis) -> None:
    async with api_client(settings, client=("203.0.113.9", 4000)) as http:
        for _ in range(5):
            response = await http.get("/hit/default-limit")
            assert response.status_code == 200
            assert "x-rate-limit-limit" not in response.headers
        assert "PublicIpLimit" not in repr(http.app.user_middleware)  # type: ignore[attr-defined]


async def test_public_ip_limit_when_on(settings: Settings, store: Store) -> None:
    clock = Clock()
    limited = settings.with_changes(public_ip_limit=2, public_ip_window_s=60)
    async with api_client(limited, clock=clock, client=("203.0.113.9", 4000)) as http:
        first = await http.get("/hit/ip-limited")
        assert first.status_code == 200 and first.headers["x-rate-limit-remaining"] == "1"
        assert (await http.get("/get/ip-limited")).status_code == 200
        refused = await http.get("/hit/ip-limited")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "60"
        assert refused.headers["x-rate-limit-remaining"] == "0"
        assert refused.headers["access-control-allow-origin"] == "*"
        assert await store.get("default", "ip-limited") == 1  # the refused hit did not count
        assert (await http.get("/healthz")).status_code == 200  # not a public counter route
        clock.advance(60)
        assert (await http.get("/hit/ip-limited")).status_code == 200
    async with api_client(limited, clock=clock, client=("127.0.0.1", 4000)) as local:
        for _ in range(4):
            response = await local.get("/hit/ip-limited")
            assert response.status_code == 200 and "x-rate-limit-limit" not in response.headers
    async with api_client(limited, clock=clock, client=("::1", 4000)) as local6:
        assert all([(await local6.get("/get/ip-limited")).status_code == 200 for _ in range(4)])


async def test_forwarded_for_only_from_trusted_proxies(settings: Settings, redis: Redis) -> None:
    clock = Clock()
    proxy = ("10.0.0.5", 4000)
    spoof = {"X-Forwarded-For": "198.51.100.1"}
    untrusted = settings.with_changes(public_ip_limit=1)
    async with api_client(untrusted, clock=clock, client=proxy) as http:
        assert (await http.get("/get/xff-a", headers=spoof)).status_code == 404
        # The header is ignored: both requests are the proxy's own address.
        other = {"X-Forwarded-For": "198.51.100.2"}
        assert (await http.get("/get/xff-a", headers=other)).status_code == 429
    trusted = settings.with_changes(public_ip_limit=1, trusted_proxies="10.0.0.0/8")
    async with api_client(trusted, clock=clock, client=proxy) as http:
        first = {"X-Forwarded-For": "192.0.2.1, 10.0.0.9"}  # client, then an inner proxy
        assert (await http.get("/get/xff-b", headers=first)).status_code == 404
        assert (await http.get("/get/xff-b", headers=first)).status_code == 429
        second = {"X-Forwarded-For": "192.0.2.2"}
        assert (await http.get("/get/xff-b", headers=second)).status_code == 404
        loopback = {"X-Forwarded-For": "127.0.0.1"}
        assert (await http.get("/get/xff-b", headers=loopback)).status_code == 404
        assert (await http.get("/get/xff-b", headers=loopback)).status_code == 404


async def test_rate_headers_use_the_redis_clock_without_an_injected_one(
    settings: Settings, store: Store
) -> None:
    headers = bearer(await new_token(store))
    async with api_client(settings.with_changes(api_window_s=30)) as http:
        response = await http.get("/api/v0/me", headers=headers)
    assert response.headers["x-rate-limit-remaining"] == "299"
    assert 1 <= int(response.headers["x-rate-limit-reset"]) <= 30
    assert isinstance(http, httpx.AsyncClient)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("COUNTER_TRUSTED_PROXIES", "10.0.0.0/8, not-an-ip", "COUNTER_TRUSTED_PROXIES"),
        ("COUNTER_PUBLIC_IP_LIMIT", "-1", "COUNTER_PUBLIC_IP_LIMIT"),
        ("COUNTER_API_COUNT_LIMIT", "0", "COUNTER_API_COUNT_LIMIT"),
        ("COUNTER_API_WINDOW_S", "soon", "COUNTER_API_WINDOW_S must be an integer"),
    ],
)
def test_bad_limit_settings_fail_at_start_up(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({variable: value})
