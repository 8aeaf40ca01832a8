"""What each part of the hit script costs Redis: redis-benchmark A/B of script variants.

    python -m bench.script_cost [--redis-url URL] [--rounds 5] [--keys 10000]

Every row is ``redis-benchmark EVALSHA`` pipelined 16 deep over 64 connections on the same
counters (created first by ``hit.lua``, in this hour), rows interleaved round after round;
the best round of each row is printed (``INFO commandstats`` µs and server CPU µs per call,
see ``bench/redis_cost.py``), against the minimal script (``HINCRBY`` + ``PEXPIRE``) on the
same counters. The ``minimal, ... arguments`` rows run the minimal script's body with the
keys and arguments of ``hit.lua`` / ``hit_full.lua``: what the call's shape costs alone.
"""

from __future__ import annotations

import argparse
import sys
import time

import redis

from bench.redis_cost import MINIMAL_SCRIPT, BenchResult, redis_benchmark
from counter.engine import scripts
from counter.engine.base import DEFAULT_TTL_MS
from counter.engine.keys import Keys

REQUESTS = 150_000


def rows(url: str, prefix: str, keys: int) -> dict[str, list[str]]:
    """Each row's EVALSHA arguments; the counters are created here."""
    client = redis.Redis.from_url(url)
    now = time.time_ns() // 1_000_000
    counter = Keys(prefix).counter("bench", "key__rand_int__")
    args = ["1", str(now // 3_600_000), str(DEFAULT_TTL_MS), str(now)]
    try:
        hit = client.script_load(scripts.load("hit").text)
        full = client.script_load(scripts.load("hit_full").text)
        minimal = client.script_load(MINIMAL_SCRIPT)
        # the minimal body, reading its TTL from where hit.lua has it (ARGV[3])
        shaped = client.script_load(MINIMAL_SCRIPT.replace("ARGV[1]", "ARGV[3]"))
        pipe = client.pipeline(transaction=False)
        for n in range(keys):  # redis-benchmark writes __rand_int__ as 12 digits
            pipe.evalsha(hit, 1, counter.replace("__rand_int__", f"{n:012d}"), *args)
        pipe.execute()
    finally:
        client.close()
    ttl = str(DEFAULT_TTL_MS)
    both = [counter, f"{counter}:h"]
    return {
        "minimal, keys holding only value": [minimal, "1", f"{prefix}min:{{k__rand_int__}}", ttl],
        "minimal": [minimal, "1", counter, ttl],
        "minimal, hit.lua's 1 key + 4 arguments": [shaped, "1", counter, *args],
        "minimal, hit_full.lua's 2 keys + 4 arguments": [shaped, "2", *both, *args],
        "hit.lua (HGET + HINCRBY + PEXPIRE)": [hit, "1", counter, *args],
        "hit_full.lua (the same, 2 keys)": [full, "2", *both, *args],
    }


def main(argv: list[str] | None = None) -> int:
    from bench.env import header, redis_for_bench

    parser = argparse.ArgumentParser(prog="python -m bench.script_cost", description=__doc__)
    parser.add_argument("--redis-url", help="default: a private redis-server started here")
    parser.add_argument("--rounds", type=int, default=5, help="runs per row (best shown)")
    parser.add_argument("--keys", type=int, default=10_000, help="counters")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="calls per run")
    args = parser.parse_args(argv)
    with redis_for_bench(args.redis_url) as url:
        print(header("bench.script_cost: Redis time per hit script variant", url, {
            "load": f"redis-benchmark -P 16 -c 64, {args.requests} calls per run, "
            f"{args.keys} counters, best of {args.rounds} interleaved rounds"}))  # fmt: skip
        calls = rows(url, f"bench:script:{time.time_ns()}:", args.keys)
        best: dict[str, BenchResult] = {}
        for _ in range(args.rounds):
            for name, script_argv in calls.items():
                result = redis_benchmark(url, script_argv, connections=64, pipeline=16,
                                         keys=args.keys, requests=args.requests)  # fmt: skip
                if result is None:
                    print("redis-benchmark is not installed: nothing measured")
                    return 0
                if name not in best or result.cpu_us < best[name].cpu_us:
                    best[name] = result
        reference = best["minimal"]
        print(f"{'row':46} {'commandstats µs':>16} {'CPU µs':>7} {'x minimal':>10} "
              f"{'x minimal CPU':>14}")  # fmt: skip
        for name, result in best.items():
            print(f"{name:46} {result.redis_us:16.2f} {result.cpu_us:7.2f} "
                  f"{result.redis_us / reference.redis_us:10.2f} "
                  f"{result.cpu_us / reference.cpu_us:14.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
