"""GoatCounter for the web: what /count and its statistics cost.

    python -m bench.goatcounter --duration 5 --paths 500 --days 365

1. ``/count`` next to ``/hit``: one ``counter serve`` (granian) on one private Redis, loaded in
   turn by the same generator (wrk when installed): ``/hit``, ``/count`` without sessions
   (``ns=1``) and ``/count`` with sessions (every request resolves its session in Redis).
2. Redis time per hit of each script of the ingest path (``count_hits``, ``log_hits``,
   ``record_stats``), from ``INFO commandstats`` (usec per EVALSHA), stable under load: one
   hit per call, then in batches of 100 as ``POST /api/v0/count`` sends them (every command
   and Redis's CPU).
3. Memory: ``MEMORY USAGE`` of the statistics of one path-day and of one site-day.
4. A year of a busy site (``--paths`` paths with a visit on each of ``--days`` days, browsers,
   sizes, referrers): the median time of ``/api/v0/stats/hits``, ``/stats/total`` and
   ``/stats/browsers`` over that year, through the app.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from redis.asyncio import Redis

from bench.env import (
    free_port,
    header,
    redis_for_bench,
    serve_argv,
    site_stats_settle_s,
    start_http,
)
from bench.load import Target, run
from bench.redis_cost import Usage
from counter import Settings, create_app, lifespan
from counter.engine.keys import Keys
from counter.engine.records import LogLimits
from counter.engine.sitestats import StatHit, StatLimits
from counter.engine.store import Store
from counter.engine.tokens import create_token, parse_namespaces, parse_permissions
from counter.runtime import connect

LIMITS = StatLimits(retention_ms=400 * 86_400_000, member_cap=1000, max_paths=100_000)
LOG = LogLimits(max_entries=10_000_000, max_age_ms=400 * 86_400_000, visit_window_ms=8 * 3600_000)
BROWSERS = ["Chrome\t131", "Firefox\t133", "Safari\t18", "Edge\t131", "Chrome Mobile\t131"]


def stat_hit(path: str, at: int, n: int) -> StatHit:
    return StatHit(
        path=path, title=f"Title of {path}", event=False, visit=True, bot=False, at=at,
        dims={"browser": BROWSERS[n % 5], "system": "Windows\t10", "size": str(360 + n % 7 * 300),
              "location": ["US-CA", "NL", "DE", "GB"][n % 4], "language": "en",
              "campaign": "", "ref": f"h\tref{n % 50}.example\tref{n % 50}.example/p{n % 200}"},
        ref=f"h\tref{n % 50}.example/p{n % 200}",
    )  # fmt: skip


async def evalsha_usec(redis: Redis) -> tuple[int, int]:
    info = await redis.info("commandstats")
    stat = info.get("cmdstat_evalsha", {"calls": 0, "usec": 0})
    return int(stat["calls"]), int(stat["usec"])


async def script_costs(url: str, hits: int) -> None:
    redis = connect(url)
    store = Store(redis, keys=Keys(f"bench:{uuid.uuid4().hex[:6]}:"))
    now = int(time.time() * 1000)
    rows = [
        [f"/p{n % 300}", "t", "0", "ua", "", "0", "", "", "", "", str(now)] for n in range(hits)
    ]
    steps = {
        "count_hits (the path's counter)": lambda n: store.count_batch(
            "bench", [(f"p{n % 300}", 1, now)], now=now
        ),
        "log_hits (hit log, first visit)": lambda n: store.log_hits_with_visits(
            "bench", [rows[n]], now=now, limits=LOG
        ),
        "record_stats (site statistics)": lambda n: store.record_site_stats(
            "bench", [stat_hit(f"/p{n % 300}", now, n)], LIMITS
        ),
    }
    print(f"\nRedis time per hit, one hit per call, {hits} calls (INFO commandstats):")
    for name, step in steps.items():
        await redis.config_resetstat()
        for n in range(hits):
            await step(n)
        calls, usec = await evalsha_usec(redis)
        print(f"  {name:34} {usec / max(calls, 1):7.1f} us/hit  ({calls} calls)")
    await redis.aclose()


async def batched_costs(url: str, batches: int) -> None:
    """Redis per hit in batches of 100, as ``POST /api/v0/count`` sends them (Ingest's calls):
    100 random paths of 10,000 (``bench.compare``'s batch row; nothing repeats but the
    day, hour and browser), then 100 hits on 10 paths with browsers, sizes, referrers and
    sessions that repeat. Every command is counted (a script's inner commands too) and
    Redis's CPU, read around the run."""
    from counter.engine.hits import Hit
    from counter.engine.sitehits import stat_hit as derive

    redis = connect(url)
    store = Store(redis, keys=Keys(f"bench:{uuid.uuid4().hex[:6]}:"))
    agents = ["Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
              "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36"]  # fmt: skip

    def random_paths(b: int, now: int) -> list[Hit]:  # batches 0..99 name each path once
        return [Hit(f"/key{n}", f"key{n}", "", False, "", "", 0, "", "", "", "", now)
                for n in ((b * 100 + i) * 7919 % 10_000 for i in range(100))]  # fmt: skip

    def repeated(b: int, now: int) -> list[Hit]:
        return [Hit(f"/page{i % 10}", f"page{i % 10}", f"Page {i % 10}", False, agents[i % 2],
                    f"s{(b * 100 + i) % 37:x}", 0, f"https://ref{i % 3}.example/",
                    f"{360 + i % 4 * 500},800,1", "NL", "", now)
                for i in range(100)]  # fmt: skip

    async def logged(hits: list[Hit], now: int) -> list[bool]:
        rows = [h.log_row() for h in hits]
        _, _, visits = await store.log_hits_with_visits("bench", rows, now=now, limits=LOG)
        return visits

    async def record(hits: list[Hit], visits: list[bool]) -> None:
        stats = [derive(h, visit=v, language="") for h, v in zip(hits, visits, strict=True)]
        await store.record_site_stats("bench", stats, LIMITS)

    async def ingest(hits: list[Hit], now: int) -> None:
        await store.count_batch("bench", [(h.key, 1, now) for h in hits], now=now)
        await record(hits, await logged(hits, now))

    print(f"\nRedis time per hit in batches of 100 ({batches} batches, all commands and CPU;"
          " every path, counter and bucket exists first):")  # fmt: skip
    for label, make in (("100 random paths of 10,000", random_paths), ("10 paths", repeated)):
        print(f"  {label}:")
        for b in range(100):  # the steady state: every path and counter exists
            await ingest(make(b, int(time.time() * 1000)), int(time.time() * 1000))
        total = (0.0, 0.0)
        for step in ("count_hits", "log_hits", "record_stats"):
            work = [(make(100 + b, now), now) for b in range(batches)
                    for now in [int(time.time() * 1000)]]  # fmt: skip
            # record_stats needs each batch's visits: the log is written before measuring
            visits = (
                [await logged(hits, now) for hits, now in work] if step == "record_stats" else []
            )
            await redis.config_resetstat()
            before = Usage.read(url)
            for b, (hits, now) in enumerate(work):
                if step == "count_hits":
                    await store.count_batch("bench", [(h.key, 1, now) for h in hits], now=now)
                elif step == "log_hits":
                    await logged(hits, now)
                else:
                    await record(hits, visits[b])
            after = Usage.read(url)
            usec, cpu = before.per_op(after, batches * 100)
            total = (total[0] + usec, total[1] + cpu)
            print(f"    {step:14} {usec:7.2f} us/hit (commandstats) {cpu:7.2f} us/hit (CPU)")
        usec, cpu = total
        print(f"    {'all three':14} {usec:7.2f} us/hit (commandstats) {cpu:7.2f} us/hit (CPU)")
    await redis.aclose()


async def memory(url: str) -> None:
    prefix = f"bench:{uuid.uuid4().hex[:6]}:"
    redis = connect(url)
    store = Store(redis, keys=Keys(prefix))
    day = datetime(2026, 6, 15, tzinfo=UTC)

    async def used() -> int:
        total = 0
        async for key in redis.scan_iter(match=f"{prefix}gs:*", count=1000):
            total += int(await redis.memory_usage(key) or 0)
        return total

    base = await used()
    # One path, one day, a visit in every hour, dims and a referrer per visit.
    await store.record_site_stats(
        "one",
        [stat_hit("/a", int((day + timedelta(hours=h)).timestamp() * 1000), h) for h in range(24)],
        LIMITS,
    )
    one = await used() - base
    # A site-day: 1000 paths, 10 visits each across the day.
    hits = [
        stat_hit(f"/page/{p}", int((day + timedelta(hours=n * 2)).timestamp() * 1000), p + n)
        for p in range(1000)
        for n in range(10)
    ]
    for start in range(0, len(hits), 500):
        await store.record_site_stats("busy", hits[start : start + 500], LIMITS)
    busy = await used() - base - one
    print("\nMemory of the statistics (MEMORY USAGE, every key of the namespace):")
    print(f"  one path, one day (24 hourly visits, dims, referrers): {one / 1024:8.1f} KiB")
    print(f"  one site-day, 1000 paths x 10 visits:                 {busy / 1024:8.1f} KiB"
          f"  ({busy / 1000:.0f} B per path-day)")  # fmt: skip
    async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
        await redis.delete(key)
    await redis.aclose()


async def busy_year(url: str, paths: int, days: int) -> None:
    prefix = f"bench:{uuid.uuid4().hex[:6]}:"
    settings = Settings(redis_url=url, prefix=prefix, api_limit=100_000)
    app = create_app(settings)
    async with lifespan(app):
        store = await app.state.counter_runtime.store()
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        started = time.perf_counter()
        for d in range(days):
            at = now - timedelta(days=d)
            batch = [
                stat_hit(
                    f"/page/{p}", int((at - timedelta(hours=p % 24)).timestamp() * 1000), p + d
                )
                for p in range(paths)
            ]
            for start in range(0, len(batch), 500):
                await store.record_site_stats("busy.site", batch[start : start + 500], LIMITS)
        filled = time.perf_counter() - started
        secret, _ = await create_token(
            store, f"bench-{uuid.uuid4().hex[:6]}", parse_permissions(["stats"]),
            parse_namespaces(["busy.site"]), now=int(time.time() * 1000),
        )  # fmt: skip
        start = (now - timedelta(days=days)).strftime("%Y-%m-%d")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"Authorization": f"Bearer {secret}"},
        ) as http:
            written = f"{paths * days} visits written in {filled:.1f} s"
            print(f"\nA year of a busy site: {paths} paths x {days} days ({written}); median of 7:")
            for url_path in (
                f"/api/v0/stats/hits?start={start}&limit=20",
                f"/api/v0/stats/hits?start={start}&limit=100&daily=true",
                f"/api/v0/stats/total?start={start}",
                f"/api/v0/stats/browsers?start={start}",
                f"/api/v0/stats/toprefs?start={start}",
                f"/counter/TOTAL.json?start={start}",
            ):
                times = []
                for _ in range(7):
                    t = time.perf_counter()
                    response = await http.get(url_path)
                    times.append((time.perf_counter() - t) * 1000)
                    assert response.status_code in (200, 404), response.text[:200]
                print(f"  GET {url_path:58} {statistics.median(times):7.1f} ms")
        async for key in store.redis.scan_iter(match=f"{prefix}*", count=1000):
            await store.redis.delete(key)


