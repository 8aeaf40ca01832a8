"""Snapshot import under abuse: all or nothing, ASCII digits, real dates, bounded work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from counter import Settings, Store
from counter.api.snapshot_import import MAX_CONCURRENT_IMPORTS, MAX_DAILY_ENTRIES, MAX_LINE_BYTES
from tests.apikit import Clock, api_client, bearer, new_token

NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture
async def http(settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings, clock=Clock()) as client:
        yield client


@pytest.fixture
async def headers(store: Store) -> dict[str, str]:
    return {**bearer(await new_token(store, "admin", "read,manage", "site.com")), **NDJSON}


def lines(count: int) -> list[bytes]:
    return [orjson.dumps({"key": f"line-{n}", "value": 10 + n}) for n in range(count)]


@pytest.mark.parametrize(
    "bad_day",
    [
        "\uff12\uff10\uff12\uff16-01-01",  # fullwidth digits: Python's \d took them, Lua did not
        "\u0662\u0660\u0662\u0666-\u0660\u0661-\u0660\u0661",  # Arabic-Indic digits
        "2026-13-45",
        "2026-02-30",
        "0000-01-01",
    ],
)
async def test_a_refused_import_writes_nothing(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store, bad_day: str
) -> None:
    await store.put("site.com", "line-0", 7, now=1)
    bad = orjson.dumps({"key": "bad", "value": 1, "daily": {"2026-01-01": 1, bad_day: 2}})
    body = b"\n".join([*lines(250), bad])
    refused = await http.post("/api/v0/snapshot/site.com", headers=headers, content=body)
    assert refused.status_code == 400
    assert list(refused.json()["errors"]) == ["line 251"]
    assert (await http.get("/get/site.com/line-0")).json() == {"value": 7}  # not replaced
    for n in (1, 100, 249):
        assert (await http.get(f"/get/site.com/line-{n}")).status_code == 404


async def test_numbers_are_ascii_digits_only(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for limit in ("\u00b2", "\u0661\u0662", "\uff11\uff12", "1_0"):
        answer = await http.get(
            "/api/v0/counters", params={"namespace": "site.com", "limit": limit}, headers=headers
        )
        assert answer.status_code == 400, limit
        assert "limit" in answer.json()["errors"]


async def test_import_bounds_each_line(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    days = {f"{year:04d}-{month:02d}-{day:02d}": 1 for year in range(1990, 2030)
            for month in range(1, 13) for day in range(1, 11)}  # fmt: skip
    assert len(days) > MAX_DAILY_ENTRIES
    long_history = orjson.dumps({"key": "long", "value": 1, "daily": days})
    huge = b'{"key": "huge", "value": 1, "pad": "' + b"x" * MAX_LINE_BYTES + b'"}'
    for line, message in ((long_history, "more than"), (huge, "longer than")):
        refused = await http.post("/api/v0/snapshot/site.com", headers=headers, content=line)
        assert refused.status_code == 400
        assert message in refused.json()["errors"]["line 1"][0]
    fine = await http.post(
        "/api/v0/snapshot/site.com", headers=headers, content=b"\n".join(lines(1000))
    )
    assert fine.json() == {"namespace": "site.com", "imported": 1000}
    assert (await http.get("/get/site.com/line-999")).json() == {"value": 1009}


async def test_concurrent_imports_are_bounded(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield lines(1)[0] + b"\n"
        await release.wait()
        yield lines(2)[1] + b"\n"

    slow = [
        asyncio.create_task(
            http.post("/api/v0/snapshot/site.com", headers=headers, content=slow_body())
        )
        for _ in range(MAX_CONCURRENT_IMPORTS)
    ]
    await asyncio.sleep(0.2)  # both are now reading their bodies
    busy = await http.post("/api/v0/snapshot/site.com", headers=headers, content=lines(1)[0])
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert "retry later" in busy.json()["error"]
    release.set()
    for task in slow:
        assert (await task).json()["imported"] == 2
