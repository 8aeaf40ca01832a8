"""The Lua scripts on a real Redis: headers, arity, argument checks, slots, NOSCRIPT, history."""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis
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
    await store.create("ns-a", "key-a", enable_reset=True)
    await store.hit("ns-a", "key-a")
    await store.hit("ns-a", "key-b")
    await store.update("ns-a", "key-a", 1)
    await store.set("ns-a", "key-a", 5)
    await store.info("ns-a", "key-a")
    await exercise_api_scripts(store)
    assert {name for name, _, _ in calls} == set(operation_names())
    for name, keys, args in calls:
        source = load(name)
        if source.variadic:  # KEYS[5..]: the header names the least a call passes
            assert len(keys) >= source.num_keys and len(args) >= source.num_args, name
        else:
            assert (len(keys), len(args)) == (source.num_keys, source.num_args), name
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
        ("update", ["1.5", "1", "1", "20260101", "00", "1"], "amount"),
        ("update", ["-0", "1", "1", "20260101", "00", "1"], "amount"),
        ("update", ["007", "1", "1", "20260101", "00", "1"], "amount"),
        ("update", ["9223372036854775808", "1", "1", "20260101", "00", "1"], "amount"),
        ("update", ["1", "-5", "1", "20260101", "00", "1"], "now"),
        ("update", ["1", "5", "0", "20260101", "00", "1"], "ttl"),
        ("update", ["1", "5", "1", "2026011", "00", "1"], "day"),
        ("update", ["1", "5", "1", "20260101", "24", "1"], "hour"),
        ("update", ["1", "5", "1", "20260101", "7", "1"], "hour"),
        ("update", ["1", "5", "1", "20260101", "07", "x"], "hour_expire_at"),
        ("create", ["x", "0", "-1", "1", "1", "1"], "value"),
        ("create", ["0", "2", "-1", "1", "1", "1"], "enable_reset"),
        ("create", ["0", "1", "1", "1", "1", "1"], "update_lowerbound"),
        ("create", ["0", "1", "-1", "-1", "1", "1"], "update_upperbound"),
        ("set", ["", "1", "1"], "value"),
        ("set", ["1", "1", "-1"], "ttl"),
    ],
)
async def test_scripts_validate_their_arguments(
    store: Store, redis: Redis, prefix: str, script: str, argv: list[str], bad: str
) -> None:
    source = load(script)
    keys = [f"{prefix}{{v/k}}", f"{prefix}{{v/k}}:d", f"{prefix}{{v/k}}:h:1"][: source.num_keys]
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
    keys = (store.keys.counter("edge", "full"), store.keys.daily("edge", "full"))
    before = [await redis.hgetall(key) for key in keys]
    with pytest.raises(Overflow):
        await store.update("edge", "full", 1)
    with pytest.raises(Overflow):
        await store.hit("edge", "full")
    after = [await redis.hgetall(key) for key in keys]
    assert after == before


async def test_history_buckets_follow_the_clock(
    store: Store, redis: Redis, clock: list[int]
) -> None:
    start = clock[0] - clock[0] % DAY_MS  # midnight UTC
    clock[0] = start + 3 * 3_600_000 + 5  # 03:00 on day 1
    await store.hit("hist", "page")
    await store.hit("hist", "page")
    clock[0] = start + DAY_MS + 15 * 3_600_000  # 15:00 on day 2
    await store.hit("hist", "page")
    await store.update("hist", "page", 0)
    day1 = time.strftime("%Y%m%d", time.gmtime(start / 1000))
    day2 = time.strftime("%Y%m%d", time.gmtime((start + DAY_MS) / 1000))
    daily = await redis.hgetall(store.keys.daily("hist", "page"))
    assert daily == {day1.encode(): b"2", day2.encode(): b"1"}
    assert await redis.hgetall(store.keys.hourly("hist", "page", day1)) == {b"03": b"2"}
    assert await redis.hgetall(store.keys.hourly("hist", "page", day2)) == {b"15": b"1"}
    # Redis 6.2 has no PEXPIRETIME: the remaining time plus the real now gives the deadline
    remaining = await redis.pttl(store.keys.hourly("hist", "page", day1))
    assert abs(wall_clock_ms() + remaining - (start + 8 * DAY_MS)) < 5_000


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
        daily_ttl = await redis.pttl(store.keys.daily("ttl", "page"))
        assert daily_ttl == -2 or daily_ttl > store.ttl_ms - 60_000  # set writes no history


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
    members = await redis.smembers(store.keys.namespace_index("indexed"))
    assert members == {b"first", b"second"}
