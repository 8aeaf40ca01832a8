"""Store-level benchmark: hit/get operations per second in one process.

    python -m bench.store --duration 5 --concurrency 64

For each Redis client (the minimal auto-pipelining ``resp`` client and redis-py) and
each operation, it runs one caller at a time (no batching possible: one round trip
per operation) and ``--concurrency`` concurrent callers (the resp client coalesces
their commands into one pipeline per event-loop tick; redis-py spreads them over its
connection pool). Without ``--redis-url`` it starts a private redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

import uvloop

from bench.env import header, redis_for_bench
from counter.engine.keys import Keys
from counter.engine.store import Store
from counter.errors import CounterNotFound
from counter.redis.resp import RespTransport
from counter.redis.transport import Transport
from counter.runtime import connect

CLIENTS: dict[str, Callable[[str], Transport | None]] = {
    "resp": RespTransport.from_url,
    "redis-py": lambda url: None,  # the Store's own redis-py client
}


async def measure(
    operation: Callable[[int], Awaitable[object]], duration: float, concurrency: int, keys: int
) -> float:
    """Operations per second with ``concurrency`` callers looping for ``duration``."""
    done = [0]
    deadline = time.perf_counter() + duration

    async def caller() -> None:
        while time.perf_counter() < deadline:
            await operation(random.randint(1, keys))
            done[0] += 1

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return done[0] / (time.perf_counter() - started)


async def bench(url: str, clients: list[str], duration: float, concurrency: int, keys: int) -> None:
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    print(f"{'client':10} {'op':4} {'callers':>8} {'ops/s':>10}")
    for name in clients:
        store = Store(connect(url), transport=CLIENTS[name](url), keys=Keys(prefix))
        try:
            await store.ping()

            async def hit(n: int, store: Store = store) -> object:
                return await store.hit("bench", f"key{n}")

            async def get(n: int, store: Store = store) -> object:
                try:
                    return await store.get("bench", f"key{n}")
                except CounterNotFound:  # a miss is a complete read too
                    return None

            for op_name, op in (("hit", hit), ("get", get)):
                for callers in (1, concurrency):
                    rate = await measure(op, duration, callers, keys)
                    print(f"{name:10} {op_name:4} {callers:>8} {rate:>10.0f}", flush=True)
        finally:
            await _delete_prefix(store, prefix)
            await store.close()


async def _delete_prefix(store: Store, prefix: str) -> None:
    cursor = b"0"
    while True:
        cursor, found = await store.transport.command(
            "SCAN", cursor, "MATCH", f"{prefix}*", "COUNT", 1000
        )
        if found:
            await store.transport.command("UNLINK", *found)
        if cursor in (b"0", 0, "0"):
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__)
    parser.add_argument("--redis-url", help="default: a private redis-server started here")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--keys", type=int, default=10_000, help="key space size")
    parser.add_argument("--client", choices=(*CLIENTS, "all"), default="all")
    args = parser.parse_args(argv)
    clients = list(CLIENTS) if args.client == "all" else [args.client]
    with redis_for_bench(args.redis_url) as url:
        print(header("bench.store: Store.hit / Store.get in one process", url))
        # uvloop, as counter serve runs it.
        uvloop.run(bench(url, clients, args.duration, args.concurrency, args.keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
