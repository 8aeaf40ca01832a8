"""Cross-key batching on a real Redis: hits on different counters made in one event-loop tick
leave as one ``hit_many.lua`` call (``hit.lua`` per counter on a cluster), and every counter
ends exactly where the same hits made one by one leave it: values, creation, bounds, the
int64 edge, values above 2^53, past hours, old layouts, history and the index."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from counter import Store, StoreError, StoreUnavailable
from counter.engine.records import HitResult

INT64_MAX = 2**63 - 1
HOUR_MS = 3_600_000


def script_calls(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(script, counters in the call) for every hit script call the Store makes."""
    calls: list[tuple[str, int]] = []
    original = store._script

    def recording(name: str, batch: Any) -> Any:
        calls.extend((name, len(keys)) for keys, _ in batch)
        return original(name, batch)

    monkeypatch.setattr(store, "_script", recording)
    return calls


async def prepare(store: Store, redis: Redis, clock: list[int], namespace: str) -> list[str]:
    """Counters in every state a hit can meet; returns the keys to hit, in order."""
    await store.hit(namespace, "steady")
    await store.create(namespace, "closed", value=5, update_lowerbound=0, update_upperbound=0)
    await store.create(namespace, "edge", value=INT64_MAX, update_upperbound=1)
    await store.create(namespace, "big", value=2**60 + 1, update_upperbound=1)
    await store.create(namespace, "minus", value=-2, update_lowerbound=-5, update_upperbound=1)
    clock[0] -= HOUR_MS  # a counter whose pending hour is the last one: hit_full.lua
    await store.hit(namespace, "last-hour")
    clock[0] += HOUR_MS
    # a counter as releases before 0.2 wrote it: migrated, then hit
    await redis.hset(store.keys.counter(namespace, "old"), mapping={"value": 7, "created": 1})
    return ["steady", "new", "closed", "edge", "big", "minus", "last-hour", "old", "steady"]


def outcome(result: HitResult | BaseException) -> tuple[str, int, bool]:
    if isinstance(result, HitResult):
        return ("hit", result.value, result.created)
    return (type(result).__name__, getattr(result, "value", 0), False)


async def state(store: Store, namespace: str, keys: list[str]) -> list[Any]:
    found: list[Any] = []
    for key in sorted(set(keys)):
        info = await store.info(namespace, key)
        history = await store.history(namespace, key, now=store.clock())
        found.append((key, info.value, info.update_lowerbound, info.update_upperbound, history))
    return [found, await store.namespace_keys(namespace)]


