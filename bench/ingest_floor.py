"""How low can a GoatCounter hit on a path of its own go in Redis? The floor, measured.

    python -m bench.ingest_floor --calls 600

Issue 9 asks ``POST /api/v0/count`` for at most 3x the minimal script's Redis time per hit.
With every hit of a batch on a different path (``bench.compare``'s ``batch`` row) nothing
is shared between hits, so each one costs what its own statistics need. This prints, on one
private Redis and in one run, Redis time per hit (``INFO commandstats`` and ``INFO cpu``,
``bench/redis_cost.py``) and its ratio to the minimal script (``HINCRBY`` + ``PEXPIRE`` at
P=16, through ``redis-benchmark``) for:

1. what ships: ``count_hits`` (``hit_many.lua``, 100 counters a call), ``log_hits`` and
   ``record_stats`` as ``Ingest`` sends them, 100 random paths of 10,000 per call;
2. two *lean* scripts that are not shipped, written only to find the floor: no argument
   checks, no path creation, titles, referrers or site totals, one argument per path:
   - ``increments``: the path's id looked up, its all-time total and its day and month
     rankings each incremented (one ``HMGET`` + one ``HSET`` per key for the whole call);
   - ``+ hours``: that, plus the path's hourly visits and pageviews for the day (its year
     hash, one ``HMGET`` + ``HSET`` each, the 24 counts changed in place as shipped).

If the lean rows alone, plus ``count_hits``, exceed 3x, no rewrite of ``record_stats`` that
keeps these statistics per hit can meet the target on such batches (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import redis

from bench.env import header, redis_for_bench
from bench.redis_cost import Usage, redis_benchmark, script_argv
from counter.engine.hits import Hit
from counter.engine.keys import Keys
from counter.engine.records import LogLimits
from counter.engine.sitehits import stat_hit
from counter.engine.statbatch import StatLimits, path_digest
from counter.engine.store import Store
from counter.runtime import connect

PATHS, PER_CALL = 10_000, 100
LIMITS = StatLimits(retention_ms=400 * 86_400_000, member_cap=1000, max_paths=100_000)
LOG = LogLimits(max_entries=10_000_000, max_age_ms=400 * 86_400_000, visit_window_ms=8 * 3600_000)

# KEYS: path ids, path totals, day ranking, month ranking. ARGV: the hour, mmdd, then digests.
INCREMENTS = """
local digests = {}
for i = 3, #ARGV do digests[#digests + 1] = ARGV[i] end
redis.call('HMGET', KEYS[1], unpack(digests))
for k = 2, 4 do
  local current = redis.call('HMGET', KEYS[k], unpack(digests))
  local writes = {}
  for i = 1, #digests do
    writes[2 * i - 1] = digests[i]
    writes[2 * i] = string.format('%.0f', (tonumber(current[i]) or 0) + 1)
  end
  redis.call('HSET', KEYS[k], unpack(writes))
end
"""
# ... then each path's year hash (KEYS[5..], one per digest): hour +1 in place, pageviews +1.
HOURS = """
local hour, mmdd = tonumber(ARGV[1]), ARGV[2]
local pattern = hour == 0 and '^()(%d+)(.*)$' or '^(' .. string.rep('%d+,', hour) .. ')(%d+)(.*)$'
local zeros = '0' .. string.rep(',0', 23)
for i = 1, #digests do
  local key = KEYS[4 + i]
  local current = redis.call('HMGET', key, mmdd, mmdd .. 'p')
  local before, value, after = string.match(current[1] or zeros, pattern)
  if hour == 0 then before = '' end
  redis.call('HSET', key, mmdd, before .. string.format('%.0f', tonumber(value) + 1) .. after,
    mmdd .. 'p', string.format('%.0f', (tonumber(current[2]) or 0) + 1))
