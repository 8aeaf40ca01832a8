"""A page of a namespace's counters at a million counters: the sorted index against the set.

    python -m bench.index [--counters 1000000] [--redis-url URL]

Fills one namespace index with ``--counters`` keys, then times (median and p99 over
``--pages`` pages from random cursors):
- ``index page``: ``Store.namespace_page`` (ZRANGEBYLEX from the cursor, 100 keys);
- ``API page``: what ``GET /api/v0/counters?after=&limit=100`` does: that page plus the
  ``info`` of its counters in one pipelined round trip (the page's counters exist; the
  rest of the index is entries only);
- ``set (before 0.2)``: the old listing, SMEMBERS of the whole index, sorted, then filtered.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

from bench.env import header, redis_for_bench
from counter.engine.keys import Keys
from counter.engine.store import Store
from counter.runtime import connect

PAGE = 100


def name(n: int) -> str:
    return f"page-{n:08d}"


async def timed(call: Callable[[], Awaitable[object]], pages: int) -> tuple[float, float]:
    """(median, p99) milliseconds of ``pages`` calls."""
    samples = []
    for _ in range(pages):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


async def run(url: str, counters: int, pages: int) -> list[tuple[str, float, float]]:
    redis = connect(url)
    prefix = f"bench:index:{time.time_ns()}:"
    store = Store(redis, keys=Keys(prefix))
    index, legacy = store.keys.namespace_index("big"), f"{prefix}legacy-set"
    try:
        for first in range(0, counters, 10_000):
            members = [name(n) for n in range(first, min(first + 10_000, counters))]
            await redis.zadd(index, dict.fromkeys(members, 0))
            await redis.sadd(legacy, *members)
        cursors = [name(random.randrange(counters - PAGE - 1)) for _ in range(20)]
        for cursor in cursors:  # the counters on those pages exist
            start = int(cursor.split("-")[1]) + 1
            for n in range(start, start + PAGE):
                await store.hit("big", name(n))

        async def index_page() -> object:
            return await store.namespace_page("big", after=random.choice(cursors), count=PAGE + 1)

        async def api_page() -> object:
            keys = await store.namespace_page("big", after=random.choice(cursors), count=PAGE + 1)
            return await store.infos("big", keys[:PAGE])

        async def legacy_page() -> object:
            after = random.choice(cursors)
            keys = sorted(m.decode() for m in await redis.smembers(legacy))
            return [key for key in keys if key > after][:PAGE]

        return [
            ("index page (ZRANGEBYLEX, 100 keys)", *await timed(index_page, pages)),
            ("API page (index page + 100 info)", *await timed(api_page, pages)),
            ("set (before 0.2): SMEMBERS + sort + filter", *await timed(legacy_page, 5)),
        ]
    finally:
        async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
            await redis.unlink(key)
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.index",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--redis-url", help="default: a private redis-server started here")
    parser.add_argument("--counters", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args(argv)
    with redis_for_bench(args.redis_url) as url:
        extra = {"load": f"{args.counters} index entries, {args.pages} pages"}
        print(header("bench.index: a page of 100 counters", url, extra))
        print(f"{'listing':46} {'median ms':>10} {'p99 ms':>8}")
        for label, median, p99 in asyncio.run(run(url, args.counters, args.pages)):
            print(f"{label:46} {median:10.2f} {p99:8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
