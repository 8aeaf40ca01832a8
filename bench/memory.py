"""Bytes of Redis per counter, measured with ``MEMORY USAGE`` on a simulated clock.

    python -m bench.memory [--redis-url URL]

Shapes (each a fresh counter driven through the real Store and its scripts):
- ``hit once``: created by one /hit;
- ``hit every hour``: one hit per hour for the whole ttl (daily history for every day the
  ttl spans, hourly for the last 7 days: 351 numbers);
- ``1000 hits every hour``: the same with four-digit hourly and five-digit daily counts.
The bytes are the sum of ``MEMORY USAGE`` over every key of the counter (any layout: the keys
are found by their ``{ns/key}`` hash tag), so releases can be compared. The namespace index
entry is reported apart, from ``used_memory`` over many hit-once counters. Redis's encoding
thresholds are printed: the figures hold for the defaults (hash-max-listpack-entries 512,
-value 64), which a user's own Redis will have; the 0.2 layout never relies on them (its
counter hash has at most 8 fields, its history is one string).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from bench.env import header, redis_for_bench
from counter.engine.keys import Keys
from counter.engine.store import DEFAULT_TTL_MS, Store
from counter.runtime import connect

HOUR_MS = 3_600_000


async def counter_bytes(redis: Any, prefix: str, namespace: str, key: str) -> tuple[int, int]:
    """(bytes, keys) of every key carrying the counter's hash tag."""
    total = count = 0
    async for name in redis.scan_iter(match=f"{prefix}*{{{namespace}/{key}}}*", count=1000):
        total += int(await redis.memory_usage(name, samples=0) or 0)
        count += 1
    return total, count


async def measure(url: str, index_counters: int, hours: int) -> list[tuple[str, int, int]]:
    redis = connect(url)
    prefix = f"bench:mem:{time.time_ns()}:"
    # The real now for one hit; the long shapes end at it (releases that expire hourly
    # buckets at a wall-clock time must see them alive, as they would be in production).
    clock = [time.time_ns() // 1_000_000]
    store = Store(redis, keys=Keys(prefix), clock=lambda: clock[0])
    rows = []
    try:
        await store.hit("mem", "once")
        rows.append(("hit once", *await counter_bytes(redis, prefix, "mem", "once")))
        start = clock[0] - (hours - 1) * HOUR_MS
        for hits, name in ((1, "hourly"), (1000, "busy")):
            for hour in range(hours):
                clock[0] = start + hour * HOUR_MS
                await store.count_hits("mem", name, hits, at=clock[0], now=clock[0])
            label = "hit every hour" if hits == 1 else "1000 hits every hour"
            rows.append((f"{label}, {hours} h", *await counter_bytes(redis, prefix, "mem", name)))
        before = int((await redis.info("memory"))["used_memory"])
        for n in range(index_counters):
            await store.hit("idx", f"page-{n:07d}")
        after = int((await redis.info("memory"))["used_memory"])
        rows.append((f"used_memory per hit-once counter (x{index_counters}, index included)",
                     (after - before) // max(index_counters, 1), 0))  # fmt: skip
    finally:
        async for name in redis.scan_iter(match=f"{prefix}*", count=1000):
            await redis.unlink(name)
        await store.close()
    return rows


async def thresholds(url: str) -> str:
    redis = connect(url)
    try:
        found = {}
        for pattern in ("hash-max-*", "set-max-intset-entries"):
            found.update(await redis.config_get(pattern))
    finally:
        await redis.aclose()
    return ", ".join(f"{name} {value}" for name, value in sorted(found.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--redis-url", help="default: a private redis-server started here")
    parser.add_argument("--index-counters", type=int, default=10_000)
    parser.add_argument(
        "--hours", type=int, default=DEFAULT_TTL_MS // HOUR_MS, help="default: the whole ttl"
    )
    args = parser.parse_args(argv)
    with redis_for_bench(args.redis_url) as url:
        print(header("bench.memory: Redis bytes per counter", url,
                     {"thresholds": asyncio.run(thresholds(url))}))  # fmt: skip
        print(f"{'shape':62} {'bytes':>7} {'keys':>5}")
        for name, size, keys in asyncio.run(measure(url, args.index_counters, args.hours)):
            print(f"{name:62} {size:7d} {keys if keys else '':>5}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
