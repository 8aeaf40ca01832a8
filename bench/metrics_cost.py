"""What metrics cost the hot path: `/hit` with `--metrics` off vs. on, same Redis, same build.

Two `counter serve` processes (one worker each, default server) on one redis-server;
rounds alternate between them so background load falls on both alike. Reported: each
setup's median req/s and p50 over the rounds, the on/off ratio, and (steadier on a busy
machine) the CPU time the metrics add to one /hit, measured in-process: the
middleware's request record and the Store observer's script record, per request.

    python -m bench.metrics_cost [--rounds 5] [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench.cluster_hit import SPREAD_KEYS, wrk
from bench.env import header
from counter.web.countapi import CountApi
from counter.web.hotpath import HotPath
from counter.web.metrics import MULTIPROC_ENV, Metrics, MetricsMiddleware
from tests.servers import RedisProcess, ServeProcess


def added_cost_us(requests: int = 100_000) -> float:
    """Microseconds of CPU the metrics add to one /hit, measured in-process (median of 5).

    The hot path as ``create_app`` builds it with metrics on (recording its own answer,
    the metrics middleware behind it in front of the router), around a CountAPI stand-in
    that answers at once, minus the hot path alone; plus the Store observer's record of
    the script call and its timing. In the multiprocess mode `counter serve --metrics` runs.
    """
    os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="metrics-bench-samples-")
    try:
        return asyncio.run(_added_cost(requests))
    finally:
        shutil.rmtree(os.environ.pop(MULTIPROC_ENV), ignore_errors=True)


class _InstantCountApi:
    """Answers ``/hit`` without Redis: the bench measures what wraps the call."""

    def hot_operations(self) -> dict[str, Any]:
        return {"hit": (("value",), None), "get": (("value",), None)}

    async def call(self, *args: Any) -> tuple[int, dict[str, Any], str]:
        return 200, {"value": 1}, "bench/key"


async def _added_cost(requests: int) -> float:
    metrics = Metrics()
    countapi = cast(CountApi, _InstantCountApi())

    async def router(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the hot path answers every request here")

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        pass

    bare = HotPath(router, countapi)
    # As create_app stacks them: the hot path records its answer; the router is measured
    # by the middleware, which the hot request never reaches.
    metered = HotPath(MetricsMiddleware(router, metrics), countapi, metrics.record_request)
    scope = {"type": "http", "method": "GET", "path": "/hit/bench/key", "root_path": "",
             "query_string": b"", "headers": []}  # fmt: skip

    async def per_request(target: ASGIApp, observe: bool) -> float:
        started = time.perf_counter()
        for _ in range(requests):
            await target(scope, receive, send)
            if observe:  # what StoreBase._eval adds around the script call
                began = time.perf_counter()
                metrics.record_script("hit", 1, time.perf_counter() - began, False)
        return (time.perf_counter() - started) / requests * 1e6

    added = []
    for _ in range(5):
        alone = await per_request(bare, observe=False)
        added.append(await per_request(metered, observe=True) - alone)
    await metrics.close()
    return statistics.median(added)


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and every process below it."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue  # the process ended meanwhile
            parents[int(entry.name)] = int(fields[1])
            cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {pid}, True
    while grew:
        below = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    return sum(cpu.get(member, 0.0) for member in tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="metrics-bench-"))
    script = work / "spread.lua"
    script.write_text(SPREAD_KEYS)
    redis = RedisProcess(work / "redis").start()
    base = ["--redis-url", redis.url, "--workers", "1"]
    servers = {
        "metrics off": ServeProcess(base, {}, work).start(),
        "metrics on": ServeProcess([*base, "--metrics"], {}, work).start(),
    }
    title = header("metrics cost on GET /hit (1 worker each, one Redis)", redis.url)
    rates: dict[str, list[float]] = {name: [] for name in servers}
    cpu_us: dict[str, list[float]] = {name: [] for name in servers}
    p50s: dict[str, list[str]] = {name: [] for name in servers}
    try:
        for _ in range(options.rounds):
            for name, server in servers.items():
                assert server.process is not None
                before = tree_cpu_s(server.process.pid)
                rate, p50 = wrk(f"{server.base_url}/", script, options.seconds, options.connections)
                used = tree_cpu_s(server.process.pid) - before
                cpu_us[name].append(used / (rate * options.seconds) * 1e6)
                rates[name].append(rate)
                p50s[name].append(p50)
    finally:
        for server in servers.values():
            server.stop()
        redis.stop()
    print(title)
    print(f"# {options.rounds} round(s) x {options.seconds}s, {options.connections} connections")
    print(f"{'setup':<14}{'median req/s':>14}{'p50 (median)':>14}  req/s per round")
    for name in servers:
        rounds = " ".join(f"{rate:.0f}" for rate in rates[name])
        p50 = sorted(p50s[name])[len(p50s[name]) // 2]
        print(f"{name:<14}{statistics.median(rates[name]):>14.0f}{p50:>14}  {rounds}")
    off, on = statistics.median(rates["metrics off"]), statistics.median(rates["metrics on"])
    print(f"on/off throughput ratio: {on / off:.3f} ({(1 - on / off) * 100:+.1f}% cost)")
    # CPU per request of the server's processes: far steadier than req/s on a busy machine.
    cpu_off, cpu_on = (
        statistics.median(cpu_us["metrics off"]),
        statistics.median(cpu_us["metrics on"]),
    )
    print(f"server CPU per /hit (median): off {cpu_off:.1f} us, on {cpu_on:.1f} us "
          f"({(cpu_on / cpu_off - 1) * 100:+.1f}%); per round off "
          f"{' '.join(f'{v:.0f}' for v in cpu_us['metrics off'])}, on "
          f"{' '.join(f'{v:.0f}' for v in cpu_us['metrics on'])}")  # fmt: skip
    cost = added_cost_us()
    print(f"metrics bookkeeping per /hit: {cost:.2f} us CPU in-process "
          f"({cost / cpu_off * 100:.1f}% of the server CPU per /hit with metrics off)")  # fmt: skip


if __name__ == "__main__":
    main()
