"""hit.lua's fast path on a real Redis: field ``fh`` equals the pending hour ``hh`` only while a
hit is within the counter's bounds, so a hit in the pending hour is HGET + HINCRBY + PEXPIRE;
every other case (creation, a new hour, a late hit, a refusing counter, older layouts) takes
the full path, and every script that moves ``hh`` or the upper bound keeps ``fh`` in step."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from counter import CounterNotFound, OutOfBounds, Overflow, Store
from counter.engine.records import CounterRecord
from counter.engine.scripts import Status
from tests.engine.test_layout import FIXTURE, load_fixture

INT64_MAX = 2**63 - 1
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


async def fields(store: Store, redis: Redis, key: str) -> dict[str, str]:
    """The counter hash of ns/key, checked against the fast path's invariant."""
    raw: dict[bytes, bytes] = await redis.hgetall(store.keys.counter("ns", key))
    found = {name.decode(): value.decode() for name, value in raw.items()}
    if "fh" in found:  # fh present: same as hh, and a hit is within bounds
        assert found["fh"] == found["hh"], found
        assert found.get("update_upperbound", "1") != "0", found
    return found


def hour_name(hour: int) -> str:
    return time.strftime("%Y%m%d%H", time.gmtime(hour * 3600))


async def test_a_hit_counter_gets_the_fast_field_and_keeps_it_through_the_hour(
    store: Store, redis: Redis, clock: list[int]
) -> None:
    hour = clock[0] // HOUR_MS
    assert (await store.hit("ns", "page")).created
    assert (await fields(store, redis, "page"))["fh"] == str(hour)
    for expected in (2, 3):
        assert (await store.hit("ns", "page")).value == expected
    counter = await fields(store, redis, "page")
    assert (counter["value"], counter["fh"], counter["hh"]) == ("3", str(hour), str(hour))
    assert "hv" not in counter  # no history of its own yet: hv reads as 0
    assert await redis.exists(store.keys.history("ns", "page")) == 0  # nothing to move yet
    assert (await store.history("ns", "page", now=clock[0]))[1] == {hour_name(hour): 3}


