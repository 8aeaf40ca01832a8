"""The ``counter`` command: ``counter serve`` runs the HTTP server (granian, uvicorn or Hypercorn).

Without a Redis URL, ``serve`` starts the embedded redis-server on a unix socket in
the data directory, hands its URL to every worker, and stops it on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from counter.cli import counters as counters_cli
from counter.cli import load as load_cli
from counter.cli import servers
from counter.cli import token as token_cli
from counter.cli.metrics import metrics_directory, serve_metrics
from counter.errors import ConfigError
from counter.redis.cluster import check_cluster, connect_cluster
from counter.redis.embedded import EmbeddedRedis
from counter.settings import REDIS_CLIENTS, SERVERS, Settings
from counter.version import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="counter", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"counter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", help="bind address (COUNTER_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (COUNTER_PORT, default 8080)")
    serve.add_argument(
        "--workers", type=int, help="worker processes (COUNTER_WORKERS, default: one per core)"
    )
    serve.add_argument(
        "--server", choices=SERVERS, help="ASGI server (COUNTER_SERVER, default granian)"
    )
    serve.add_argument(
        "--redis-client",
        choices=REDIS_CLIENTS,
        help="Redis client for redis:// and unix:// URLs (COUNTER_REDIS_CLIENT, default resp)",
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        help="embedded Redis data directory (COUNTER_DATA_DIR, default ./counter-data)",
    )
    serve.add_argument(
        "--redis-url", help="use this Redis instead of the embedded one (COUNTER_REDIS_URL)"
    )
    serve.add_argument(
        "--redis-cluster",
        metavar="HOST:PORT,...",
        help="use this Redis Cluster (startup nodes) instead (COUNTER_REDIS_CLUSTER)",
    )
    serve.add_argument(
        "--redis-maxmemory",
        help="embedded Redis memory ceiling: auto, 0 or e.g. 512mb (COUNTER_REDIS_MAXMEMORY)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        help="open HTTP connections per worker (COUNTER_MAX_CONNECTIONS, 0: from ulimit -n)",
    )
    serve.add_argument(
        "--header-timeout-s",
        type=int,
        help="seconds to receive a request's headers, idle time included "
        "(COUNTER_HEADER_TIMEOUT_S, default 5)",
    )
    serve.add_argument("--prefix", help="Redis key prefix (COUNTER_PREFIX, default cnt:)")
    serve.add_argument(
        "--ttl-ms", type=int, help="idle lifetime of a counter in ms (COUNTER_TTL_MS)"
    )
    serve.add_argument(
        "--metrics",
        action="store_true",
        default=None,
        help="serve Prometheus metrics at /metrics (COUNTER_METRICS=1)",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        help="serve /metrics on this port instead of the main one (COUNTER_METRICS_PORT)",
    )
    serve.add_argument(
        "--site",
        dest="site",
        action="append",
        metavar="HOST=NAMESPACE",
        help="/count on HOST counts into NAMESPACE; repeatable (COUNTER_SITES, comma-separated)",
    )
    serve.add_argument(
        "--default-site",
        help="namespace of /count for any other host (COUNTER_DEFAULT_SITE, default default)",
    )
    serve.add_argument(
        "--count-limit",
        type=int,
        help="/count requests per client and second, 0 off (COUNTER_COUNT_LIMIT, default 4)",
    )
    serve.add_argument(
        "--geoip-db",
        type=Path,
        help="a MaxMind GeoLite2/GeoIP2 database for locations (COUNTER_GEOIP_DB)",
    )
    token_cli.add_parser(commands)
    counters_cli.add_parsers(commands)
    load_cli.add_parser(commands)
    return parser


def serve(settings: Settings) -> int:
    """Run the ASGI server until SIGINT/SIGTERM; the embedded Redis outlives every worker."""
    embedded = None
    stack = ExitStack()
    gave_up = threading.Event()
    if settings.redis_cluster is not None:
        asyncio.run(_check_cluster(settings))
    elif settings.redis_url is None:
        embedded = EmbeddedRedis(settings.data_dir, maxmemory=settings.redis_maxmemory).start()
        settings = settings.with_changes(redis_url=embedded.url)

        def give_up() -> None:  # a Redis that keeps crashing: stop, exit 1, let systemd act
            gave_up.set()
            os.kill(os.getpid(), signal.SIGTERM)

        embedded.supervise(give_up)
    try:
        # Workers are fresh processes that import counter.asgi: settings travel as env.
        os.environ.update(settings.to_env())
        if settings.metrics:
            stack.enter_context(metrics_directory())
            if settings.metrics_port:
                serve_metrics(settings.host, settings.metrics_port)
        print(
            f"counter {__version__} serving on http://{settings.host}:{settings.port} "
            f"({settings.server}, {settings.workers} worker(s), redis {_redis_target(settings)})",
            file=sys.stderr,
            flush=True,
        )
        code = servers.run(settings)
        return 1 if gave_up.is_set() else code
    finally:
        stack.close()
        if embedded is not None:
            embedded.stop()


async def _check_cluster(settings: Settings) -> None:
    """Fail before any worker starts if the cluster cannot be used (ConfigError)."""
    client = connect_cluster(settings.cluster_nodes, max_connections=1)
    try:
        await check_cluster(client, settings.redis_cluster or "")
    finally:
        await client.aclose()


def _redis_target(settings: Settings) -> str:
    if settings.redis_cluster is not None:
        return f"cluster {settings.redis_cluster}"
    return str(settings.redis_url)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "load":  # a client of any server: needs none of the server settings
        return load_cli.run_command(args)
    skip = {"command", *token_cli.TOKEN_OPTIONS, *counters_cli.OPTIONS}
    options = {k: v for k, v in vars(args).items() if k not in skip}
    sites = options.pop("site", None)
    if sites:  # --site is repeatable; the setting is one comma-separated list
        options["sites"] = ",".join(sites)
    try:
        settings = Settings.from_env(**options)
        if args.command == "serve":
            return serve(settings)
        if args.command == "token":
            return token_cli.run(args, settings)
        if args.command in counters_cli.COMMANDS:
            return counters_cli.run(args, settings)
    except ConfigError as error:
        print(f"counter: error: {error}", file=sys.stderr)
        return 2
    return 0
