"""Hot-key coalescing on a real Redis: concurrent hits on one key share a script call, each
caller still gets its own exact value in arrival order; bounds and the int64 edge are
decided per hit; concurrent reads share one HGET and never answer from before a seen write."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from counter import OutOfBounds, Overflow, Store
from counter.engine.records import HitResult

INT64_MAX = 2**63 - 1


def count_calls(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The n of every hit script call the Store makes."""
    sizes: list[int] = []
    original = store.count_batch

    async def recording(namespace: str, groups: Any, *, now: int) -> Any:
        sizes.extend(hits for _, hits, _ in groups)
        return await original(namespace, groups, now=now)

    monkeypatch.setattr(store, "count_batch", recording)
    return sizes


async def test_concurrent_hits_share_calls_and_keep_exact_values_in_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = count_calls(store, monkeypatch)
    results = await asyncio.gather(*(store.hit("hot", "key") for _ in range(60)))
    assert [result.value for result in results] == list(range(1, 61))
    assert [result.created for result in results] == [True] + [False] * 59
    assert sum(sizes) == 60 and len(sizes) < 60 and max(sizes) > 1
    assert await store.get("hot", "key") == 60
    daily, _ = await store.history("hot", "key", now=store.clock())
    assert list(daily.values()) == [60]


async def test_coalesced_hits_at_a_bound_are_refused_one_by_one(store: Store) -> None:
    await store.create("hot", "closed", value=5, update_lowerbound=0, update_upperbound=0)
    results = await asyncio.gather(
        *(store.hit("hot", "closed") for _ in range(10)), return_exceptions=True
    )
    assert all(isinstance(result, OutOfBounds) and result.value == 5 for result in results)
    assert await store.get("hot", "closed") == 5


async def test_coalesced_hits_at_the_int64_edge_fill_it_exactly(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.create("hot", "edge", value=INT64_MAX - 3, update_upperbound=1)
    sizes = count_calls(store, monkeypatch)
    results = await asyncio.gather(
        *(store.hit("hot", "edge") for _ in range(8)), return_exceptions=True
    )
    assert max(sizes) > 1  # the batch was tried whole before falling back to single hits
    values = [r.value for r in results if isinstance(r, HitResult)]
    assert values == [INT64_MAX - 2, INT64_MAX - 1, INT64_MAX]
    refused = results[3:]
    assert all(isinstance(r, Overflow) and r.value == INT64_MAX for r in refused)
    assert await store.get("hot", "edge") == INT64_MAX


async def test_concurrent_reads_share_one_hget_and_see_acknowledged_hits(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.hit("hot", "read")
    commands: list[str] = []
    original = store.transport.command

    async def recording(*args: Any) -> Any:
        commands.append(str(args[0]))
        return await original(*args)

    monkeypatch.setattr(store.transport, "command", recording)
    values = await asyncio.gather(*(store.get("hot", "read") for _ in range(30)))
    assert values == [1] * 30
    assert 1 <= commands.count("HGET") <= 2  # the first read, then one for all the others

    async def hit_then_read() -> tuple[int, int]:
        hit = await store.hit("hot", "read")
        return hit.value, await store.get("hot", "read")

    pairs = await asyncio.gather(*(hit_then_read() for _ in range(20)))
    assert all(read >= hit for hit, read in pairs)
    assert sorted(hit for hit, _ in pairs) == list(range(2, 22))


async def test_a_missing_counter_reads_as_missing_for_every_waiting_caller(store: Store) -> None:
    from counter import CounterNotFound

    results = await asyncio.gather(
        *(store.get("hot", "none") for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(result, CounterNotFound) for result in results)


async def test_a_failed_call_fails_every_caller_riding_it_and_frees_the_key(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from counter import StoreUnavailable

    original = store.count_batch
    failing = [True]

    async def flaky(namespace: str, groups: Any, *, now: int) -> Any:
        await asyncio.sleep(0.01)  # long enough for the others to queue behind it
        if failing[0]:
            raise StoreUnavailable("the counter store (Redis) is unavailable")
        return await original(namespace, groups, now=now)

    monkeypatch.setattr(store, "count_batch", flaky)
    first = asyncio.ensure_future(store.hit("hot", "down"))
    await asyncio.sleep(0)
    riders = [asyncio.ensure_future(store.hit("hot", "down")) for _ in range(5)]
    results = await asyncio.gather(first, *riders, return_exceptions=True)
    assert all(isinstance(result, StoreUnavailable) for result in results)
    assert len({id(result) for result in results}) == 6  # each caller its own exception
    failing[0] = False
    assert (await store.hit("hot", "down")).value == 1  # nothing counted, the key is free


async def test_a_cancelled_shared_call_cancels_its_riders_instead_of_leaving_them_waiting() -> None:
    from counter.engine.coalesce import Coalescer

    first_gate = asyncio.Event()
    gates = [first_gate, asyncio.Event()]  # the first call's, then the riders' (never set)

    async def run(key: str, n: int) -> list[int]:
        await gates.pop(0).wait()
        return list(range(n))

    coalescer: Coalescer[str, int] = Coalescer(run)
    first = asyncio.ensure_future(coalescer.call("k"))
    await asyncio.sleep(0)
    riders = [asyncio.ensure_future(coalescer.call("k")) for _ in range(2)]
    await asyncio.sleep(0)
    first_gate.set()
    assert await first == 0
    await asyncio.sleep(0)  # the riders' shared call is waiting now: the loop closes under it
    for task in list(coalescer._tasks):
        task.cancel()
    results = await asyncio.wait_for(asyncio.gather(*riders, return_exceptions=True), 1)
    assert all(isinstance(result, asyncio.CancelledError) for result in results)
