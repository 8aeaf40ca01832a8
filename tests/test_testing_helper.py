"""``counter.testing``, the helper we offer embedders (the one place fakeredis belongs)."""

from __future__ import annotations

import httpx

import counter
from counter.testing import create_test_app


async def test_the_test_app_serves_the_real_routes_in_memory() -> None:
    app = create_test_app()
    async with (
        counter.lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        assert (await client.get("/hit/my-page")).json() == {"value": 1}
        assert (await client.get("/hit/my-page")).json() == {"value": 2}
        created = await client.get("/create", params={"key": "resettable", "enable_reset": "1"})
        assert created.status_code == 200
        assert (await client.get("/set/resettable", params={"value": 9})).json() == {
            "old_value": 0,
            "value": 9,
        }
        info = (await client.get("/info/my-page")).json()
        assert info["value"] == 2 and info["enable_reset"] is False
        assert (await client.get("/stats")).json()["keys_created"] == 2


async def test_each_test_app_starts_empty() -> None:
    for _ in range(2):
        app = create_test_app()
        async with (
            counter.lifespan(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ) as client,
        ):
            assert (await client.get("/hit/fresh-page")).json() == {"value": 1}
