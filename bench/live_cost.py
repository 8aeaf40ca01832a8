"""What live updates cost the hot path: Redis CPU per hit and /hit throughput.

    python -m bench.live_cost --hits 20000 --duration 5

1. Redis CPU per ``Store.hit`` (``INFO commandstats``: the server's own µs, stable under
   machine load), hits spread over ``--keys`` counters, in three modes: no change feed;
   a feed with nobody watching (what every instance runs by default); and a feed with a
   listener on every counter being hit (the worst case: each hit counter is watched, so
   each is published and re-read, at most once per 100 ms).
2. ``/hit`` throughput of ``counter serve --workers 1`` (wrk, ``--connections``, 1000
   counters) with streams off (``COUNTER_STREAM_MAX_PER_PROCESS=0``: no feed), on with
   nobody listening, and on with streams open on 10 of the counters being hit,
   alternated ``--rounds`` times; req/s is noisy on a shared machine, so
   compare the medians and the spread.

Without ``--redis-url`` it starts a private redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import uvloop
from redis.asyncio import Redis

from bench.env import free_port, header, redis_for_bench, serve_argv, start_http
from bench.load import Target, run
from counter.engine.changes import ChangeFeed
from counter.engine.keys import Keys
from counter.engine.store import Store
from counter.redis.resp import RespTransport
from counter.runtime import connect


async def _commandstats(redis: Redis) -> dict[str, tuple[int, float]]:
    stats = await redis.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): (int(entry["calls"]), float(entry["usec"]))
        for name, entry in stats.items()
    }


# What the feed sends per change: PUBLISH, and the re-reads (HGETs beyond the hit's own).
# Its registry commands (ZADD, ZRANGE...) come per watch and per refresh, not per hit, and
# cannot be told apart from the hit path's own ZADD to the namespace index.
FEED_COMMANDS = ("publish",)


async def redis_cost(url: str, hits: int, keys: int) -> None:
    print("\n## Redis CPU per hit (INFO commandstats, the server's own µs)")
    print("evalsha: the hit script; extra: what the feed sent per change (PUBLISH, and its")
    print("re-reads of changed counters, at the server's µs per HGET)")
    print(
        f"{'mode':<34} {'evalsha µs':>10} {'extra µs/hit':>12} {'publish':>8} "
        f"{'re-reads':>8} {'hits/s':>8}"
    )
    modes = ("warm-up", "no feed", "feed, nobody watching", "feed, every hit counter watched")
    for mode in modes:
        prefix = f"bench:{uuid.uuid4().hex[:8]}:"
        redis = connect(url)
        store = Store(redis, transport=RespTransport.from_url(url), keys=Keys(prefix))
        feed = None
        if mode.startswith("feed"):
            feed = ChangeFeed(store)
            store.changes = feed
            feed.start()
            await asyncio.wait_for(feed.subscribed.wait(), 10)
            if mode.startswith("feed, every"):
                for n in range(keys):
                    await feed.watch("bench", f"key{n}", lambda value: None)
                await asyncio.sleep(0.5)  # the watches' settle re-reads
        await redis.config_resetstat()
        reads_before = feed.reads if feed is not None else 0
        sem = asyncio.Semaphore(64)
        started = time.perf_counter()

        async def hit(n: int, store: Store = store, sem: asyncio.Semaphore = sem) -> None:
            async with sem:
                await store.hit("bench", f"key{n % keys}")

        await asyncio.gather(*(hit(n) for n in range(hits)))
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.3)  # the last coalesced publish and re-read
        stats = await _commandstats(redis)
        evalsha_calls, evalsha_usec = stats.get("evalsha", (0, 0.0))
        hget_calls, hget_usec = stats.get("hget", (0, 0.0))
        reads = feed.reads - reads_before if feed is not None else 0
        extra = sum(stats.get(name, (0, 0.0))[1] for name in FEED_COMMANDS)
        extra += reads * (hget_usec / hget_calls if hget_calls else 0.0)
        if mode != "warm-up":
            print(
                f"{mode:<34} {evalsha_usec / max(evalsha_calls, 1):>10.2f} "
                f"{extra / hits:>12.4f} {stats.get('publish', (0, 0.0))[0]:>8} {reads:>8} "
                f"{hits / elapsed:>8.0f}"
            )
        if feed is not None:
            await feed.close()
        async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
            await redis.delete(key)
        await store.close()


def http_cost(url: str, duration: float, connections: int, rounds: int) -> None:
    print(f"\n## /hit req/s, counter serve --workers 1, wrk {connections} connections")
    results: dict[str, list[float]] = {
        "streams off": [],
        "streams on, nobody listening": [],
        f"streams on, {WATCHED} hit counters watched": [],
    }
    cpu: dict[str, list[float]] = {mode: [] for mode in results}
    for _ in range(rounds):
        for mode in results:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = {
                "COUNTER_REDIS_URL": url,
                "COUNTER_PREFIX": f"bench:{uuid.uuid4().hex[:8]}:",
                "COUNTER_STREAM_MAX_PER_PROCESS": "0" if mode == "streams off" else "10000",
            }
            argv = serve_argv(port, "--workers", "1")
            server = start_http(argv, env, base)
            listeners = _listen(base, WATCHED) if "watched" in mode else []
            try:
                assert server.process is not None
                cpu_before = _session_cpu_s(server.process.pid)
                result = run(
                    Target(base, "hit", "bench", 1000), duration=duration, connections=connections
                )
                spent = _session_cpu_s(server.process.pid) - cpu_before
                cpu[mode].append(spent / max(result.requests, 1))
            finally:
                server.stop()
                for listener in listeners:
                    listener.join(5)
            results[mode].append(result.rps)
    for mode, values in results.items():
        spread = ", ".join(f"{value:.0f}" for value in values)
        per_request = statistics.median(cpu[mode]) * 1e6
        print(
            f"{mode:<40} median {statistics.median(values):>7.0f} req/s ({spread}); "
            f"server CPU {per_request:.1f} µs/request"
        )
    off, on, watched = (statistics.median(values) for values in results.values())
    print(f"ratios to streams off: nobody listening {on / off:.3f}, watched {watched / off:.3f}")


WATCHED = 10


def _session_cpu_s(session: int) -> float:
    """User+system CPU seconds of every process in the server's session (its workers too).

    CPU per request moves less than req/s when other work shares the machine.
    """
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # field 6 of stat: the session id
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def _listen(base: str, count: int) -> list[threading.Thread]:
    """Streams on ``count`` of the counters wrk hits, read until the server stops."""

    def read(n: int) -> None:
        try:
            with httpx.stream("GET", f"{base}/stream/bench/key{n}", timeout=None) as response:
                for _ in response.iter_bytes():
                    pass
        except httpx.HTTPError:
            pass

    threads = [threading.Thread(target=read, args=(n,), daemon=True) for n in range(1, count + 1)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    return threads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live_cost", description=__doc__)
    parser.add_argument("--redis-url", help="default: a private redis-server started here")
    parser.add_argument("--hits", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=100, help="counters the hits spread over")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args(argv)
    with redis_for_bench(args.redis_url) as url:
        print(header("bench.live_cost: what live updates cost /hit", url))
        uvloop.run(redis_cost(url, args.hits, args.keys))
        if not args.skip_http:
            http_cost(url, args.duration, args.connections, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
