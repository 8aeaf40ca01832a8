"""Site statistics folded per process (engine/statfold.py): what is written equals writing
every batch before its answer; a site's pending hits are written within the interval, at
once when a reader asks, in bounded calls, in order, once each, and at a graceful stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from redis.asyncio import Redis

from counter import InvalidInput, Store
from counter.engine.statbatch import StatHit, StatLimits
from counter.engine.statfold import SiteStatsFolder
from counter.engine.store import wall_clock_ms
from counter.errors import StoreUnavailable
from tests.engine.test_stat_batch import dump, mixed_hits

LIMITS = StatLimits(retention_ms=86_400_000, member_cap=3, max_paths=4)


class Recording:
    """The Store as the folder sees it, recording each write; the first ``fail`` writes fail
    as an unreachable Redis would, and each write can be held for ``delay`` seconds."""

    def __init__(self, store: Store, *, fail: int = 0, delay: float = 0) -> None:
        self.store, self.fail, self.delay = store, fail, delay
        self.writes: list[tuple[str, int]] = []  # (namespace, hits)

    async def record_site_stats(
        self, namespace: str, hits: Sequence[StatHit], limits: StatLimits
    ) -> int:
        if self.fail:
            self.fail -= 1
            raise StoreUnavailable("Redis is unreachable")
        if self.delay:
            await asyncio.sleep(self.delay)
        created = await self.store.record_site_stats(namespace, hits, limits)
        self.writes.append((namespace, len(hits)))
        return created


def folder(recording: Recording, interval_ms: int = 60_000, **bounds: int) -> SiteStatsFolder:
    async def store() -> Any:
        return recording

    return SiteStatsFolder(store, LIMITS, interval_ms, **bounds)


async def direct(store: Store, namespace: str, batches: list[list[StatHit]]) -> None:
    for batch in batches:
        await store.record_site_stats(namespace, batch, LIMITS)


async def eventually(done: Callable[[], object], timeout: float = 5) -> float:
    """Poll ``done()`` until it is truthy or ``timeout`` passes; the seconds it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not done() and loop.time() - started < timeout:
        await asyncio.sleep(0.01)
    return loop.time() - started


def batches_of(hits: list[StatHit], size: int) -> list[list[StatHit]]:
    return [hits[i : i + size] for i in range(0, len(hits), size)]


@pytest.mark.parametrize("max_paths", [200, 2])
async def test_folded_statistics_equal_every_batch_written_before_its_answer(
    store: Store, redis: Redis, max_paths: int
) -> None:
    """Also when the folder seals a site's segment early (two distinct paths at most):
    paths are created and capped sets take newcomers in the order of their first hit."""
    hits = mixed_hits(wall_clock_ms())
    recording = Recording(store)
    fold = folder(recording, max_paths=max_paths)
    for batch in batches_of(hits, 3):
        await fold.add("folded", batch)
    assert recording.writes == []  # nothing before the interval, a reader, or a stop
    await fold.settle("folded")
    assert fold.pending == 0
    await direct(store, "direct", batches_of(hits, 3))
    assert await dump(redis, store, "folded") == await dump(redis, store, "direct")
    if max_paths == 200:
        assert recording.writes == [("folded", len(hits))]  # one call for the whole moment
    else:
        assert len(recording.writes) > 3 and sum(n for _, n in recording.writes) == len(hits)
    await fold.stop()


async def test_pending_hits_are_written_within_the_interval(store: Store, redis: Redis) -> None:
    recording = Recording(store)
    fold = folder(recording, interval_ms=50)
    await fold.add("soon", mixed_hits(wall_clock_ms())[:4])
    took = await eventually(lambda: recording.writes)
    assert recording.writes == [("soon", 4)] and took < 1
    assert (await store.site_meta("soon")).get("visits") == "3"  # /a, /a, /b (no visit), /a
    await fold.stop()


async def test_a_reader_settles_only_its_site_and_the_segments_before_it(store: Store) -> None:
    recording = Recording(store)
    fold = folder(recording, max_paths=1)
    hits = [hit for hit in mixed_hits(wall_clock_ms()) if not hit.bot]
    await fold.add("first", hits[:1])
    await fold.add("second", hits[1:3])  # /a, then /b: a second path seals /a's segment
    await fold.add("third", hits[3:4])
    await fold.settle("second")
    assert recording.writes == [("second", 1), ("second", 1)] and fold.pending == 2
    await fold.stop()
    assert recording.writes[2:] == [("first", 1), ("third", 1)] and fold.pending == 0


async def test_a_write_that_finds_no_redis_is_retried_once_and_counted_once(
    store: Store, redis: Redis
) -> None:
    hits = mixed_hits(wall_clock_ms())
    recording = Recording(store, fail=2)
    fold = folder(recording, interval_ms=20)
    await fold.add("retried", hits)
    await eventually(lambda: not fold.pending)
    assert recording.writes == [("retried", len(hits))] and recording.fail == 0
    await direct(store, "direct", [hits])
    assert await dump(redis, store, "retried") == await dump(redis, store, "direct")
    await fold.stop()


