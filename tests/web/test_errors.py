"""The one pair of JSON error handlers, as each app answers with it: same body, own headers."""

from __future__ import annotations

import httpx

from counter.engine.store import Store
from counter.settings import Settings
from tests.apikit import api_client, bearer, new_token

ORIGIN = {"Origin": "https://example.org"}


async def test_public_routing_errors_are_json_with_cors_and_no_cache_header(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/no/such/route/here", headers=ORIGIN)
    assert (missing.status_code, missing.json()) == (404, {"error": "not found"})
    assert missing.headers["content-type"] == "application/json"
    assert missing.headers["access-control-allow-origin"] == "*"
    assert "cache-control" not in missing.headers  # the public routes never added one

    wrong_method = await client.post("/hit/errors-page", headers=ORIGIN)
    assert (wrong_method.status_code, wrong_method.json()) == (405, {"error": "method not allowed"})
    assert wrong_method.headers["access-control-allow-origin"] == "*"
    assert "GET" in wrong_method.headers["allow"]


async def test_api_routing_errors_keep_no_store_and_allow(settings: Settings, store: Store) -> None:
    headers = bearer(await new_token(store))
    async with api_client(settings, headers=headers) as http:
        missing = await http.get("/api/v0/no-such-route")
        assert (missing.status_code, missing.json()) == (404, {"error": "not found"})
        assert missing.headers["cache-control"] == "no-store"
        assert missing.headers["content-type"] == "application/json"
        wrong_method = await http.delete("/api/v0/me")
        assert (wrong_method.status_code, wrong_method.json()) == (
            405,
            {"error": "method not allowed"},
        )
        assert wrong_method.headers["cache-control"] == "no-store"
        assert "GET" in wrong_method.headers["allow"]