async def test_hits_in_one_tick_end_as_the_same_hits_one_by_one(
    store: Store, redis: Redis, clock: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = await prepare(store, redis, clock, "one-by-one")
    alone = [outcome(await hit_or_error(store, "one-by-one", key)) for key in keys]
    await prepare(store, redis, clock, "one-tick")
    calls = script_calls(store, monkeypatch)
    together = await asyncio.gather(
        *(store.hit("one-tick", key) for key in keys), return_exceptions=True
    )
    assert [outcome(result) for result in together] == alone
    assert alone[4] == ("hit", 2**60 + 2, False)  # exact above 2^53
    assert alone[5] == ("hit", -1, False)  # a value of -1 is a value, not a status
    assert [name for name, _ in calls].count("hit_many") == (
        0 if isinstance(store.redis, RedisCluster) else 1
    )
    assert await state(store, "one-tick", keys) == await state(store, "one-by-one", keys)


async def hit_or_error(store: Store, namespace: str, key: str) -> HitResult | Exception:
    try:
        return await store.hit(namespace, key)
    except Exception as error:
        return error


async def test_a_counter_redis_refuses_fails_alone_and_the_others_count(
    store: Store, redis: Redis
) -> None:
    await store.hit("mixed", "before")
    await redis.set(store.keys.counter("mixed", "wrong"), "a string, not a hash")
    results = await asyncio.gather(
        *(store.hit("mixed", key) for key in ("before", "wrong", "after")), return_exceptions=True
    )
    assert [outcome(result) for result in (results[0], results[2])] == [
        ("hit", 2, False),
        ("hit", 1, True),
    ]
    alone = await hit_or_error(store, "mixed", "wrong")
    assert type(results[1]) is type(alone) and isinstance(alone, StoreError)
    assert await redis.get(store.keys.counter("mixed", "wrong")) == b"a string, not a hash"


async def test_large_ticks_are_split_and_every_caller_gets_its_own_value(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = script_calls(store, monkeypatch)
    results = await asyncio.gather(*(store.hit("wide", f"k{n}") for n in range(300)))
    assert [outcome(result) for result in results] == [("hit", 1, True)] * 300
    if not isinstance(store.redis, RedisCluster):
        assert [size for name, size in calls if name == "hit_many"] == [128, 128, 44]
    assert len(await store.namespace_keys("wide")) == 300
    results = await asyncio.gather(*(store.hit("wide", f"k{n}") for n in range(300)))
    assert [result.value for result in results] == [2] * 300


async def test_a_failed_call_fails_every_caller_in_it_and_counts_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = store.transport.run_script

    async def down(script: Any, keys: Any, args: Any) -> Any:
        if any("{down/" in key for key in keys):  # hit_many.lua, or hit.lua on a cluster
            raise redis_errors.ConnectionError("connection refused")
        return await original(script, keys, args)

    monkeypatch.setattr(store.transport, "run_script", down)
    results = await asyncio.gather(
        *(store.hit("down", key) for key in ("a", "b", "c")), return_exceptions=True
    )
    assert all(isinstance(result, StoreUnavailable) for result in results)
    assert len({id(result) for result in results}) == 3  # each caller its own exception
    monkeypatch.setattr(store.transport, "run_script", original)
    assert (await store.hit("down", "a")).value == 1  # nothing was counted


async def test_hit_many_refuses_a_call_of_the_wrong_shape_and_writes_nothing(
    store: Store, redis: Redis
) -> None:
    counter = store.keys.counter("shape", "a")
    keys = [counter, counter + ":b"]  # one slot, so that a cluster runs the call too
    hour = store.clock() // HOUR_MS
    with pytest.raises(StoreError) as refused:
        await store._eval_per_key("hit_many", keys, [store.ttl_ms, hour, 0, 1])
    assert "3 + 1 per key" in str(refused.value.__cause__)
    assert await redis.exists(*keys) == 0


async def test_hits_of_different_hours_in_one_tick_land_in_their_own_hours(
    store: Store, clock: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = clock[0]
    # (key, hits, at): the first hour's call carries its n's (2 and 1), the other's none
    plan = [("a", 2, now), ("b", 1, now - 3 * HOUR_MS), ("c", 1, now - 3 * HOUR_MS), ("d", 1, now)]
    for key, hits, at in plan:  # one by one
        await store.count_hits("one-by-one", key, hits, at=at, now=now)
    calls = script_calls(store, monkeypatch)
    await asyncio.gather(
        *(store.count_hits("one-tick", key, hits, at=at, now=now) for key, hits, at in plan)
    )
    if not isinstance(store.redis, RedisCluster):
        assert [size for name, size in calls if name == "hit_many"] == [2, 2]  # one per hour
    keys = [key for key, _, _ in plan]
    assert (await store.get("one-tick", "a"), await store.get("one-tick", "b")) == (2, 1)
    assert await state(store, "one-tick", keys) == await state(store, "one-by-one", keys)


async def test_a_failed_chunk_fails_only_the_hits_it_carried(
    store: Store, clock: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hits of two hours leave as two calls; the one that fails takes only its own callers."""
    now = clock[0]
    original = store.transport.run_script

    async def past_hour_down(script: Any, keys: Any, args: Any) -> Any:
        if any("{chunks/old" in key for key in keys):
            raise redis_errors.ConnectionError("connection reset")
        return await original(script, keys, args)

    monkeypatch.setattr(store.transport, "run_script", past_hour_down)
    plan = [
        ("new-a", now),
        ("old-a", now - 3 * HOUR_MS),
        ("new-b", now),
        ("old-b", now - 3 * HOUR_MS),
    ]
    results = await asyncio.gather(
        *(store.count_hits("chunks", key, 1, at=at, now=now) for key, at in plan),
        return_exceptions=True,
    )
    assert [outcome(result) for result in (results[0], results[2])] == [("hit", 1, True)] * 2
    assert all(isinstance(result, StoreUnavailable) for result in (results[1], results[3]))
    monkeypatch.setattr(store.transport, "run_script", original)
    assert sorted(await store.namespace_keys("chunks")) == ["new-a", "new-b"]  # indexed