end
"""


def minimal(url: str, prefix: str) -> tuple[float, float]:
    result = redis_benchmark(url, script_argv(url, prefix, "minimal"), connections=16,
                             pipeline=16, keys=PATHS, requests=200_000)  # fmt: skip
    if result is None:
        sys.exit("redis-benchmark is needed (apt-get install redis-tools)")
    return result.redis_us, result.cpu_us


def measured(url: str, calls: int, run: Callable[[int], None]) -> tuple[float, float]:
    for n in range(calls // 4):  # warm: keys, fields and encodings of the steady state
        run(n)
    before = Usage.read(url)
    for n in range(calls):
        run(n)
    return before.per_op(Usage.read(url), calls * PER_CALL)


def lean(url: str, calls: int, prefix: str, with_hours: bool) -> tuple[float, float]:
    client = redis.Redis.from_url(url)
    sha = client.script_load(INCREMENTS + (HOURS if with_hours else "") + "return 1")
    moment = datetime.now(UTC)
    stem = f"{prefix}{{lean}}:"
    digests = [path_digest(f"/key{n}") for n in range(PATHS)]
    client.hset(f"{stem}pid", mapping={digest: str(n) for n, digest in enumerate(digests)})
    chooser = random.Random(1)

    def run(n: int) -> None:
        chosen = chooser.sample(digests, PER_CALL)
        keys = [f"{stem}pid", f"{stem}ptot", f"{stem}pd", f"{stem}pm"]
        if with_hours:
            keys += [f"{stem}y:{digest}" for digest in chosen]
        client.evalsha(sha, len(keys), *keys, moment.hour, moment.strftime("%m%d"), *chosen)

    try:
        return measured(url, calls, run)
    finally:
        client.close()


async def shipped(url: str, calls: int, prefix: str) -> dict[str, tuple[float, float]]:
    redis_client = connect(url)
    store = Store(redis_client, keys=Keys(prefix))
    chooser = random.Random(2)

    def batch() -> list[Hit]:
        now = int(time.time() * 1000)
        return [Hit(f"/key{n}", f"key{n}", "", False, "", "", 0, "", "", "", "", now)
                for n in chooser.sample(range(PATHS), PER_CALL)]  # fmt: skip

    async def count(hits: list[Hit]) -> None:
        await store.count_batch("floor", [(hit.key, 1, hit.created_at) for hit in hits],
                                now=hits[0].created_at)  # fmt: skip

    async def log(hits: list[Hit]) -> list[bool]:
        rows = [hit.log_row() for hit in hits]
        _, _, visits = await store.log_hits_with_visits(
            "floor", rows, now=hits[0].created_at, limits=LOG
        )
        return visits

    async def stats(hits: list[Hit], visits: list[bool]) -> None:
        await store.record_site_stats(
            "floor", [stat_hit(h, visit=v, language="") for h, v in zip(hits, visits, strict=True)],
            LIMITS,
        )  # fmt: skip

    async def step(name: str, work: Callable[[list[Hit]], Awaitable[object]]) -> None:
        for _ in range(calls // 4):
            hits = batch()
            await count(hits)
            await stats(hits, await log(hits))
        prepared = [batch() for _ in range(calls)]
        visits = [await log(hits) for hits in prepared] if name == "record_stats" else []
        before = Usage.read(url)
        for n, hits in enumerate(prepared):
            await (stats(hits, visits[n]) if name == "record_stats" else work(hits))
        results[name] = before.per_op(Usage.read(url), calls * PER_CALL)

    results: dict[str, tuple[float, float]] = {}
    await step("count_hits", count)
    await step("log_hits", log)
    await step("record_stats", lambda hits: stats(hits, []))
    await redis_client.aclose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_floor", description=__doc__)
    parser.add_argument("--redis-url", help="default: a private redis-server")
    parser.add_argument("--calls", type=int, default=600, help="script calls per row")
    args = parser.parse_args(argv)
    prefix = f"floor:{uuid.uuid4().hex[:6]}:"
    with redis_for_bench(args.redis_url) as url:
        print(header("bench.ingest_floor", url))
        reference = minimal(url, prefix)
        rows = {"minimal script (HINCRBY + PEXPIRE), P=16, per call": reference}
        ship = asyncio.run(shipped(url, args.calls, prefix))
        rows.update({f"shipped {name}, per hit": cost for name, cost in ship.items()})
        rows["lean increments (no hours), per hit"] = lean(url, args.calls, prefix, False)
        rows["lean increments + hours, per hit"] = lean(url, args.calls, prefix, True)
        print(f"\n{PER_CALL} random paths of {PATHS:,} per call, {args.calls} calls per row\n")
        print("| row | commandstats µs | CPU µs | x minimal (commandstats) | x minimal (CPU) |")
        print("|---|---:|---:|---:|---:|")
        for name, (usec, cpu) in rows.items():
            print(f"| {name} | {usec:.2f} | {cpu:.2f} | {usec / reference[0]:.2f} | "
                  f"{cpu / reference[1]:.2f} |")  # fmt: skip
        count = ship["count_hits"]
        for lean_row in ("lean increments (no hours), per hit", "lean increments + hours, per hit"):
            usec, cpu = rows[lean_row]
            print(f"\ncount_hits + {lean_row.removeprefix('lean ').removesuffix(', per hit')}: "
                  f"{(count[0] + usec) / reference[0]:.2f}x (commandstats), "
                  f"{(count[1] + cpu) / reference[1]:.2f}x (CPU) the minimal script")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
