"""The batched ingest scripts: a batch summed per key and field gives the statistics its hits
give one by one; malformed script input is refused with nothing written; the hit log packs a
batch into one entry and still reads entries written one hit each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from counter import InvalidInput, Store
from counter.engine.base import as_text
from counter.engine.hits import LOG_FIELDS
from counter.engine.records import LogLimits
from counter.engine.scripts import Status, load
from counter.engine.statbatch import StatBatch, StatHit, StatLimits, path_digest
from counter.engine.store import wall_clock_ms
from tests.conftest import keys_under

LOG = LogLimits(max_entries=1000, max_age_ms=86_400_000, visit_window_ms=3_600_000)
FIREFOX, CHROME = "Firefox\t133", "Chrome\t131"


def mixed_hits(now: int) -> list[StatHit]:
    """Repeated paths, browsers and referrers over two days and several hours; bots, events,
    repeat views, titles that change, more newcomers than the caps take."""
    base = now - now % 3_600_000
    yesterday = base - 86_400_000 - 5 * 3_600_000
    spec: list[tuple[str, str, bool, bool, bool, int, str, str, str]] = [
        # path, title, event, visit, bot, at, browser, size, ref
        ("/a", "A", False, True, False, base, FIREFOX, "1920", "h\tx.org"),
        ("/a", "", False, True, False, base, CHROME, "390", "h\tx.org"),
        ("/b", "B", False, False, False, base + 60_000, FIREFOX, "1920", ""),
        ("/a", "A2", False, True, False, yesterday, FIREFOX, "1920", "h\ty.org"),
        ("/bot", "Bot", False, True, True, base, "", "", ""),
        ("/c", "", True, True, False, base + 120_000, "Safari\t18", "1280", "h\tz.org"),
        ("/b", "B2", False, True, False, base + 180_000, "Edge\t131", "0", "o\tmail"),
        ("/d", "D", False, True, False, yesterday, "Opera\t100", "800", "h\tw.org"),
        ("/e", "E", False, True, False, base, "Vivaldi\t6", "640", ""),
        ("/a", "A3", False, False, False, base, FIREFOX, "1920", ""),
        ("/c", "C", True, True, False, base + 3_600_000, FIREFOX, "1280", "h\tz.org"),
    ]
    return [
        StatHit(path, title, event, visit, bot, at,
                {"browser": browser, "system": "Linux\t", "size": size, "location": "NL",
                 "campaign": ""}, ref)
        for path, title, event, visit, bot, at, browser, size, ref in spec
    ]  # fmt: skip


async def dump(redis: Redis, store: Store, namespace: str) -> dict[str, Any]:
    """Every statistics key of ``namespace``, by its name after the namespace."""
    stem = store.keys.site_stat(namespace, "")
    found: dict[str, Any] = {}
    for raw in await keys_under(redis, stem.replace("{", "\\{").replace("}", "\\}")):
        key = raw.decode()
        kind = as_text(await redis.type(key))
        if kind == "hash":
            value: Any = await redis.hgetall(key)
        else:
            assert kind == "zset", key
            value = await redis.zrange(key, 0, -1, withscores=True)
        ttl = await redis.pttl(key)
        found[key[len(stem) :]] = (value, ttl // 60_000 if ttl > 0 else ttl)
    return found


@pytest.mark.parametrize("caps", [(1000, 1000), (3, 2)])
async def test_a_batch_gives_the_statistics_of_its_hits_sent_one_by_one(
    store: Store, redis: Redis, caps: tuple[int, int]
) -> None:
    limits = StatLimits(retention_ms=86_400_000, member_cap=caps[0], max_paths=caps[1])
    now = wall_clock_ms()
    hits = mixed_hits(now)
    created = await store.record_site_stats("batched", hits, limits)
    one_by_one = [await store.record_site_stats("single", [hit], limits) for hit in hits]
    assert created == sum(one_by_one) == min(5, caps[1])
    batched, single = await dump(redis, store, "batched"), await dump(redis, store, "single")
    assert batched == single
    assert len(batched) > 20  # paths, years, months, days, rankings, dimensions, referrers
    if caps[0] == 3:  # the capped sets took newcomers in the order of their first hit
        today = datetime.fromtimestamp(now / 1000, UTC).strftime("%Y%m%d")
        members = dict(batched[f"d:browser:{today}"][0])
        assert members == {FIREFOX.encode(): 2, CHROME.encode(): 1, b"Safari\t18": 1,
                           b"(other)": 2}  # fmt: skip


async def test_every_hour_of_a_day_is_counted_in_its_place(store: Store, redis: Redis) -> None:
    """Hourly counts change one hour in place: every hour, in a batch and one by one."""
    limits = StatLimits(retention_ms=86_400_000, member_cap=10, max_paths=10)
    now = wall_clock_ms()
    midnight = now - now % 86_400_000 - 86_400_000
    dims = {"browser": FIREFOX}
    hits = [
        StatHit(f"/{n % 2}", "", n % 3 == 0, True, False, midnight + hour * 3_600_000, dims, "")
        for n, hour in enumerate([*range(24), *range(23, -1, -2), 0, 23])
    ]
    await store.record_site_stats("batched", hits, limits)
    for hit in hits:
        await store.record_site_stats("single", [hit], limits)
    batched, single = await dump(redis, store, "batched"), await dump(redis, store, "single")
    assert batched == single
    day = datetime.fromtimestamp(midnight / 1000, UTC)
    [visits] = [value[f"{day:%d}v".encode()] for name, (value, _) in batched.items()
                if name == f"m:{day:%Y%m}"]  # fmt: skip
    assert visits.decode() == ",".join(["2"] + ["2", "1"] * 11 + ["3"])  # odd hours twice


def _valid_stats_call(store: Store) -> tuple[list[str], list[str]]:
    batch = StatBatch(lambda name: store.keys.site_stat("v", name), StatLimits(86_400_000, 5, 5))
    for hit in mixed_hits(wall_clock_ms()):
        batch.add(hit)
    fixed = [store.keys.site_stat("v", name) for name in ("pid", "pinfo", "ptot", "meta")]
    keys, args = batch.keys_and_args(fixed, set())
    return keys, [str(arg) for arg in args]


def _layout(keys: list[str], args: list[str]) -> tuple[int, int, list[int]]:
    """Where the paths and the first hash start, and where every sorted set starts (0-based)."""
    paths_at = 6 + len(keys) - 4
    at = paths_at + 3 * int(args[3])
    hashes_at = at
    for _ in range(int(args[4])):
        at += 3 + 2 * int(args[at + 2])
    zsets = []
    for _ in range(int(args[5])):
        zsets.append(at)
        at += 3 + 3 * int(args[at + 2])
    assert at == len(args)
    return paths_at, hashes_at, zsets


def _malformed(keys: list[str], args: list[str], case: str) -> tuple[list[str], str]:
    paths_at, hash_at, zsets = _layout(keys, args)
    hourly = next(i for i, arg in enumerate(args) if i > hash_at and arg.startswith("@"))
    bad = list(args)
    changes: dict[str, tuple[int, str]] = {
        "member_cap": (0, "0"),
        "day": (2, "2026-01-01"),
        "expire_at": (6, "-5"),
        "digest": (paths_at, "not-hex"),
        "visits": (paths_at + 1, "-1"),
        "event": (paths_at + 2, "2" + args[paths_at + 2][1:]),
        "path info": (paths_at + 2, args[paths_at + 2].replace("\t", " ", 1)),
        "hash key": (hash_at, "2"),  # pinfo: not a counting hash
        "path": (hash_at + 1, str(int(args[3]) + 1)),
        "size": (hash_at + 2, "99"),
        "hour": (hourly, "@24:1"),
        "spec": (hourly, args[hourly] + "@"),
        "integer": (hash_at + 4, "+0"),
        "zset key": (zsets[0], "4"),
        "capped": (zsets[0] + 1, "x"),
        "kind": (zsets[0] + 1, "3"),  # 0 sorted set, 1 capped, 2 hash of counts
        "zset path": (zsets[-1] + 3, "-1"),
        "amount": (len(args) - 1, "0"),
    }
    if case == "count":
        bad.append("1")
    else:
        position, value = changes[case]
        bad[position] = value
    assert bad != args
    return bad, {"member_cap": "member_cap", "day": "day", "expire_at": "expire_at"}.get(
        case, "hits"
    )


@pytest.mark.parametrize(
    "case",
    ["member_cap", "day", "count", "expire_at", "digest", "visits", "event", "path info",
     "hash key", "path", "size", "hour", "spec", "integer", "zset key", "capped", "kind",
     "zset path", "amount"],
)  # fmt: skip
async def test_record_stats_refuses_malformed_input_and_writes_nothing(
    store: Store, redis: Redis, prefix: str, case: str
) -> None:
    keys, args = _valid_stats_call(store)
    bad, name = _malformed(keys, args, case)
    reply = await redis.eval(load("record_stats").text, len(keys), *keys, *bad)
    assert reply[0] == Status.INVALID and reply[1].decode() == name, reply
    assert await keys_under(redis, prefix) == []
    with pytest.raises(InvalidInput, match=name):
        await store._eval("record_stats", keys, bad)
    assert await keys_under(redis, prefix) == []
    reply = await redis.eval(load("record_stats").text, len(keys), *keys, *args)
    assert reply[0] == Status.OK  # the unmodified call is accepted


def row(path: str, session: str = "", at: int | None = None, title: str = "") -> list[str]:
    at = wall_clock_ms() if at is None else at
    return [path, title, "0", "ua\tx", session, "0", "", "", "", "q=\n", str(at)]


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["[]", "0", "1", "5", "5", "5"], "hits"),
        (["{}", "1", "1", "5", "5", "5"], "hits"),
        (["[]", "1", "x", "5", "5", "5"], "now"),
        (["[]", "1", "1", "0", "5", "5"], "max_entries"),
        (["[]", "1", "1", "5", "0", "5"], "max_age"),
        (["[]", "1", "1", "5", "5", "-1"], "visit_window"),
        (["[]", "1", "1", "5", "5", "5", "1", "s\n/a"], "sessions"),
        (["[]", "1", "1", "5", "5", "5", "2", "s\n/a", "1"], "sessions"),
        (["[]", "1", "1", "5", "5", "5", "1", "", "1"], "sessions"),
    ],
)
async def test_log_hits_refuses_malformed_input_and_writes_nothing(
    store: Store, redis: Redis, prefix: str, argv: list[str], name: str
) -> None:
    keys = [store.keys.hit_log("v"), store.keys.hit_sequence("v"), store.keys.recent_visits("v")]
    reply = await redis.eval(load("log_hits").text, 3, *keys, *argv)
    assert reply[0] == Status.INVALID and reply[1].decode() == name, reply
    assert await keys_under(redis, prefix) == []


@pytest.mark.parametrize(
    "rows", [[], [["/a"] * 10], [[*row("/a")[:2], "2", *row("/a")[3:]]], [[*row("/a")[:10], "x"]]]
)
async def test_the_store_refuses_rows_it_cannot_pack(
    store: Store, redis: Redis, prefix: str, rows: list[list[str]]
) -> None:
    with pytest.raises(InvalidInput, match="hits"):
        await store.log_hits("v", rows, now=wall_clock_ms(), limits=LOG)
    assert await keys_under(redis, prefix) == []


async def test_a_batch_is_one_log_entry_read_back_hit_by_hit(store: Store, redis: Redis) -> None:
    now = wall_clock_ms()
    rows = [row(f"/p{n}", "s1" if n % 2 else "", now, title=f"T{n}") for n in range(7)]
    assert await store.log_hits("ns", rows, now=now, limits=LOG) == (1, 7)
    assert await store.log_hits("ns", rows[:2], now=now, limits=LOG) == (8, 9)
    assert await redis.xlen(store.keys.hit_log("ns")) == 2
    everything = await store.read_hit_log("ns", after=0, until=9, count=100)
    assert [hit_id for hit_id, _ in everything] == list(range(1, 10))
    assert everything[3][1] == {**dict(zip(LOG_FIELDS, rows[3], strict=True)), "fv": "1"}
    assert [hit["fv"] for _, hit in everything] == ["1"] * 7 + ["1", "0"]  # s1 saw /p1 at 2
    # a cursor inside a batch, an end inside the next, and pages smaller than a batch
    middle = await store.read_hit_log("ns", after=5, until=8, count=100)
    assert [hit_id for hit_id, _ in middle] == [6, 7, 8]
    pages, after = [], 0
    while page := await store.read_hit_log("ns", after=after, until=9, count=2):
        pages.append([hit_id for hit_id, _ in page])
        after = page[-1][0]
    assert pages == [[1, 2], [3, 4], [5, 6], [7, 8], [9]]


async def test_entries_written_one_hit_each_are_still_read_and_numbered(
    store: Store, redis: Redis
) -> None:
    """The log as the release before wrote it (an entry per hit, its fields by name), then
    batches: ids continue, and both read back the same way."""
    now = wall_clock_ms()
    log = store.keys.hit_log("ns")
    old = [row(f"/old{n}", "s1", now - 1000, title=f"Old {n}") for n in range(3)]
    for hit_id, fields in enumerate(old, 1):
        entry: dict[Any, Any] = dict(zip(LOG_FIELDS, fields, strict=True))
        entry["fv"] = "1" if hit_id == 1 else "0"
        await redis.xadd(log, entry, id=f"{hit_id}-{now - 1000}")
    await redis.set(store.keys.hit_sequence("ns"), 3)
    assert await store.log_hits("ns", [row("/new"), row("/new2")], now=now, limits=LOG) == (4, 5)
    hits = await store.read_hit_log("ns", after=1, until=5, count=10)
    assert [(hit_id, hit["p"], hit["fv"]) for hit_id, hit in hits] == [
        (2, "/old1", "0"), (3, "/old2", "0"), (4, "/new", "1"), (5, "/new2", "1"),
    ]  # fmt: skip
    assert hits[0][1]["t"] == "Old 1" and hits[0][1]["ua"] == "ua\tx"
    await redis.delete(store.keys.hit_sequence("ns"))  # lost: ids continue after the log
    assert await store.log_hits("ns", [row("/x")], now=now, limits=LOG) == (6, 6)


async def test_trimming_by_count_keeps_at_least_the_newest_hits_in_whole_batches(
    store: Store, redis: Redis
) -> None:
    now = wall_clock_ms()
    small = LogLimits(max_entries=25, max_age_ms=LOG.max_age_ms, visit_window_ms=1)
    for _ in range(10):
        await store.log_hits("ns", [row("/p")] * 10, now=now, limits=small)
    kept = [hit_id for hit_id, _ in await store.read_hit_log("ns", after=0, until=100, count=1000)]
    assert kept == list(range(71, 101))  # the last 25 hits, in whole batches of 10
    later = datetime.fromtimestamp(now / 1000, UTC) + timedelta(days=2)
    await store.log_hits("ns", [row("/q")], now=int(later.timestamp() * 1000), limits=small)
    left = await store.read_hit_log("ns", after=0, until=1000, count=1000)
    assert [(hit_id, hit["p"]) for hit_id, hit in left] == [(101, "/q")]  # aged out
    entries: Any = await redis.xrange(store.keys.hit_log("ns"))
    assert orjson.loads(entries[0][1][b"h"])[0][0] == "/q" and len(entries) == 1


async def test_batches_larger_than_one_redis_call_are_split_inside_the_scripts(
    store: Store, redis: Redis
) -> None:
    """Lua's unpack takes a few thousand values: 1,500 paths and 1,500 sessions in one batch."""
    now = wall_clock_ms()
    limits = StatLimits(retention_ms=86_400_000, member_cap=5000, max_paths=5000)
    hits = [StatHit(f"/p{n % 1500}", "", False, True, False, now, {}, "") for n in range(3000)]
    assert await store.record_site_stats("big", hits, limits) == 1500
    totals = await redis.hgetall(store.keys.site_stat("big", "ptot"))
    assert len(totals) == 1500 and set(totals.values()) == {b"2"}
    day = datetime.fromtimestamp(now / 1000, UTC).strftime("%Y%m%d")
    ranking = await redis.hgetall(store.keys.site_stat("big", f"pd:{day}"))
    assert len(ranking) == 1500 and set(ranking.values()) == {b"2"}
    rows = [row(f"/p{n % 1500}", f"s{n % 1500}", now) for n in range(3000)]
    first, last, visits = await store.log_hits_with_visits("big", rows, now=now, limits=LOG)
    assert (first, last, visits) == (1, 3000, [True] * 1500 + [False] * 1500)
    assert await redis.zcard(store.keys.recent_visits("big")) == 1500


