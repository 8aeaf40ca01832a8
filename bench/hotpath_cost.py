"""What counter's own Python costs a plain /hit and /get, with Redis taken out.

The hot path's answer (``HotAnswers``: route match, names, the Store, the coalescer, the
reply, the JSON and its headers) run in-process against a transport that answers at once:
everything of a request that is ours, none of the server's or Redis's. Reported: µs per
answer, the best of ``--rounds`` rounds of ``--requests`` each (the machine's noise only
adds). For a figure that noise cannot move, count instructions with callgrind, as
docs/performance.md did (the difference between two request counts is the per-request cost):

    python -m bench.hotpath_cost [--requests 100000] [--rounds 3]
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python -m bench.hotpath_cost --requests 2000 --rounds 1     # then 4000
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from typing import Any

from bench.env import header
from counter.redis.transport import Arg, Script
from counter.runtime import Runtime
from counter.settings import Settings
from counter.web.countapi import CountApi
from counter.web.hotpath import HotAnswers


class InstantRedis:
    """A transport whose every script answers 5 and every command b"5", at once."""

    async def run_script(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        return 5

    async def run_scripts(
        self, script: Script, calls: Sequence[tuple[Sequence[str], Sequence[Arg]]]
    ) -> list[Any]:
        return [5 for _ in calls]

    async def command(self, *args: Arg) -> Any:
        return b"5"

    async def close(self) -> None:
        return None


async def measure(requests: int, rounds: int) -> dict[str, float]:
    """Best µs per answer for /hit and /get over ``rounds`` rounds."""
    # The URL is never dialled: the Store is built, then its transport replaced.
    runtime = Runtime(Settings(redis_url="redis://127.0.0.1:1/0", prefix="bench:hotpath:"))
    store = await runtime.store()
    store.transport = InstantRedis()
    hot = HotAnswers(CountApi(runtime))
    headers: dict[str, str] = {}
    best: dict[str, float] = {}
    for route in ("hit", "get"):
        found = hot.find("GET", f"/{route}/bench-ns/bench-key", "")
        assert found is not None
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(requests):
                await hot.answer(found, headers.get)
            micros = (time.perf_counter() - started) / requests * 1e6
            best[route] = min(best.get(route, micros), micros)
    await runtime.close()
    return best


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="answers per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(
        header(
            "bench.hotpath_cost: counter's own Python per hot-path answer, Redis taken out",
            None,
            {"requests": str(args.requests), "rounds": str(args.rounds)},
        )
    )
    for route, micros in asyncio.run(measure(args.requests, args.rounds)).items():
        print(f"/{route}: {micros:.2f} µs per answer")


if __name__ == "__main__":
    main()
