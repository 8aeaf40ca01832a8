"""HTTP load harness for any CountAPI-compatible service (ours or another).

    python -m bench.load http://127.0.0.1:8080 --route hit --duration 10 --connections 64

Requests ``/<route>/<namespace>/key<random>`` over a key space of ``--keys`` keys and
reports req/s, p50/p90/p99 latency and errors (non-2xx answers and socket errors).
With ``--batch N --token T`` it posts GoatCounter batches instead: ``POST /api/v0/count``
with N hits on random paths each, and also reports hits/s.
It drives ``wrk`` when it is installed (``--tool wrk``), else ``counter load``'s
generator (``--tool builtin``). This is the comparison suite's thin front; the harness
itself is ``counter load`` (counter/load/, docs/load-testing.md), which also does open
loop, Zipf keys, --verify, live view and plots.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import asdict, dataclass

from bench.env import header
from counter import load as counter_load
from counter.load import LoadPlan, wrk
from counter.load.report import percentiles_us


@dataclass(frozen=True)
class LoadResult:
    """One load run: throughput, latency percentiles (ms), failed requests."""

    tool: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.rps:10.0f} req/s  p50 {self.p50_ms:6.2f} ms  p90 {self.p90_ms:6.2f} ms  "
            f"p99 {self.p99_ms:6.2f} ms  errors {self.errors}  ({self.requests} requests, "
            f"{self.seconds:.1f} s, {self.tool})"
        )


@dataclass(frozen=True)
class Target:
    """Which URLs to request: ``<base>/<route>/<namespace>/k<n><suffix>``."""

    base_url: str
    route: str = "hit"
    namespace: str = "bench"
    keys: int = 10_000
    suffix: str = ""
    batch: int = 0  # > 0: POST /api/v0/count with this many hits per request
    token: str = ""
    zipf: float = 0.0  # > 0: key ranks Zipf-distributed with this exponent (a real site's)

    def plan(self, duration: float, connections: int) -> LoadPlan:
        """The same load as a ``counter load`` plan."""
        return LoadPlan(
            url=self.base_url,
            route=f"{self.route}{self.suffix}",
            namespace=self.namespace,
            keys=self.keys,
            batch=self.batch,
            token=self.token,
            zipf=self.zipf,
            duration=duration,
            connections=connections,
        )


def run(
    target: Target,
    *,
    duration: float = 5.0,
    connections: int = 64,
    threads: int = 2,
    tool: str = "auto",
) -> LoadResult:
    """Load ``target`` for ``duration`` seconds with ``counter load``'s generator or wrk."""
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "builtin"
    plan = target.plan(duration, connections)
    result = wrk.run(plan, threads) if tool == "wrk" else counter_load.run(plan)
    marks = percentiles_us(result)
    return LoadResult(
        tool=tool,
        requests=result.totals.requests,
        seconds=result.seconds,
        errors=result.errors,
        p50_ms=marks.get(50.0, 0) / 1000,
        p90_ms=marks.get(90.0, 0) / 1000,
        p99_ms=marks.get(99.0, 0) / 1000,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("base_url", help="the service, e.g. http://127.0.0.1:8080")
    parser.add_argument("--route", default="hit", help="hit, get, or any /<route>/ns/key route")
    parser.add_argument("--namespace", default="bench")
    parser.add_argument("--keys", type=int, default=10_000, help="key space size")
    parser.add_argument("--suffix", default="", help="appended to each path, e.g. '?img'")
    parser.add_argument("--batch", type=int, default=0, help="hits per POST /api/v0/count")
    parser.add_argument("--token", default="", help="API token with the count permission")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--tool", choices=("auto", "wrk", "builtin"), default="auto")
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    args = parser.parse_args(argv)
    target = Target(
        args.base_url, args.route, args.namespace, args.keys, args.suffix, args.batch, args.token
    )
    server = _server_header(args.base_url)
    print(
        header(
            "bench.load",
            None,
            {
                "target": args.base_url,
                "server": server,
                "route": f"/{target.route}/{target.namespace}/key<1..{args.keys}>{args.suffix}",
                "connections": str(args.connections),
            },
        )
    )
    result = run(
        target,
        duration=args.duration,
        connections=args.connections,
        threads=args.threads,
        tool=args.tool,
    )
    if args.batch:
        print(f"count: {result.line()}  = {result.rps * args.batch:.0f} hits/s")
    else:
        print(f"{args.route}: {result.line()}")
    if args.json:
        print(json.dumps({**asdict(result), "rps": result.rps}))
    return 0


def _server_header(base_url: str) -> str:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/stats", timeout=2) as response:
            return str(response.headers.get("server", "not announced"))
    except (urllib.error.URLError, OSError) as error:
        return f"unknown ({type(error).__name__})"


if __name__ == "__main__":
    sys.exit(main())