def throughput(url: str, duration: float, connections: int) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = serve_argv(port, "--server", "granian", "--workers", "1", "--redis-url", url)
    server = start_http(argv, {"COUNTER_PREFIX": f"bench:{uuid.uuid4().hex[:6]}:"}, base)
    try:
        print(f"\n/count next to /hit: counter serve (granian x1), {connections} connections, "
              f"{duration:.0f} s each, loopback client (no /count limit); Redis per request from "
              "INFO commandstats and INFO cpu around each row:")  # fmt: skip
        targets = {
            "/hit/bench/key<n>": Target(base, "hit", "bench", 10_000),
            "/count?p=/key<n>&ns=1 (no session)": Target(
                base, "site", "bench/count?ns=1&p=", 10_000
            ),
            "/count?p=/key<n> (session in Redis)": Target(base, "site", "bench/count?p=", 10_000),
        }
        settle = site_stats_settle_s()  # statistics written after the answers count in the row
        for name, target in targets.items():
            time.sleep(settle)
            before = Usage.read(url)
            result = run(target, duration=duration, connections=connections)
            time.sleep(settle)
            usec, cpu = before.per_op(Usage.read(url), result.requests)
            print(f"  {name:38} {result.line()}")
            print(f"  {'':38} Redis per request: {usec:.1f} us (commandstats), {cpu:.1f} us (CPU)")
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.goatcounter", description=__doc__)
    parser.add_argument("--redis-url", help="default: a private redis-server")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--calls", type=int, default=2000, help="script calls per cost row")
    parser.add_argument("--paths", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args(argv)
    with redis_for_bench(args.redis_url) as url:
        print(header("bench.goatcounter", url))
        throughput(url, args.duration, args.connections)
        asyncio.run(script_costs(url, args.calls))
        asyncio.run(batched_costs(url, max(args.calls // 100, 5)))
        asyncio.run(memory(url))
        asyncio.run(busy_year(url, args.paths, args.days))
    return 0


if __name__ == "__main__":
    sys.exit(main())