async def test_reading_a_few_hits_fetches_a_few_batches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = wall_clock_ms()
    roomy = LogLimits(max_entries=10_000, max_age_ms=86_400_000, visit_window_ms=1)
    for _ in range(20):
        await store.log_hits("ns", [row("/p")] * 100, now=now, limits=roomy)
    asked: list[int] = []
    xrange = store.redis.xrange

    async def counted(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs["count"])
        return await xrange(*args, **kwargs)

    monkeypatch.setattr(store.redis, "xrange", counted)
    hits = await store.read_hit_log("ns", after=50, until=2000, count=150)
    assert [hit_id for hit_id, _ in hits] == list(range(51, 201)) and sum(asked) <= 3
    asked.clear()
    assert len(await store.read_hit_log("ns", after=0, until=2000, count=5000)) == 2000
    assert max(asked) <= 100 and len(asked) <= 3


async def test_path_rankings_add_the_sorted_sets_earlier_releases_wrote(
    store: Store, redis: Redis
) -> None:
    """Rankings are hashes now; the sorted sets written before count until they expire."""
    now = wall_clock_ms()
    moment = datetime.fromtimestamp(now / 1000, UTC)
    day, month = moment.strftime("%Y%m%d"), moment.strftime("%Y%m")
    a, b, c = (path_digest(path) for path in ("/a", "/b", "/c"))
    # what an earlier release left: the same visits in the day's and the month's sorted set
    for name in (f"td:{day}", f"tm:{month}"):
        await redis.zadd(store.keys.site_stat("mix", name), {a: 3, b: 1})
    limits = StatLimits(retention_ms=86_400_000, member_cap=50, max_paths=50)
    hits = [StatHit(path, "", False, True, False, now, {}, "") for path in ("/b", "/b", "/b", "/c")]
    await store.record_site_stats("mix", hits, limits)
    assert await redis.type(store.keys.site_stat("mix", f"pd:{day}")) == b"hash"
    assert await store.path_ranking("mix", [moment.date()]) == [(b, 4), (a, 3), (c, 1)]
    whole_month = [
        moment.date().replace(day=1) + timedelta(days=n)
        for n in range(31)
        if (moment.date().replace(day=1) + timedelta(days=n)).month == moment.month
    ]  # a whole month is read from the month keys
    assert await store.path_ranking("mix", whole_month) == [(b, 4), (a, 3), (c, 1)]
