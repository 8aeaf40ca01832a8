"""Site statistics through the app: folded per process by default (COUNTER_SITE_STATS_FLUSH_MS),
yet a reader of this process sees every hit it has answered, a graceful stop writes what is
pending, and 0 writes each batch before the answer; counters and the log are never folded."""

from __future__ import annotations

import httpx
import pytest

from counter import Settings, Store
from tests.apikit import api_client, bearer, new_token

HITS = {"no_sessions": True, "hits": [{"path": "/one"}, {"path": "/two"}, {"path": "/one"}]}


async def count(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """POST the three hits; every one is accepted."""
    assert (await http.post("/api/v0/count", headers=headers, json=HITS)).status_code == 202


async def test_the_stats_api_sees_every_hit_this_process_answered(
    settings: Settings, store: Store
) -> None:
    headers = bearer(await new_token(store, perms="count,stats"))
    async with api_client(settings.with_changes(site_stats_flush_ms=1000)) as http:
        await count(http, headers)
        assert await store.get("site.com", "one") == 2  # counters: stored before the answer
        runtime = http.app.state.counter_runtime  # type: ignore[attr-defined]
        assert runtime.site_stats.pending == 3  # statistics: folded, not yet written
        total = await http.get("/api/v0/stats/total", headers=headers)
        assert total.json()["total"] == 3 and runtime.site_stats.pending == 0
        hits = await http.get("/api/v0/stats/hits", headers=headers)
        assert [(hit["path"], hit["count"]) for hit in hits.json()["hits"]] == [
            ("/one", 2),
            ("/two", 1),
        ]


async def test_a_graceful_stop_writes_the_pending_statistics(
    settings: Settings, store: Store
) -> None:
    headers = bearer(await new_token(store, perms="count"))
    async with api_client(settings.with_changes(site_stats_flush_ms=1000)) as http:
        await count(http, headers)
    meta = await store.site_meta("site.com")
    assert (meta["visits"], meta["pageviews"]) == ("3", "3")


async def test_zero_writes_each_batch_before_its_answer(settings: Settings, store: Store) -> None:
    headers = bearer(await new_token(store, perms="count"))
    async with api_client(settings.with_changes(site_stats_flush_ms=0)) as http:
        await count(http, headers)
        assert http.app.state.counter_runtime.site_stats.pending == 0  # type: ignore[attr-defined]
        meta = await store.site_meta("site.com")
        assert (meta["visits"], meta["pageviews"]) == ("3", "3")


@pytest.mark.parametrize("value", ["-1", "1001", "x"])
def test_the_setting_is_checked(value: str) -> None:
    from counter.errors import ConfigError

    with pytest.raises(ConfigError, match="SITE_STATS_FLUSH_MS"):
        Settings.from_env({"COUNTER_SITE_STATS_FLUSH_MS": value})
