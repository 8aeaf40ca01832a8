"""The 0.2 key layout on a real Redis: old-layout data read and migrated, compact history
(exact, bounded, late hits), the sorted namespace index and its pagination."""

from __future__ import annotations

import json
import time
from pathlib import Path

from redis.asyncio import Redis

from counter import Store
from counter.engine.keys import Keys

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
# Written by the release before this layout (commit 6520c50): its Store, on a simulated clock,
# hit site/home four times over two days, created site/big near INT64_MAX and updated it,
# hit other/x; every key dumped with HGETALL/SMEMBERS and PTTL (prefix "old:" stripped).
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "old_layout.json").read_text())


async def load_fixture(redis: Redis, prefix: str) -> None:
    for name, item in FIXTURE["keys"].items():
        key = prefix + name
        if item["type"] == "hash":
            await redis.hset(key, mapping=item["value"])
        else:
            await redis.sadd(key, *item["value"])
        if item["pttl"] > 0:
            await redis.pexpire(key, item["pttl"])


def day(offset_days: int) -> str:
    return time.strftime("%Y%m%d", time.gmtime((FIXTURE["t0_ms"] + offset_days * DAY_MS) / 1000))


async def test_old_layout_is_read_as_is_then_migrated_on_the_next_write(
    store: Store, redis: Redis, prefix: str, clock: list[int]
) -> None:
    await load_fixture(redis, prefix)
    clock[0] = FIXTURE["t0_ms"] + DAY_MS + 3 * HOUR_MS  # after the fixture's last hit (13:00)
    t0 = day(0)
    # reads: values, options and history exactly as the old release recorded them
    assert await store.get("site", "home") == 4
    info = await store.info("site", "big")
    assert (info.value, info.enable_reset, info.update_lowerbound) == (INT64_MAX - 4, True, -5)
    assert await store.namespace_keys("site") == ["big", "home"]  # the old SET index, converted
    assert await redis.type(store.keys.namespace_index("site")) == b"zset"
    daily, hourly = await store.history("site", "home", now=clock[0])
    assert daily == {t0: 3, day(1): 1}
    assert hourly == {f"{t0}10": 1, f"{t0}11": 2, f"{day(1)}12": 1}
    assert await redis.exists(store.keys.legacy_daily("site", "home")) == 0  # migrated by the read

    # writes migrate: old keys gone, history carried over, new counts on top
    assert (await store.hit("other", "x")).value == 2
    assert await store.update("site", "big", 1) == INT64_MAX - 3
    assert await store.set("site", "big", 7) == INT64_MAX - 3
    for name in ("other/x", "site/big"):
        namespace, key = name.split("/")
        assert await redis.exists(store.keys.legacy_daily(namespace, key)) == 0
        assert await redis.exists(store.keys.legacy_hourly(namespace, key, t0)) == 0
        assert await redis.hget(store.keys.counter(namespace, key), "updated") is None
    daily, hourly = await store.history("site", "big", now=clock[0])
    assert daily == {t0: -2, day(1): 1}  # -2 before; +1 now
    assert hourly == {f"{t0}15": -2, f"{day(1)}13": 1}
    daily, _ = await store.history("other", "x", now=clock[0])
    assert daily == {t0: 1, day(1): 1}


async def test_history_sums_stay_exact_beyond_int64(store: Store, clock: list[int]) -> None:
    await store.create(
        "big", "c", enable_reset=True, update_lowerbound=INT64_MIN, update_upperbound=INT64_MAX
    )
    await store.update("big", "c", INT64_MAX)
    await store.set("big", "c", 0)  # a reset keeps the hour's count
    await store.update("big", "c", INT64_MAX)
    await store.update("big", "c", -3)
    hour_name = time.strftime("%Y%m%d%H", time.gmtime(clock[0] / 1000))
    expected = 2 * INT64_MAX - 3
    assert (await store.history("big", "c", now=clock[0]))[1] == {hour_name: expected}
    clock[0] += HOUR_MS  # the hour moves into the stored string: exact decimal arithmetic
    await store.update("big", "c", INT64_MIN)
    _, hourly = await store.history("big", "c", now=clock[0])
    assert hourly[hour_name] == expected
    assert sum(hourly.values()) == expected + INT64_MIN


