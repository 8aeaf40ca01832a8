"""``counter load URL``: load a CountAPI-compatible server, measure it, and check its counts.

See docs/load-testing.md. Exit status: 0 when every request was answered 2xx (and
``--verify`` found nothing lost), 1 when there were errors, losses or the run failed,
2 for bad options, 130 when interrupted (after printing the partial report).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from counter.errors import ConfigError
from counter.load import plot as plotting
from counter.load import wrk
from counter.load.live import LiveView
from counter.load.plan import LoadPlan
from counter.load.report import as_json, text
from counter.load.runner import LoadFailure, Result, run
from counter.load.stats import Totals

INTERRUPTED = 130
# Measured against wrk -t2 on the 2-core machine: two generator processes keep up with it
# when the CPU is contended, one does not (docs/load-testing.md).
DEFAULT_PROCESSES = 2


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    load = commands.add_parser(
        "load",
        help="load-test a CountAPI-compatible server (and verify its counts)",
        description="Load a CountAPI-compatible server, measure it, and check its counts "
        "(docs/load-testing.md).",
    )
    load.add_argument("url", help="the server's base URL, e.g. http://127.0.0.1:8080")
    what = load.add_argument_group("what to send")
    what.add_argument(
        "--route",
        default="hit",
        help="CountAPI route: hit, get, 'update?amount=5', any /<route>/<ns>/<key>; "
        "or count (GoatCounter's pixel, --count-path). Default hit",
    )
    what.add_argument("--namespace", default="load", help="CountAPI namespace (default load)")
    what.add_argument("--keys", type=int, default=10_000, help="key space key1..keyN (10000)")
    what.add_argument(
        "--zipf", type=float, default=0.0, metavar="S", help="Zipf exponent: hot keys"
    )
    what.add_argument("--key", help="always this one key")
    what.add_argument(
        "--batch", type=int, default=0, metavar="N", help="POST /api/v0/count, N hits"
    )
    what.add_argument("--token", default="", help="API token for --batch (count permission)")
    what.add_argument("--count-path", default="/count", help="pixel endpoint for --route count")
    what.add_argument(
        "--header", action="append", default=[], metavar="'NAME: VALUE'", help="extra header"
    )
    how = load.add_argument_group("how")
    how.add_argument("--connections", "-c", type=int, default=64, help="connections (64)")
    how.add_argument("--rate", type=float, default=0.0, help="open loop: requests/s in total")
    how.add_argument("--duration", "-d", type=float, default=10.0, help="seconds (10)")
    how.add_argument(
        "--requests", "-n", type=int, default=0, help="N requests instead of --duration"
    )
    how.add_argument("--warmup", type=float, default=0.0, help="seconds of unmeasured load first")
    how.add_argument(
        "--processes", "-p", type=int, help="generator processes (2, as wrk's 2 threads)"
    )
    how.add_argument("--timeout", type=float, default=10.0, help="per request, seconds (10)")
    how.add_argument("--tool", choices=("builtin", "wrk"), default="builtin")
    how.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    how.add_argument("--seed", type=int, help="seed of the key choice")
    out = load.add_argument_group("results")
    out.add_argument("--verify", action="store_true", help="read every touched counter back")
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--plot", type=Path, metavar="FILE", help="write .png, .svg, .pdf or .html")
    out.add_argument(
        "--live",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the live line on stderr (default: when stderr is a terminal)",
    )


def _plan(args: argparse.Namespace) -> LoadPlan:
    headers = []
    for raw in args.header:
        name, colon, value = raw.partition(":")
        if not colon or not name.strip():
            raise ConfigError(f"--header {raw!r}: expected 'Name: value'")
        headers.append((name.strip(), value.strip()))
    return LoadPlan(
        url=args.url,
        route=args.route,
        namespace=args.namespace,
        keys=args.keys,
        zipf=args.zipf,
        key=args.key,
        batch=args.batch,
        token=args.token,
        count_path=args.count_path,
        connections=args.connections,
        rate=args.rate,
        duration=args.duration,
        requests=args.requests,
        warmup=args.warmup,
        processes=args.processes or min(DEFAULT_PROCESSES, args.connections),
        timeout=args.timeout,
        verify=args.verify,
        seed=args.seed,
        headers=tuple(headers),
    )


def run_command(args: argparse.Namespace) -> int:
    try:
        plan = _plan(args)
        if args.plot is not None:
            if args.tool == "wrk":
                raise ConfigError("--plot needs the built-in generator (wrk keeps no timeline)")
            plotting.check(args.plot)
        if args.tool == "wrk":
            wrk.check(plan)
    except ConfigError as error:
        print(f"counter load: error: {error}", file=sys.stderr)
        return 2
    live = LiveView(enabled=False if args.json else args.live, target_rate=plan.rate)
    failure = ""
    try:
        with live:
            result = wrk.run(plan, args.threads) if args.tool == "wrk" else run(plan, live.update)
    except LoadFailure as error:
        failure = str(error)
        result = Result(plan, Totals(1), 0.0, tool=args.tool, problems=[f"failed: {failure}"])
    except KeyboardInterrupt:  # Ctrl-C outside the load itself (the checks around it)
        failure = "interrupted"
        result = Result(plan, Totals(1), 0.0, tool=args.tool, interrupted=True)
    try:
        _print(result, args)
    except BrokenPipeError:  # `counter load ... | head`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return _status(result, failure)


def _print(result: Result, args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(as_json(result), indent=2))
    else:
        print(text(result))
    if args.plot is not None and result.totals.requests:
        plotting.write(result, args.plot)
        print(f"counter load: plot written to {args.plot}", file=sys.stderr)


def _status(result: Result, failure: str) -> int:
    if failure and failure != "interrupted":
        print(f"counter load: error: {failure}", file=sys.stderr)
        return 1
    sockets = result.totals.socket_errors
    if not result.totals.statuses and sockets:
        failures = ", ".join(f"{name}: {n:,}" for name, n in sockets.most_common())
        print(f"counter load: error: the server answered nothing ({failures})", file=sys.stderr)
    server_errors = sum(n for status, n in result.totals.statuses.items() if status >= 500)
    if server_errors:
        print(
            f"counter load: the server answered 5xx to {server_errors:,} requests", file=sys.stderr
        )
    if result.plan.verify and result.verdict is None and not result.interrupted:
        print(
            f"counter load: error: nothing verified: {'; '.join(result.problems)}", file=sys.stderr
        )
        return 1
    if result.verdict is not None and not result.verdict.ok:
        print(
            f"counter load: verification FAILED: {result.verdict.lost:,} acknowledged increments "
            f"lost, {result.verdict.phantom:,} phantom",
            file=sys.stderr,
        )
        return 1
    if result.interrupted:
        print(
            "counter load: interrupted; the report above covers the run until then", file=sys.stderr
        )
        return INTERRUPTED
    return 1 if result.errors else 0
