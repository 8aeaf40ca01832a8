"""The /api/v0 scripts through the Store on a real Redis: hit log, exports, limits, restore."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from counter import OutOfBounds, Store
from counter.engine.records import CounterRecord, ExportStart, ExportStep, LogLimits
from counter.engine.sitestats import StatHit, StatLimits
from counter.engine.store import wall_clock_ms

LIMITS = LogLimits(max_entries=1000, max_age_ms=86_400_000, visit_window_ms=3_600_000)


def row(path: str, session: str = "", at: int | None = None) -> list[str]:
    at = wall_clock_ms() if at is None else at
    return [path, "", "0", "", session, "0", "", "", "", "", str(at)]


async def exercise_api_scripts(store: Store) -> None:
    """Calls every /api/v0 script once (the header/arity/slot test records them)."""
    now = wall_clock_ms()
    await store.count_hits("ns-a", "key-c", 2, at=now, now=now)
    await store.put("ns-a", "key-d", 7, now=now)
    record = CounterRecord(3, now, False, -1, 1, {"20260101": 3})
    await store.restore("ns-a", "key-e", record, now=now)
    await store.log_hits("ns-a", [row("/a")], now=now, limits=LIMITS)
    start = ExportStart(99, "ns-a", 0, 1, now, "w1", now + 1000, 60_000)
    await store.start_export(start)
    step = ExportStep("w1", b"", 0, 0, now, now + 1000, 60_000)
    await store.export_progress("ns-a", 99, step)
    await store.fail_export("ns-a", 99, worker="w1", error="test", now=now)
    await store.take_request("bucket", limit=1, window_ms=1000, now=now)
    await store.claim_idempotency("digest", "key", claim_ms=1000)
    stat = StatHit("/a", "A", False, True, False, now, {"browser": "Firefox\t133"}, "h\tx.org")
    await store.record_site_stats("ns-a", [stat], StatLimits(86_400_000, 10, 10))
    await store.resolve_sessions("ns-a", [("digest-1", "id-1")], 60_000)


async def test_hit_ids_are_consecutive_integers_per_namespace(store: Store) -> None:
    now = wall_clock_ms()
    assert await store.log_hits("ns-1", [row("/a"), row("/b")], now=now, limits=LIMITS) == (1, 2)
    assert await store.log_hits("ns-1", [row("/c")], now=now, limits=LIMITS) == (3, 3)
    assert await store.log_hits("ns-2", [row("/x")], now=now, limits=LIMITS) == (1, 1)
    entries = await store.read_hit_log("ns-1", after=1, until=3, count=10)
    assert [(hit_id, entry["p"]) for hit_id, entry in entries] == [(2, "/b"), (3, "/c")]
    assert await store.read_hit_log("ns-1", after=0, until=2, count=1) == [
        (1, (await store.read_hit_log("ns-1", after=0, until=1, count=5))[0][1])
    ]


async def test_hit_ids_continue_after_the_log_if_the_sequence_is_lost(
    store: Store, redis: Redis
) -> None:
    now = wall_clock_ms()
    await store.log_hits("ns-1", [row("/a"), row("/b")], now=now, limits=LIMITS)
    await redis.delete(store.keys.hit_sequence("ns-1"))
    assert await store.log_hits("ns-1", [row("/c")], now=now, limits=LIMITS) == (3, 3)


async def test_log_is_trimmed_by_age_and_by_count(store: Store) -> None:
    now = wall_clock_ms()
    await store.log_hits("ns-1", [row("/old")] * 3, now=now, limits=LIMITS)
    later = now + LIMITS.max_age_ms + 1
    await store.log_hits("ns-1", [row("/new")], now=later, limits=LIMITS)
    entries = await store.read_hit_log("ns-1", after=0, until=10, count=10)
    assert [(hit_id, entry["p"]) for hit_id, entry in entries] == [(4, "/new")]
    small = LogLimits(max_entries=5, max_age_ms=LIMITS.max_age_ms, visit_window_ms=1)
    for _ in range(30):
        await store.log_hits("ns-2", [row("/p")] * 10, now=now, limits=small)
    kept = await store.read_hit_log("ns-2", after=0, until=300, count=1000)
    assert len(kept) < 300 and kept[-1][0] == 300  # approximate MAXLEN: the newest survive


async def test_first_visit_is_per_session_and_path_within_the_window(store: Store) -> None:
    now = wall_clock_ms()
    rows = [row("/a", "s1", now), row("/a", "s1", now), row("/b", "s1", now), row("/a", "s2", now)]
    await store.log_hits("ns-1", rows, now=now, limits=LIMITS)
    later = now + LIMITS.visit_window_ms
    await store.log_hits("ns-1", [row("/a", "s1", later)], now=later, limits=LIMITS)
    entries = await store.read_hit_log("ns-1", after=0, until=10, count=10)
    assert [entry["fv"] for _, entry in entries] == ["1", "0", "1", "1", "1"]


async def test_count_hits_adds_several_and_respects_a_zero_upper_bound(store: Store) -> None:
    now = wall_clock_ms()
    first = await store.count_hits("ns", "page", 3, at=now, now=now)
    assert (first.value, first.created) == (3, True)
    assert (await store.count_hits("ns", "page", 2, at=now, now=now)).value == 5
    await store.create("ns", "closed", update_upperbound=0)
    with pytest.raises(OutOfBounds):
        await store.count_hits("ns", "closed", 1, at=now, now=now)
    assert await store.get("ns", "closed") == 0


async def test_rate_window_refusal_changes_nothing(store: Store) -> None:
    now = wall_clock_ms()
    windows = [await store.take_request("b", limit=2, window_ms=10_000, now=now) for _ in range(3)]
    assert [(w.allowed, w.remaining) for w in windows] == [(True, 1), (True, 0), (False, 0)]
    again = await store.take_request("b", limit=2, window_ms=10_000, now=now + 9_999)
    assert (again.allowed, again.reset_ms) == (False, 1)
    fresh = await store.take_request("b", limit=2, window_ms=10_000, now=now + 10_000)
    assert (fresh.allowed, fresh.remaining, fresh.reset_ms) == (True, 1, 10_000)
    server_clock = await store.take_request("c", limit=1, window_ms=5_000, now=None)
    assert server_clock.allowed and 0 < server_clock.reset_ms <= 5_000


async def test_count_batch_pipelines_and_reloads_its_script(store: Store, redis: Redis) -> None:
    now = wall_clock_ms()
    await store.create("ns", "closed", update_upperbound=0)
    await redis.script_flush()  # the pipeline must load the script again by itself
    results = await store.count_batch(
        "ns",
        [("a-1", 2, now), ("a-2", 1, now), ("closed", 1, now), ("a-1", 1, now - 86_400_000)],
        now=now,
    )
    assert [type(result).__name__ for result in results] == [
        "HitResult", "HitResult", "OutOfBounds", "HitResult",
    ]  # fmt: skip
    assert await store.get("ns", "a-1") == 3
    assert sorted(await store.namespace_keys("ns")) == ["a-1", "a-2", "closed"]