async def test_late_hits_land_in_their_own_hour(store: Store, clock: list[int]) -> None:
    now = clock[0] - clock[0] % DAY_MS + 12 * HOUR_MS
    clock[0] = now
    await store.count_hits("late", "c", 2, at=now, now=now)
    await store.count_hits("late", "c", 3, at=now - 5 * HOUR_MS, now=now)
    await store.count_hits("late", "c", 4, at=now - 3 * DAY_MS, now=now)
    assert (await store.hit("late", "c")).value == 10
    daily, hourly = await store.history("late", "c", now=now)
    name = time.strftime("%Y%m%d", time.gmtime(now / 1000))
    three_days_ago = time.strftime("%Y%m%d", time.gmtime((now - 3 * DAY_MS) / 1000))
    assert daily == {three_days_ago: 4, name: 6}
    assert hourly == {f"{three_days_ago}12": 4, f"{name}07": 3, f"{name}12": 3}


async def test_history_is_bounded_by_the_ttl_and_seven_days(
    redis: Redis, prefix: str, clock: list[int]
) -> None:
    store = Store(redis, keys=Keys(prefix), clock=lambda: clock[0], ttl_ms=20 * DAY_MS)
    start = clock[0] - clock[0] % DAY_MS
    for step in range(0, 40 * 24, 5):  # a hit every 5 hours for 40 days
        clock[0] = start + step * HOUR_MS
        await store.hit("bounded", "c")
    stored = (await redis.get(store.keys.history("bounded", "c"))).decode()
    daily_text, hourly_text = stored.split(";")
    assert len(daily_text.split(":")[1].split(",")) <= 20 + 2
    assert len(hourly_text.split(":")[1].split(",")) <= 192
    daily, hourly = await store.history("bounded", "c", now=clock[0])
    assert len(daily) == 20 + 2 and min(daily) == _day_name(clock[0] - 21 * DAY_MS)
    assert sum(hourly.values()) == len(range(0, 40 * 24, 5)) - len(range(0, (40 - 8) * 24, 5))


async def test_put_and_restore_keep_history_apart_from_the_value(
    store: Store, clock: list[int]
) -> None:
    from counter.engine.records import CounterRecord

    await store.hit("keep", "c")
    await store.put("keep", "c", 100, now=clock[0])
    assert (await store.hit("keep", "c")).value == 101
    daily, _ = await store.history("keep", "c", now=clock[0])
    assert list(daily.values()) == [2]
    record = CounterRecord(5, 1, False, -1, 1, {"20260101": INT64_MAX, "20260102": -4})
    await store.restore("keep", "c", record, now=clock[0])
    assert await store.get("keep", "c") == 5
    store.ttl_ms = 10 * 365 * DAY_MS  # keep 2026-01-01 inside the window whatever today is
    daily, hourly = await store.history("keep", "c", now=clock[0])
    assert (daily, hourly) == ({"20260101": INT64_MAX, "20260102": -4}, {})


async def test_the_index_pages_from_a_cursor(store: Store, redis: Redis) -> None:
    index = store.keys.namespace_index("paged")
    await redis.sadd(index, *(f"k{n:03d}" for n in range(150)))  # as an old release left it
    await store.hit("paged", "k150")  # converts the set, then adds
    first = await store.namespace_page("paged", after="", count=100)
    rest = await store.namespace_page("paged", after=first[-1], count=100)
    assert first + rest == [f"k{n:03d}" for n in range(151)]
    await store.forget_keys("paged", ["k000", "k150"])
    assert await store.namespace_page("paged", after="k148", count=5) == ["k149"]


def _day_name(ms: int) -> str:
    return time.strftime("%Y%m%d", time.gmtime(ms / 1000))