async def test_a_reader_hears_that_redis_is_gone_and_the_hits_stay_pending(store: Store) -> None:
    recording = Recording(store, fail=1)
    fold = folder(recording)
    await fold.add("ns", mixed_hits(wall_clock_ms())[:2])
    with pytest.raises(StoreUnavailable):
        await fold.settle("ns")
    assert fold.pending == 2
    await fold.settle("ns")
    assert recording.writes == [("ns", 2)] and fold.pending == 0


async def test_an_outage_cannot_grow_the_pending_hits_past_their_bound(store: Store) -> None:
    recording = Recording(store, fail=10**6)
    fold = folder(recording, max_paths=1, max_pending=5)
    hits = [hit for hit in mixed_hits(wall_clock_ms()) if not hit.bot]
    for hit in hits:  # every distinct path seals a segment; the oldest go past five
        await fold.add("ns", [hit])
    assert fold.pending <= 5 and fold.dropped == len(hits) - fold.pending
    await fold.stop()  # Redis still refuses: what is left is dropped, and said so
    assert fold.pending == 0 and fold.dropped == len(hits)


async def test_stop_waits_for_a_write_in_flight_instead_of_sending_it_twice(
    store: Store, redis: Redis
) -> None:
    hits = mixed_hits(wall_clock_ms())
    recording = Recording(store, delay=0.2)
    fold = folder(recording, interval_ms=10)
    await fold.add("stopped", hits[:5])
    while not fold._writing.locked():  # the write has started
        await asyncio.sleep(0.005)
    await fold.add("stopped", hits[5:])  # arrives while the first write is in flight
    await fold.stop()
    assert recording.writes == [("stopped", 5), ("stopped", len(hits) - 5)]
    await direct(store, "direct", [hits[:5], hits[5:]])
    assert await dump(redis, store, "stopped") == await dump(redis, store, "direct")


async def test_a_hit_the_script_would_refuse_fails_when_added_and_nothing_is_queued(
    store: Store,
) -> None:
    fold = folder(Recording(store))
    good = mixed_hits(wall_clock_ms())[0]
    bad = StatHit("/a\tb", "", False, True, False, good.at, {}, "")
    with pytest.raises(InvalidInput):
        await fold.add("ns", [good, bad])
    assert fold.pending == 0
    await fold.stop()


async def test_ingest_waits_for_a_writer_that_falls_behind_and_nothing_is_dropped(
    store: Store,
) -> None:
    """Hits arrive every 10 ms, each sealing a segment; a write takes 50 ms. Without waiting
    the backlog would grow by four segments a write; callers help write instead."""
    recording = Recording(store, delay=0.05)
    fold = folder(recording, interval_ms=20, max_paths=1)
    hits = [hit for hit in mixed_hits(wall_clock_ms()) if not hit.bot] * 3
    peak = 0
    for hit in hits:
        await fold.add("slow", [hit])
        peak = max(peak, fold.pending)
        await asyncio.sleep(0.01)
    assert fold.dropped == 0 and peak <= 8, peak
    await fold.stop()
    assert sum(n for _, n in recording.writes) == len(hits) and fold.dropped == 0


async def test_trimming_spares_the_segment_being_written_and_every_hit_is_accounted_for(
    store: Store,
) -> None:
    """Past ``max_pending`` the oldest waiting segments go, but not the one in flight: its
    write may be applied, and removing it would make the next one look written."""
    hits = [hit for hit in mixed_hits(wall_clock_ms()) if not hit.bot]
    recording = Recording(store, delay=0.2)
    fold = folder(recording, max_paths=1, max_pending=3)
    await fold.add("ns", hits[:3])  # /a /a, then /b: the /a segment is sealed and written
    while not fold._writing.locked():
        await asyncio.sleep(0.005)
    for hit in hits[3:]:  # each new path seals a segment, past three waiting hits
        await fold.add("ns", [hit])
    assert fold.dropped > 0
    await fold.stop()
    assert recording.writes[0] == ("ns", 2)
    assert sum(n for _, n in recording.writes) + fold.dropped == len(hits)
    assert fold.pending == 0


async def test_callers_stop_waiting_for_a_writer_that_redis_refuses(store: Store) -> None:
    recording = Recording(store, fail=10**6)
    fold = folder(recording, interval_ms=20, max_paths=1)
    hits = [hit for hit in mixed_hits(wall_clock_ms()) if not hit.bot]
    await fold.add("ns", hits[:3])  # /a /a sealed by /b
    await asyncio.sleep(0.05)  # the writer is behind now: its writes fail
    loop = asyncio.get_running_loop()
    started = loop.time()
    await fold.add("ns", hits[3:4])
    assert 0.035 <= loop.time() - started < 1  # it waited two intervals, then gave up
    assert fold.pending == 4 and recording.writes == []
    await fold.stop()
    assert fold.dropped == 4
