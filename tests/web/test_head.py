"""HEAD on a writing CountAPI route answers without writing (link checkers, prefetchers)."""

from __future__ import annotations

import httpx


async def test_head_never_counts(client: httpx.AsyncClient) -> None:
    for url in (
        "/hit/headed",
        "/hit/space/headed",
        "/hit/headed?callback=cb",
        "/update/headed?amount=5",
        "/set/headed?value=9",
        "/create?key=headed",
    ):
        answer = await client.head(url)
        assert answer.status_code == 405, url
        assert "GET" in answer.headers["allow"]
    assert (await client.get("/get/headed")).status_code == 404  # nothing was created
    assert (await client.get("/hit/headed")).json() == {"value": 1}
    assert (await client.head("/hit/headed")).status_code == 405
    assert (await client.head("/get/headed")).status_code == 200  # reads may be HEAD
    assert (await client.head("/info/headed")).status_code == 200
    assert (await client.get("/get/headed")).json() == {"value": 1}
