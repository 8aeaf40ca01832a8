"""The Lua scripts on a real Redis: headers, arity, argument checks, slots, NOSCRIPT, history."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from counter import InvalidInput, Overflow, Store, StoreError
from counter.engine.scripts import Status, load, operation_names
from counter.engine.store import wall_clock_ms
from tests.engine.test_store_api_scripts import exercise_api_scripts

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
DAY_MS = 86_400_000


def test_every_operation_has_a_header_naming_keys_argv_and_returns() -> None:
    names = operation_names()
    assert set(names) >= {"create", "hit", "update", "set", "info"}
    for name in names:
        source = load(name)
        assert source.header.startswith(f"--[[ {name}:"), name
        assert "Returns" in source.header, name
        assert source.num_keys >= 1, name


async def test_store_refuses_a_call_whose_arity_differs_from_the_header(store: Store) -> None:
    with pytest.raises(StoreError, match="called with 1 keys and 0 args"):
        await store._eval("hit", ["k"], [])


async def test_every_call_site_matches_its_header_and_stays_in_one_slot(store: Store) -> None:
    calls: list[tuple[str, list[str], list[str | int]]] = []
    original = store._eval

    async def recording(name: str, keys: list[str], args: list[str | int]) -> list[object]:
        calls.append((name, list(keys), list(args)))
        return await original(name, keys, args)

    store._eval = recording  # type: ignore[method-assign]
    per_key = store._eval_per_key

    async def recording_per_key(name: str, keys: list[str], args: list[str | int]) -> Any:
        calls.append((name, list(keys), list(args)))
        return await per_key(name, keys, args)

    store._eval_per_key = recording_per_key  # type: ignore[method-assign]
    cluster = isinstance(store.redis, RedisCluster)
    await store.create("ns-a", "key-a", enable_reset=True)
    await store.hit("ns-a", "key-a")
    await store.hit("ns-a", "key-b")
    await asyncio.gather(store.hit("ns-a", "key-a"), store.hit("ns-a", "key-b"))  # one tick
    await store.update("ns-a", "key-a", 1)
    await store.set("ns-a", "key-a", 5)
    await store.info("ns-a", "key-a")
    await store.history("ns-a", "key-a", now=wall_clock_ms())
    await store.namespace_page("ns-a", after="", count=10)
    # a counter as releases before 0.2 wrote it: the next write migrates it
    await store.redis.hset(store.keys.counter("ns-a", "old"), mapping={"value": 1, "created": 1})
    await store.hit("ns-a", "old")
    # and a namespace index as they wrote it (a plain set): the next addition converts it
    await store.redis.sadd(store.keys.namespace_index("ns-old"), "a")
    await store.hit("ns-old", "b")
    await store.forget_keys("ns-old", ["a"])
    await exercise_api_scripts(store)
    # hit_many.lua spans slots: the Store sends it to a standalone Redis only
    expected = set(operation_names()) - ({"hit_many"} if cluster else set())
    assert {name for name, _, _ in calls} == expected
    for name, keys, args in calls:
        source = load(name)
        if source.variadic:  # KEYS[5..]: the header names the least a call passes
            assert len(keys) >= source.num_keys and len(args) >= source.num_args, name
        else:
            assert (len(keys), len(args)) == (source.num_keys, source.num_args), name
        if name != "hit_many":
            assert len({key_slot(k.encode()) for k in keys}) == 1, (name, keys)


async def test_scripts_reload_after_script_flush(store: Store, redis: Redis) -> None:
    await store.hit("reload", "key-1")
    await redis.script_flush()  # what a Redis restart or failover does to the cache
    assert (await store.hit("reload", "key-1")).value == 2
    await redis.script_flush()
    assert await store.update("reload", "key-1", 0) == 2


@pytest.mark.parametrize(
    ("script", "argv", "bad"),
    [
        ("create", ["x", "0", "-1", "1", "1", "1", "1"], "value"),
        ("create", ["0", "2", "-1", "1", "1", "1", "1"], "enable_reset"),
        ("create", ["0", "1", "1", "1", "1", "1", "1"], "update_lowerbound"),
        ("create", ["0", "1", "-1", "-1", "1", "1", "1"], "update_upperbound"),
        ("create", ["0", "1", "-1", "1", "1", "1", "x"], "hour"),
        ("set", ["", "1"], "value"),
        ("set", ["1", "-1"], "ttl"),
        ("put", ["1", "2", "", "", "1", "1", "1"], "enable_reset"),
        ("put", ["1", "", "", "", "1", "1", "-1"], "hour"),
        ("restore", ["1", "1", "0", "0", "1", '["x", "1"]', "1", "1"], "daily"),
        ("index_page", ["", "0"], "count"),
    ],
)
async def test_scripts_validate_their_arguments(
    store: Store, redis: Redis, prefix: str, script: str, argv: list[str], bad: str
) -> None:
    source = load(script)
    keys = [f"{prefix}{{v/k}}", f"{prefix}{{v/k}}:h"][: source.num_keys]
    if script == "index_page":
        keys = [f"{prefix}idx:{{v}}"]
    if script == "restore":
        keys.append(f"{prefix}{{v/k}}:d")
    reply = await redis.eval(source.text, len(keys), *keys, *argv)
    assert reply[0] == Status.INVALID
    assert reply[1].decode() == bad
    assert [k async for k in redis.scan_iter(match=f"{prefix}*")] == []
    with pytest.raises(InvalidInput, match=bad):
        await store._eval(script, keys, argv)


async def test_bounds_compare_exactly_at_the_int64_edges(store: Store) -> None:
    await store.create("edge", "wide", update_lowerbound=INT64_MIN, update_upperbound=INT64_MAX)
    assert await store.update("edge", "wide", INT64_MAX) == INT64_MAX
    assert await store.update("edge", "wide", INT64_MIN) == -1
    await store.create("edge", "narrow", update_lowerbound=-(2**53) - 1, update_upperbound=2**53)
    # 2^53 + 1 rounds to 2^53 as a double: only an exact comparison refuses it
    from counter import OutOfBounds

    with pytest.raises(OutOfBounds):
        await store.update("edge", "narrow", 2**53 + 1)
    assert await store.update("edge", "narrow", -(2**53) - 1) == -(2**53) - 1


async def test_overflow_changes_nothing_including_history(store: Store, redis: Redis) -> None:
    await store.create("edge", "full", value=INT64_MAX - 1, update_upperbound=INT64_MAX)
    await store.update("edge", "full", 1)
    counter, history = store.keys.counter("edge", "full"), store.keys.history("edge", "full")
    before = (await redis.hgetall(counter), await redis.get(history))
    with pytest.raises(Overflow):
        await store.update("edge", "full", 1)
    with pytest.raises(Overflow):
        await store.hit("edge", "full")
    assert (await redis.hgetall(counter), await redis.get(history)) == before


async def test_history_follows_the_clock(store: Store, redis: Redis, clock: list[int]) -> None:
    start = clock[0] - clock[0] % DAY_MS  # midnight UTC
    clock[0] = start + 3 * 3_600_000 + 5  # 03:00 on day 1
    await store.hit("hist", "page")
    await store.hit("hist", "page")
    clock[0] = start + DAY_MS + 15 * 3_600_000  # 15:00 on day 2
    await store.hit("hist", "page")
    await store.update("hist", "page", 0)
    day1 = time.strftime("%Y%m%d", time.gmtime(start / 1000))
    day2 = time.strftime("%Y%m%d", time.gmtime((start + DAY_MS) / 1000))
    daily, hourly = await store.history("hist", "page", now=clock[0])
    assert daily == {day1: 2, day2: 1}
    assert hourly == {f"{day1}03": 2, f"{day2}15": 1}
    # the finished hour went to the history string; 15:00 is still pending in the counter hash
    stored = await redis.get(store.keys.history("hist", "page"))
    assert stored.decode() == f"{start // DAY_MS}:2;{start // 3_600_000 + 3}:2"
    # hourly counts are kept for 7 days back, daily ones for the whole ttl
    clock[0] = start + 9 * DAY_MS
    daily, hourly = await store.history("hist", "page", now=clock[0])
    assert (daily, hourly) == ({day1: 2, day2: 1}, {})


async def test_writes_refresh_the_ttl_reads_do_not(store: Store, redis: Redis) -> None:
    key = store.keys.counter("ttl", "page")
    await store.create("ttl", "page", enable_reset=True)
    for operation in (store.get, store.info):
        await redis.pexpire(key, 50_000)
        await operation("ttl", "page")
        assert await redis.pttl(key) <= 50_000
    writes = (
        lambda: store.hit("ttl", "page"),
        lambda: store.update("ttl", "page", 1),
        lambda: store.set("ttl", "page", 3),
    )
    for write in writes:
        await redis.pexpire(key, 50_000)
        await write()
        assert await redis.pttl(key) > store.ttl_ms - 60_000
        # the history string (written when an hour ends) outlives the counter by < 1 hour
        history_ttl = await redis.pttl(store.keys.history("ttl", "page"))
        assert history_ttl == -2 or history_ttl > store.ttl_ms - 60_000


async def test_info_reports_created_and_remaining_ttl(store: Store, clock: list[int]) -> None:
    await store.create("meta", "page", value=4)
    info = await store.info("meta", "page")
    assert info.created == clock[0]
    assert store.ttl_ms - 5_000 < info.ttl <= store.ttl_ms
    assert (info.value, info.enable_reset) == (4, False)


async def test_hit_created_counter_lands_in_the_namespace_index(store: Store, redis: Redis) -> None:
    result = await store.hit("indexed", "first")
    assert result.created
    await store.create("indexed", "second")
    assert not (await store.hit("indexed", "first")).created
    members = await redis.zrange(store.keys.namespace_index("indexed"), 0, -1)
    assert members == [b"first", b"second"]
