"""What a row costs Redis, and the rows that measure Redis alone.

``INFO commandstats`` (microseconds Redis spent executing each command) and ``INFO cpu``
(the server process's user + system CPU, I/O included) are read before and after a measured
run; the difference divided by the requests served is the row's Redis cost per operation.
Unlike requests per second on a shared 2-core machine, both are stable from run to run.

The reference is the minimal hit-like script (``HINCRBY`` + ``PEXPIRE``) sent by
``redis-benchmark``: what counting alone costs Redis.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis

from counter.engine import scripts
from counter.engine.base import DEFAULT_TTL_MS
from counter.engine.keys import Keys

MINIMAL_SCRIPT = (
    "local value = redis.call('HINCRBY', KEYS[1], 'value', 1) "
    "redis.call('PEXPIRE', KEYS[1], ARGV[1]) "
    "return value"
)


@dataclass(frozen=True)
class Usage:
    """Cumulative Redis counters at one moment."""

    command_usec: float  # sum of usec over every command in INFO commandstats
    cpu_sec: float  # used_cpu_user + used_cpu_sys
    reads: int = 0  # total_reads_processed: how often Redis woke to read a client's socket

    @staticmethod
    def read(url: str) -> Usage:
        client = redis.Redis.from_url(url)
        try:
            stats = client.info("commandstats")
            cpu = client.info("cpu")
            reads = int(client.info("stats")["total_reads_processed"])
        finally:
            client.close()
        usec = sum(float(entry["usec"]) for entry in stats.values())
        return Usage(usec, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]), reads)

    def per_op(self, later: Usage, operations: int) -> tuple[float, float]:
        """(commandstats µs, CPU µs) per operation between this reading and ``later``."""
        if operations <= 0:
            return float("nan"), float("nan")
        return (
            (later.command_usec - self.command_usec) / operations,
            (later.cpu_sec - self.cpu_sec) * 1e6 / operations,
        )

    def per_read(self, later: Usage, operations: int) -> float:
        """Operations per socket read: how deep the batches Redis reads are (its per-read
        wake-up and reply write are what batching spreads over the operations)."""
        reads = later.reads - self.reads  # the two INFO readings in between are 4 of them
        return operations / reads if reads > 4 and operations > 0 else float("nan")


@dataclass(frozen=True)
class BenchResult:
    rps: float
    p50_ms: float
    p99_ms: float
    redis_us: float
    cpu_us: float
    ops_per_read: float = float("nan")


def script_argv(url: str, prefix: str, which: str) -> list[str]:
    """EVALSHA arguments for a random key (``__rand_int__``) of ``which``: the Store's ``hit``
    script as /hit sends it (it creates the counters it meets, then counts in one key),
    ``hit_full`` (the whole operation in one script, as the naive app sends it) or the
    ``minimal`` reference; the script is loaded into ``url``."""
    client = redis.Redis.from_url(url)
    try:
        if which == "minimal":
            sha = client.script_load(MINIMAL_SCRIPT)
            return [sha, "1", f"{prefix}min:{{bench/key__rand_int__}}", str(DEFAULT_TTL_MS)]
        sha = client.script_load(scripts.load(which).text)
    finally:
        client.close()
    now = time.time_ns() // 1_000_000
    counter = Keys(prefix).counter("bench", "key__rand_int__")
    args = ["1", str(now // 3_600_000), str(DEFAULT_TTL_MS), str(now)]
    if which == "hit_full":
        return [sha, "2", counter, f"{counter}:h", *args]
    return [sha, "1", counter, *args]


def redis_benchmark(
    url: str, script_argv: list[str], *, connections: int, pipeline: int, keys: int,
    requests: int,
) -> BenchResult | None:  # fmt: skip
    """redis-benchmark sending EVALSHA of one script; None when redis-benchmark is missing."""
    if shutil.which("redis-benchmark") is None:
        return None
    split = urlsplit(url)
    argv = ["redis-benchmark", "-h", split.hostname or "127.0.0.1", "-p", str(split.port or 6379),
            "--dbnum", split.path.lstrip("/") or "0", "-c", str(connections), "-n", str(requests),
            "-P", str(pipeline), "-r", str(keys), "--csv", "EVALSHA", *script_argv]  # fmt: skip
    if split.password:
        argv[1:1] = ["-a", split.password, "--no-auth-warning"]
    before = Usage.read(url)
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    after = Usage.read(url)
    record = list(csv.DictReader(io.StringIO(output)))[-1]
    redis_us, cpu_us = before.per_op(after, requests)
    return BenchResult(
        float(record["rps"]),
        float(record["p50_latency_ms"]),
        float(record["p99_latency_ms"]),
        redis_us,
        cpu_us,
        before.per_read(after, requests),
    )


# -- python -m bench.redis_cost: each Store operation's Redis cost, steady and stable ---------

OPERATIONS = ("minimal", "hit", "hit-create", "update", "get", "count-batch")


async def _cost(
    url: str, operation: str, calls: int, keys: int, callers: int
) -> tuple[float, float]:
    """(commandstats µs, CPU µs) per operation, ``callers`` concurrent through the resp client."""
    from counter.engine.store import Store
    from counter.redis.resp import RespTransport
    from counter.redis.transport import Script
    from counter.runtime import connect

    prefix = f"bench:cost:{time.time_ns()}:"
    store = Store(connect(url), transport=RespTransport.from_url(url), keys=Keys(prefix))
    minimal = Script(MINIMAL_SCRIPT)
    fresh = iter(range(10**9))

    async def one(n: int) -> object:
        if operation == "minimal":
            key = f"{prefix}min:{{bench/k{n}}}"
            return await store.transport.run_script(minimal, [key], [DEFAULT_TTL_MS])
        if operation == "hit-create":
            return await store.hit("bench", f"new{next(fresh)}")
        if operation == "update":
            return await store.update("bench", f"k{n}", 1)
        if operation == "get":
            return await store.get("bench", f"k{n}")
        if operation == "count-batch":
            now = store.clock()
            return await store.count_batch(
                "bench", [(f"k{n + i}", 1, now) for i in range(100)], now=now
            )
        return await store.hit("bench", f"k{n}")

    try:
        for n in range(keys):  # every counter exists, in this hour: the steady state
            await store.create("bench", f"k{n}", update_upperbound=10)
            await store.transport.run_script(minimal, [f"{prefix}min:{{bench/k{n}}}"], [1_000_000])
        per_call = 100 if operation == "count-batch" else 1
        rounds = calls // per_call

        async def caller(index: int) -> None:
            for i in range(index, rounds, callers):
                await one((i * 7919) % max(keys - per_call, 1))

        before = Usage.read(url)
        await asyncio.gather(*(caller(index) for index in range(callers)))
        after = Usage.read(url)
        return before.per_op(after, rounds * per_call)
    finally:
        await _delete(store, prefix)
        await store.close()


async def _delete(store: Any, prefix: str) -> None:
    async for key in store.redis.scan_iter(match=f"{prefix}*", count=1000):
        await store.redis.unlink(key)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from bench.env import header, redis_for_bench

    parser = argparse.ArgumentParser(prog="python -m bench.redis_cost", description=__doc__)
    parser.add_argument("--redis-url", help="default: a private redis-server started here")
    parser.add_argument("--calls", type=int, default=50_000, help="operations per row")
    parser.add_argument("--keys", type=int, default=10_000, help="counters created first")
    parser.add_argument("--callers", type=int, default=16, help="concurrent callers")
    args = parser.parse_args(argv)
    with redis_for_bench(args.redis_url) as url:
        print(header("bench.redis_cost: Redis time per Store operation", url, {
            "load": f"{args.calls} calls per row, {args.callers} concurrent callers "
            f"(auto-pipelined), {args.keys} counters"}))  # fmt: skip
        print(f"{'operation':12} {'commandstats µs/op':>19} {'CPU µs/op':>10} "
              f"{'x minimal':>10} {'x minimal CPU':>14}")  # fmt: skip
        reference: tuple[float, float] | None = None
        for operation in OPERATIONS:
            usec, cpu = asyncio.run(_cost(url, operation, args.calls, args.keys, args.callers))
            reference = reference or (usec, cpu)
            print(f"{operation:12} {usec:19.2f} {cpu:10.2f} {usec / reference[0]:10.2f} "
                  f"{cpu / reference[1]:14.2f}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
