"""Exports over HTTP: gzip CSV in GoatCounter's format, cursors, any instance serves any job,
and a job whose worker dies ends in ``error``."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from counter import Settings, Store
from counter.engine.exports import SHUT_DOWN
from counter.engine.hits import CSV_HEADER, csv_row
from counter.engine.records import ExportStart, LogLimits
from counter.engine.scripts import lua_dir
from tests.apikit import Clock, api_client, api_of, bearer, new_token
from tests.conftest import Backend
from tests.servers import ServeProcess

HEADER_LINE = (
    "2Path,Title,Event,UserAgent,Browser,System,Session,Bot,Referrer,Referrer scheme,"
    "Screen size,Location,FirstVisit,Date"
)


@pytest.fixture
async def http(settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings.with_changes(api_count_limit=1000), clock=Clock()) as client:
        yield client


@pytest.fixture
async def headers(store: Store) -> dict[str, str]:
    return bearer(await new_token(store))


async def count(http: httpx.AsyncClient, headers: dict[str, str], *paths: str) -> None:
    hits = [{"path": path} for path in paths]
    response = await http.post(
        "/api/v0/count", headers=headers, json={"no_sessions": True, "hits": hits}
    )
    assert response.status_code == 202, response.text


async def finished_export(
    http: httpx.AsyncClient, headers: dict[str, str], body: dict[str, object] | None = None
) -> dict[str, object]:
    started = await http.post("/api/v0/export", headers=headers, json=body)
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["finished_at"] is None and job["failure"] is None and "error" not in job
    await api_of(http).exporter.wait(job["id"])
    polled = await http.get(f"/api/v0/export/{job['id']}", headers=headers)
    assert polled.status_code == 200
    result: dict[str, object] = polled.json()
    return result


def rows(payload: bytes) -> list[list[str]]:
    text = gzip.decompress(payload).decode()
    assert text.splitlines()[0] == HEADER_LINE
    return list(csv.reader(io.StringIO(text)))[1:]


async def test_export_everything_then_from_the_cursor(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await count(http, headers, "/one", "/two")
    await http.post(
        "/api/v0/count",
        headers=headers,
        json={
            "hits": [
                {
                    "path": "/three",
                    "title": "Three, with a comma",
                    "ref": "https://ref.example/x",
                    "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605 "
                    "(KHTML, like Gecko) Version/17.0 Safari/605.1.15",
                    "session": "s-1",
                    "size": [390, 844, 3],
                    "location": "DE",
                    "created_at": "2026-03-04T05:06:07Z",
                }
            ]
        },
    )
    job = await finished_export(http, headers)
    assert set(job) == {"id", "namespace", "start_from_hit_id", "last_hit_id", "created_at",
                        "finished_at", "num_rows", "size", "hash", "state", "failure"}  # fmt: skip
    assert (job["namespace"], job["start_from_hit_id"], job["last_hit_id"]) == ("site.com", 0, 3)
    assert job["num_rows"] == 3 and job["failure"] is None and job["finished_at"]
    assert job["state"] == "finished" and "error" not in job and "errors" not in job
    download = await http.get(f"/api/v0/export/{job['id']}/download", headers=headers)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/gzip"
    assert len(download.content) == job["size"]
    assert job["hash"] == "sha256-" + hashlib.sha256(download.content).hexdigest()
    exported = rows(download.content)
    assert [row[0] for row in exported] == ["/one", "/two", "/three"]
    assert len(exported[2]) == len(CSV_HEADER)
    assert exported[2][1:6] == [
        "Three, with a comma",
        "false",
        exported[2][3],
        "Safari 17",
        "macOS",
    ]
    assert exported[2][8:] == ["https://ref.example/x", "h", "390,844,3", "DE", "true",
                               "2026-03-04T05:06:07Z"]  # fmt: skip
    assert len(exported[2][6]) == 16  # a session digest, not what the client sent

    await count(http, headers, "/four")
    following = await finished_export(http, headers, {"start_from_hit_id": job["last_hit_id"]})
    assert (following["start_from_hit_id"], following["last_hit_id"]) == (3, 4)
    again = await http.get(f"/api/v0/export/{following['id']}/download", headers=headers)
    assert [row[0] for row in rows(again.content)] == ["/four"]

    empty = await finished_export(http, headers, {"start_from_hit_id": 4})
    assert (empty["num_rows"], empty["last_hit_id"]) == (0, 4)  # the cursor never goes back
    nothing = await http.get(f"/api/v0/export/{empty['id']}/download", headers=headers)
    assert rows(nothing.content) == []


async def test_large_export_spans_pages(settings: Settings, store: Store) -> None:
    headers = bearer(await new_token(store))
    paged = settings.with_changes(export_page_size=7, api_count_limit=1000)
    async with api_client(paged, clock=Clock()) as http:
        for start in range(0, 60, 20):
            await count(http, headers, *(f"/p-{n}" for n in range(start, start + 20)))
        job = await finished_export(http, headers, {"start_from_hit_id": 5})
        download = await http.get(f"/api/v0/export/{job['id']}/download", headers=headers)
    assert [row[0] for row in rows(download.content)] == [f"/p-{n}" for n in range(5, 60)]
    assert (job["num_rows"], job["last_hit_id"]) == (55, 60)


async def test_log_entries_written_one_hit_each_export_as_before(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store, redis: Redis
) -> None:
    """A log written by the release before (one stream entry per hit, by its own script),
    then batches: one export holds both, and the old hits' CSV rows are the rows the same
    hits give when logged as a batch."""
    old_script = Path(__file__).parent.parent / "engine/fixtures/log_hits_one_entry_per_hit.lua"
    library = "\n".join(
        (lua_dir() / "lib" / f"{name}.lua").read_text() for name in ("status", "int64")
    )
    now = api_of(http).clock()
    safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Version/17.0 Safari/605.1.15"
    old = [
        ["/old-1", "One, with a comma", "0", safari, "s1", "0", "https://r.example/x", "390,844,3",
         "DE", "?utm_source=mail", str(now - 5000)],
        ["/old-1", "One", "0", safari, "s1", "0", "", "", "", "", str(now - 4000)],
        ["/old-2", "", "1", "", "", "150", "", "", "", "", str(now - 3000)],
    ]  # fmt: skip
    keys = [
        store.keys.hit_log("site.com"),
        store.keys.hit_sequence("site.com"),
        store.keys.recent_visits("site.com"),
    ]
    argv = [orjson.dumps(old).decode(), now, 1000, 86_400_000, 3_600_000]
    reply = await redis.eval(f"{library}\n{old_script.read_text()}", 3, *keys, *argv)
    assert reply[:3] == [0, 1, 3] and await redis.xlen(keys[0]) == 3
    await count(http, headers, "/new-1", "/new-2")
    job = await finished_export(http, headers)
    assert (job["num_rows"], job["last_hit_id"]) == (5, 5)
    download = await http.get(f"/api/v0/export/{job['id']}/download", headers=headers)
    exported = rows(download.content)
    assert [row[0] for row in exported] == ["/old-1", "/old-1", "/old-2", "/new-1", "/new-2"]
    limits = LogLimits(max_entries=1000, max_age_ms=86_400_000, visit_window_ms=3_600_000)
    await store.log_hits("copy", old, now=now, limits=limits)
    copied = await store.read_hit_log("copy", after=0, until=3, count=10)
    assert exported[:3] == [csv_row(entry) for _, entry in copied]
    assert [row[12] for row in exported[:3]] == ["true", "false", "true"]  # first visits
    assert exported[0][9:11] == ["c", "390,844,3"] and exported[2][7] == "150"


async def test_another_instance_serves_the_export(settings: Settings, store: Store) -> None:
    headers = bearer(await new_token(store))
    async with api_client(settings, clock=Clock()) as first:
        await count(first, headers, "/a", "/b")
        job = await finished_export(first, headers)
    async with api_client(settings, clock=Clock()) as second:
        polled = await second.get(f"/api/v0/export/{job['id']}", headers=headers)
        assert polled.json() == job
        download = await second.get(f"/api/v0/export/{job['id']}/download", headers=headers)
    assert [row[0] for row in rows(download.content)] == ["/a", "/b"]


async def test_a_job_whose_lease_ran_out_ends_in_error(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    now = api_of(http).clock()
    await store.start_export(
        ExportStart(4242, "site.com", 0, 10, now, "gone", now + 30_000, 60_000)
    )
    running = await http.get("/api/v0/export/4242", headers=headers)
    assert running.json()["finished_at"] is None and running.json()["failure"] is None
    assert (await http.get("/api/v0/export/4242/download", headers=headers)).status_code == 202
    api_of(http).clock.advance(30)
    failed = (await http.get("/api/v0/export/4242", headers=headers)).json()
    assert failed["failure"].startswith("the export's worker stopped") and failed["finished_at"]
    assert failed["state"] == "failed" and "error" not in failed
    download = await http.get("/api/v0/export/4242/download", headers=headers)
    assert download.status_code == 409 and "error" in download.json()
    # The dead worker cannot write after it was failed.
    assert not await store.fail_export("site.com", 4242, worker="gone", error="late", now=now)


async def test_export_requests_are_validated(
    http: httpx.AsyncClient, headers: dict[str, str], store: Store
) -> None:
    for body in ({"start_from_hit_id": -1}, {"start_from_hit_id": "3"}, {"since": 1}):
        response = await http.post("/api/v0/export", headers=headers, json=body)
        assert response.status_code == 400 and "errors" in response.json()
    other = bearer(await new_token(store, "other", "export", "other.com"))
    theirs = await http.post("/api/v0/export", headers=other)
    assert theirs.status_code == 202
    # Another namespace's export reads as missing, so ids reveal nothing.
    assert (
        await http.get(f"/api/v0/export/{theirs.json()['id']}", headers=headers)
    ).status_code == 404
    null_cursor = await http.post(
        "/api/v0/export", headers=headers, json={"start_from_hit_id": None}
    )
    assert null_cursor.status_code == 202 and null_cursor.json()["start_from_hit_id"] == 0


@pytest.mark.slow
async def test_a_worker_killed_mid_export_ends_in_error(
    backend: Backend, settings: Settings, store: Store, tmp_path: Path
) -> None:
    headers = bearer(await new_token(store))
    async with api_client(settings.with_changes(api_count_limit=1000), clock=Clock()) as http:
        for _ in range(8):
            await count(http, headers, *(f"/k-{n % 5}" for n in range(500)))
    env = {
        **backend.env(),
        "COUNTER_PREFIX": settings.prefix,
        "COUNTER_EXPORT_PAGE_SIZE": "1",  # one script call per row: slow enough to kill mid-way
    }
    server = ServeProcess([], env, tmp_path).start()
    try:
        started = httpx.post(f"{server.base_url}/api/v0/export", headers=headers, timeout=10)
        export_id = started.json()["id"]
        deadline = time.monotonic() + 20
        while (job := await store.export_job("site.com", export_id)) and job["num_rows"] == "0":
            assert time.monotonic() < deadline, "the export never started"
            time.sleep(0.01)
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)
        server.stop()
    finally:
        server.stop()
    async with api_client(settings, clock=Clock()) as other:
        during = (await other.get(f"/api/v0/export/{export_id}", headers=headers)).json()
        assert during["finished_at"] is None and 0 < during["num_rows"] < 4000
        waiting = await other.get(f"/api/v0/export/{export_id}/download", headers=headers)
        assert waiting.status_code == 202 and waiting.json()["id"] == export_id
        api_of(other).clock.advance(settings.export_lease_ms / 1000)
        after = (await other.get(f"/api/v0/export/{export_id}", headers=headers)).json()
        assert after["failure"] and after["finished_at"]
        download = await other.get(f"/api/v0/export/{export_id}/download", headers=headers)
        assert download.status_code == 409
    assert await store.export_payload("site.com", export_id) is None  # partial data removed


async def test_shutdown_fails_running_exports_at_once(settings: Settings, store: Store) -> None:
    headers = bearer(await new_token(store))
    slow = settings.with_changes(export_page_size=1, api_count_limit=1000)
    async with api_client(slow, clock=Clock()) as http:
        for _ in range(4):
            await count(http, headers, *(f"/s-{n % 5}" for n in range(500)))
        started = await http.post("/api/v0/export", headers=headers)
        export_id = started.json()["id"]
    # The app has shut down: its job did not wait for a lease to run out.
    job = await store.export_job("site.com", export_id)
    assert job is not None
    assert (job["state"], job.get("error")) == ("failed", SHUT_DOWN), job
    assert int(job["num_rows"]) < 2000