def script_names(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names: list[str] = []  # every script call the Store makes from now on
    original = store._script

    def recording(name: str, calls: Any) -> Any:
        names.extend(name for _ in calls)
        return original(name, calls)

    monkeypatch.setattr(store, "_script", recording)
    return names


async def test_hit_lua_answers_full_and_writes_nothing_outside_the_steady_state(
    store: Store, redis: Redis, prefix: str, clock: list[int]
) -> None:
    hour = clock[0] // HOUR_MS
    await store.hit("ns", "page")  # steady: fh == hh == hour
    await store.create("ns", "frozen", update_upperbound=0)
    await redis.hset(store.keys.counter("ns", "v02"), mapping={"value": 1, "hh": hour, "hv": 0})
    await redis.hset(store.keys.counter("ns", "v01"), mapping={"value": 1, "updated": 1})
    cases = [("page", hour + 1), ("page", hour - 1), ("frozen", hour), ("v02", hour),
             ("v01", hour)]  # fmt: skip
    for key, at in cases:
        counter = store.keys.counter("ns", key)
        before, ttl = await redis.hgetall(counter), await redis.pttl(counter)
        reply = await store._eval("hit", [counter], [1, at, store.ttl_ms, clock[0]])
        assert reply == [Status.FULL], key
        assert await redis.hgetall(counter) == before, key
        assert await redis.pttl(counter) <= ttl, key  # not renewed either
    counter = store.keys.counter("ns", "page")
    assert await store._eval("hit", [counter], [2, hour, store.ttl_ms, 1]) == [Status.OK, 3]
    counter = store.keys.counter("ns", "new")  # a missing counter is created in this script
    assert await store._eval("hit", [counter], [2, hour, store.ttl_ms, 5]) == [0, b"2", 1]
    assert await fields(store, redis, "new") == {"value": "2", "created": "5", "hh": str(hour),
                                                 "fh": str(hour)}  # fmt: skip


async def test_one_script_call_in_the_steady_state_two_otherwise(
    store: Store, clock: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    names = script_names(store, monkeypatch)
    cluster = isinstance(store.redis, RedisCluster)
    assert (await store.hit("ns", "page")).created
    await store.hit("ns", "page")
    await store.count_batch("ns", [("page", 2, clock[0]), ("other", 1, clock[0])], now=clock[0])
    # new counters included; the batch's two counters share one call where Redis allows it
    assert names == ["hit", "hit", *(["hit", "hit"] if cluster else ["hit_many"])]
    names.clear()
    clock[0] += HOUR_MS
    assert (await store.hit("ns", "page")).value == 5
    assert (await store.hit("ns", "page")).value == 6
    await store.count_hits("ns", "page", 1, at=clock[0] - 2 * HOUR_MS, now=clock[0])  # late
    assert names == ["hit", "hit_full", "hit", "hit", "hit_full"]  # once per hour, late hits


async def test_a_history_string_left_by_an_expired_counter_is_never_counted(
    store: Store, redis: Redis, clock: list[int]
) -> None:
    start = clock[0] - clock[0] % DAY_MS + 10 * HOUR_MS
    hour = start // HOUR_MS
    history = store.keys.history("ns", "page")

    async def expire_counter_leaving_its_history() -> None:
        clock[0] = start - 5 * HOUR_MS
        for _ in range(4):  # an earlier counter: 4 hits, then its hour moved to the string
            await store.hit("ns", "page")
        clock[0] = start - 4 * HOUR_MS
        await store.hit("ns", "page")
        assert await redis.exists(history) == 1
        await redis.delete(store.keys.counter("ns", "page"))  # what its expiry does
        clock[0] = start

    await expire_counter_leaving_its_history()
    assert (await store.hit("ns", "page")).created
    daily, hourly = await store.history("ns", "page", now=clock[0])
    assert (daily, hourly) == ({hour_name(hour)[:8]: 1}, {hour_name(hour): 1})
    clock[0] += HOUR_MS  # the first history write replaces the string
    await store.hit("ns", "page")
    _, hourly = await store.history("ns", "page", now=clock[0])
    assert hourly == {hour_name(hour): 1, hour_name(hour + 1): 1}
    # a late hit, a put and a set on such a counter ignore the stale string the same way
    for write in ("late", "put", "set"):
        await expire_counter_leaving_its_history()
        await store.hit("ns", "page")
        expected = {hour: 1}
        if write == "late":
            await store.count_hits("ns", "page", 2, at=start - HOUR_MS, now=clock[0])
            expected[hour - 1] = 2
        elif write == "put":
            await store.put("ns", "page", 50, now=clock[0], enable_reset=True)
        else:  # no API turns reset on without writing hv: set it by hand
            await redis.hset(store.keys.counter("ns", "page"), "enable_reset", "1")
            await store.set("ns", "page", 9)
        named = {hour_name(h): c for h, c in sorted(expected.items())}
        assert (await store.history("ns", "page", now=clock[0]))[1] == named, write
        clock[0] += HOUR_MS
        await store.hit("ns", "page")
        named[hour_name(hour + 1)] = 1
        assert (await store.history("ns", "page", now=clock[0]))[1] == named, write


async def test_a_counter_whose_bounds_forbid_hits_stays_refused(
    store: Store, redis: Redis, clock: list[int]
) -> None:
    await store.create("ns", "frozen", value=5, update_lowerbound=-5, update_upperbound=0)
    assert "fh" not in await fields(store, redis, "frozen")
    for _ in range(2):
        with pytest.raises(OutOfBounds) as refused:
            await store.hit("ns", "frozen")
        assert refused.value.value == 5
    with pytest.raises(OutOfBounds):
        await store.count_hits("ns", "frozen", 3, at=clock[0], now=clock[0])
    # an update within its bounds moves the pending hour but gives no way in to hits
    clock[0] += HOUR_MS
    assert await store.update("ns", "frozen", -1) == 4
    counter = await fields(store, redis, "frozen")
    assert counter["hh"] == str(clock[0] // HOUR_MS) and "fh" not in counter
    with pytest.raises(OutOfBounds):
        await store.hit("ns", "frozen")
    assert await store.get("ns", "frozen") == 4


async def test_a_counter_whose_bounds_change_later(
    store: Store, redis: Redis, clock: list[int]
) -> None:
    await store.hit("ns", "page")
    assert "fh" in await fields(store, redis, "page")
    await store.put("ns", "page", 10, now=clock[0], update_upperbound=0)
    assert "fh" not in await fields(store, redis, "page")
    with pytest.raises(OutOfBounds):
        await store.hit("ns", "page")
    await store.put("ns", "page", 10, now=clock[0], update_upperbound=2)
    assert (await store.hit("ns", "page")).value == 11  # the full path writes fh again
    assert (await fields(store, redis, "page"))["fh"] == str(clock[0] // HOUR_MS)
    assert (await store.hit("ns", "page")).value == 12
    # put changing something else keeps fh, still equal to the pending hour
    await store.put("ns", "page", 20, now=clock[0], enable_reset=True)
    assert (await store.hit("ns", "page")).value == 21
    await fields(store, redis, "page")
    # a counter created with the upper bound 0 by put has no fh either
    await store.put("ns", "closed", 3, now=clock[0], update_upperbound=0)
    assert "fh" not in await fields(store, redis, "closed")
    with pytest.raises(OutOfBounds):
        await store.hit("ns", "closed")


async def test_hour_rollover_and_late_hits_move_the_fast_field_with_the_pending_hour(
    store: Store, redis: Redis, clock: list[int]
) -> None:
    start = clock[0] - clock[0] % DAY_MS + 10 * HOUR_MS
    first = start // HOUR_MS
    clock[0] = start
    await store.hit("ns", "page")
    await store.hit("ns", "page")
    clock[0] += HOUR_MS  # the first hit of a later hour takes the full path
    assert (await store.hit("ns", "page")).value == 3
    counter = await fields(store, redis, "page")
    assert (counter["hh"], counter["fh"], counter["hv"]) == (str(first + 1), str(first + 1), "2")
    assert (await store.hit("ns", "page")).value == 4  # fast again
    # a late hit (an earlier hour) never matches fh: it lands in its own hour
    await store.count_hits("ns", "page", 5, at=start, now=clock[0])
    assert (await fields(store, redis, "page"))["fh"] == str(first + 1)
    # update moves the pending hour (and fh) too, then hits are fast in the new hour
    clock[0] += 2 * HOUR_MS
    assert await store.update("ns", "page", 1) == 10
    assert (await fields(store, redis, "page"))["fh"] == str(first + 3)
    assert (await store.hit("ns", "page")).value == 11
    _, hourly = await store.history("ns", "page", now=clock[0])
    assert hourly == {hour_name(first): 7, hour_name(first + 1): 2, hour_name(first + 3): 2}


async def test_int64_edge_with_coalesced_hits_on_the_fast_path(
    store: Store, redis: Redis, clock: list[int]
) -> None:
    await store.create("ns", "edge", value=INT64_MAX - 5, update_upperbound=INT64_MAX)
    assert "fh" in await fields(store, redis, "edge")
    before = await fields(store, redis, "edge")
    with pytest.raises(Overflow) as refused:
        await store.count_hits("ns", "edge", 6, at=clock[0], now=clock[0])
    assert refused.value.value == INT64_MAX - 5
    assert await fields(store, redis, "edge") == before  # nothing written
    result = await store.count_hits("ns", "edge", 5, at=clock[0], now=clock[0])
    assert result.value == INT64_MAX  # Redis's exact text, not a rounded double
    with pytest.raises(Overflow):
        await store.hit("ns", "edge")
    # just above 2^53 either way: a double would round these
    await store.create("ns", "big", value=2**53 + 1, update_upperbound=INT64_MAX)
    assert (await store.hit("ns", "big")).value == 2**53 + 2
    await store.create("ns", "low", value=-(2**53) - 10, update_lowerbound=-(2**62))
    assert (await store.count_hits("ns", "low", 3, at=clock[0], now=clock[0])).value == (
        -(2**53) - 7
    )


async def test_counters_written_before_the_fast_field_are_completed_by_their_next_hit(
    store: Store, redis: Redis, clock: list[int]
) -> None:
    hour = clock[0] // HOUR_MS
    # 0.2 layout without fh: one in its pending hour, one whose pending hour is over
    now = str(hour).encode()
    for key, pending in (("current", now), ("older", str(hour - 1).encode())):
        mapping = {"value": 7, "created": 1, "hh": pending, "hv": 5}
        await redis.hset(store.keys.counter("ns", key), mapping=mapping)
    assert (await store.hit("ns", "current")).value == 8
    assert (await fields(store, redis, "current"))["fh"] == str(hour)
    assert (await store.hit("ns", "older")).value == 8
    assert (await fields(store, redis, "older"))["fh"] == str(hour)
    assert (await store.history("ns", "current", now=clock[0]))[1] == {hour_name(hour): 3}
    older = (await store.history("ns", "older", now=clock[0]))[1]
    assert older == {hour_name(hour - 1): 2, hour_name(hour): 1}


async def test_old_layout_data_gets_the_fast_field_after_its_migration(
    store: Store, redis: Redis, prefix: str, clock: list[int]
) -> None:
    await load_fixture(redis, prefix)
    clock[0] = FIXTURE["t0_ms"] + DAY_MS + 3 * HOUR_MS
    hour = clock[0] // HOUR_MS
    counter = store.keys.counter("other", "x")
    assert await redis.hget(counter, "fh") is None
    assert (await store.hit("other", "x")).value == 2  # migrated, then hit
    assert await redis.hmget(counter, "fh", "hh") == [str(hour).encode()] * 2
    assert (await store.hit("other", "x")).value == 3
    assert await store.update("site", "big", 1) == INT64_MAX - 3  # bounds -5..5, reset on
    assert await redis.hget(store.keys.counter("site", "big"), "fh") is None  # an update: no fh
    assert (await store.hit("site", "big")).value == INT64_MAX - 2
    assert await redis.hget(store.keys.counter("site", "big"), "fh") == str(hour).encode()


async def test_a_counter_set_put_or_restored_then_hit(
    store: Store, redis: Redis, clock: list[int]
) -> None:
    hour = clock[0] // HOUR_MS
    await store.create("ns", "reset", enable_reset=True)
    for _ in range(3):
        await store.hit("ns", "reset")
    assert await store.set("ns", "reset", 100) == 3
    assert (await store.hit("ns", "reset")).value == 101
    await store.put("ns", "reset", 7, now=clock[0])
    assert (await store.hit("ns", "reset")).value == 8
    assert (await store.history("ns", "reset", now=clock[0]))[1] == {hour_name(hour): 5}
    await fields(store, redis, "reset")
    record = CounterRecord(40, 1, False, -1, 3, {})
    await store.restore("ns", "reset", record, now=clock[0])
    assert "fh" not in await fields(store, redis, "reset")
    assert (await store.hit("ns", "reset")).value == 41
    assert (await fields(store, redis, "reset"))["fh"] == str(hour)
    assert (await store.history("ns", "reset", now=clock[0]))[1] == {hour_name(hour): 1}


async def test_update_bounds_compare_as_numbers_and_as_text(store: Store) -> None:
    edge = 10**15  # 16 characters: compared as text; one less as exact doubles
    await store.create("ns", "wide", update_lowerbound=-edge, update_upperbound=edge)
    assert await store.update("ns", "wide", edge) == edge
    assert await store.update("ns", "wide", -edge) == 0
    for amount in (edge + 1, -edge - 1, 10 * edge):
        with pytest.raises(OutOfBounds):
            await store.update("ns", "wide", amount)
    await store.create("ns", "narrow", update_lowerbound=-3, update_upperbound=3)
    assert await store.update("ns", "narrow", -3) == -3
    for amount in (4, -4, edge, -INT64_MAX):
        with pytest.raises(OutOfBounds) as refused:
            await store.update("ns", "narrow", amount)
        assert refused.value.value == -3
    with pytest.raises(CounterNotFound):
        await store.update("ns", "missing", 0)


async def test_update_by_one_or_zero_where_a_hit_would_be_fast_and_elsewhere(
    store: Store, redis: Redis, clock: list[int]
) -> None:
    await store.hit("ns", "page")  # hit-created: bounds 0..1, fh set
    assert await store.update("ns", "page", 1) == 2
    assert await store.update("ns", "page", 0) == 2
    with pytest.raises(OutOfBounds):  # lower bound 0 (absent)
        await store.update("ns", "page", -1)
    await store.create("ns", "closed", value=3, update_lowerbound=-2, update_upperbound=0)
    assert await store.update("ns", "closed", 0) == 3  # no fh: the bounds are read
    with pytest.raises(OutOfBounds):
        await store.update("ns", "closed", 1)
    assert await store.update("ns", "closed", -2) == 1
    await store.create("ns", "edge", value=INT64_MAX, update_upperbound=5)
    before = await fields(store, redis, "edge")
    with pytest.raises(Overflow) as refused:
        await store.update("ns", "edge", 1)
    assert refused.value.value == INT64_MAX
    assert await fields(store, redis, "edge") == before
    clock[0] += HOUR_MS  # +1 in a new hour: the full path moves hh and fh
    assert await store.update("ns", "page", 1) == 3
    assert (await fields(store, redis, "page"))["fh"] == str(clock[0] // HOUR_MS)


@pytest.mark.parametrize("seed", range(6))
async def test_random_operations_match_a_model(
    store: Store, redis: Redis, clock: list[int], seed: int
) -> None:
    """Hits, late hits, updates, puts and new hours in random order: values, refusals and
    the hourly history match a plain model, and fh stays consistent after every step."""
    rng = random.Random(seed)
    clock[0] = clock[0] - clock[0] % DAY_MS + 12 * HOUR_MS
    value: int | None = None
    lower, upper = 0, 1
    hourly: dict[int, int] = {}

    def count(hour: int, amount: int) -> None:
        hourly[hour] = hourly.get(hour, 0) + amount

    for _ in range(40):
        hour = clock[0] // HOUR_MS
        step = rng.choice(["hit", "hit", "late", "update", "put", "hour"])
        if step == "hour":
            clock[0] += rng.choice([HOUR_MS, 2 * HOUR_MS])
        elif step in ("hit", "late"):
            n, at = rng.randint(1, 3), hour - (rng.randint(1, 3) if step == "late" else 0)
            if value is not None and upper < 1:
                with pytest.raises(OutOfBounds):
                    await store.count_hits("ns", "m", n, at=at * HOUR_MS, now=clock[0])
            else:
                if value is None:
                    value, lower, upper = 0, 0, 1
                result = await store.count_hits("ns", "m", n, at=at * HOUR_MS, now=clock[0])
                value += n
                count(at, n)
                assert result.value == value
        elif step == "update":
            amount = rng.randint(-2, 3)
            if value is None:
                with pytest.raises(CounterNotFound):
                    await store.update("ns", "m", amount)
            elif lower <= amount <= upper:
                value += amount
                count(hour, amount)
                assert await store.update("ns", "m", amount) == value
            else:
                with pytest.raises(OutOfBounds):
                    await store.update("ns", "m", amount)
        else:
            new_value, new_upper = rng.randint(-5, 50), rng.choice([None, 0, 1, 5])
            await store.put("ns", "m", new_value, now=clock[0], update_upperbound=new_upper)
            if value is None:
                lower, upper = -1, 1
            value = new_value
            upper = upper if new_upper is None else new_upper
        if value is not None:
            await fields(store, redis, "m")
    if value is not None:
        assert await store.get("ns", "m") == value
        _, stored = await store.history("ns", "m", now=clock[0])
        assert stored == {hour_name(h): c for h, c in sorted(hourly.items()) if c}
