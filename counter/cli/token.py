"""``counter token create|list|revoke``: manage API tokens in the server's Redis.

``--data-dir`` reaches the embedded Redis of a server running on that directory, or
starts it for the duration of the command when none runs; ``--redis-url`` any other,
``--redis-cluster`` a Redis Cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from counter.engine.keys import Keys
from counter.engine.store import Store, wall_clock_ms
from counter.engine.tokens import (
    create_token,
    list_tokens,
    parse_namespaces,
    parse_permissions,
    revoke_token,
)
from counter.errors import InvalidInput, StoreUnavailable, TokenNameTaken
from counter.redis.cluster import connect_cluster
from counter.redis.datadir import DataDirBusy
from counter.redis.embedded import EmbeddedRedis, socket_path
from counter.runtime import connect
from counter.settings import Settings

TOKEN_OPTIONS = ("name", "perm", "namespace", "token_command")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser("token", help="create, list or revoke API tokens")
    actions = token.add_subparsers(dest="token_command", required=True)
    create = actions.add_parser("create", help="create a token; prints it on the last line")
    create.add_argument("--name", required=True, help="a unique name for the token")
    create.add_argument(
        "--perm",
        action="append",
        required=True,
        help="permissions, comma-separated or repeated: count, export, read, manage",
    )
    create.add_argument(
        "--namespace",
        action="append",
        required=True,
        help="a namespace the token may use (repeatable); '*' for all",
    )
    actions.add_parser("list", help="list tokens (names and rights, never secrets)")
    revoke = actions.add_parser("revoke", help="delete a token by name")
    revoke.add_argument("name")
    for parser in actions.choices.values():
        parser.add_argument(
            "--data-dir", type=Path, help="data directory of the server's embedded Redis"
        )
        parser.add_argument("--redis-url", help="the server's Redis (COUNTER_REDIS_URL)")
        parser.add_argument(
            "--redis-cluster",
            metavar="HOST:PORT,...",
            help="the server's Redis Cluster (COUNTER_REDIS_CLUSTER)",
        )
        parser.add_argument("--prefix", help="Redis key prefix (COUNTER_PREFIX, default cnt:)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return asyncio.run(_run(args, settings))
    except TokenNameTaken as error:
        print(f"counter: error: {error}", file=sys.stderr)
        return 1
    except InvalidInput as error:
        print(f"counter: error: {error}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    async with _store(settings) as store:
        if args.token_command == "create":
            secret, token = await create_token(
                store,
                args.name,
                parse_permissions(args.perm),
                parse_namespaces(args.namespace),
                now=wall_clock_ms(),
            )
            print(
                f"created token {token.name!r}: permissions {','.join(token.permission_list())}"
                f"; namespaces {','.join(sorted(token.namespaces))}"
            )
            print("Store it now: it is shown only this once.")
            print(secret)
            return 0
        if args.token_command == "list":
            tokens = await list_tokens(store)
            if not tokens:
                print("no tokens")
            for token in tokens:
                created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(token.created / 1000))
                rights = ",".join(token.permission_list())
                namespaces = ",".join(sorted(token.namespaces))
                print(f"{token.name}\t{rights}\t{namespaces}\t{created}")
            return 0
        if await revoke_token(store, args.name):
            print(f"revoked token {args.name!r}")
            return 0
        print(f"counter: error: no token named {args.name!r}", file=sys.stderr)
        return 1


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Store]:
    """A Store on the server's Redis, starting the embedded one briefly if none runs.

    With the data directory locked (a server runs on it) the command goes through the
    server's socket and waits for a stalled Redis (up to ``_WAIT_S``) rather than
    replacing it; it starts its own Redis only when it could take the lock.
    """
    embedded = None
    client: Redis | RedisCluster
    url = settings.redis_url
    if settings.redis_cluster is not None:
        client = connect_cluster(settings.cluster_nodes, max_connections=2)
    else:
        if url is None:
            embedded = EmbeddedRedis(settings.data_dir, maxmemory=settings.redis_maxmemory)
            try:
                await asyncio.to_thread(embedded.start)
            except DataDirBusy:
                embedded = None
            url = f"unix://{socket_path(settings.data_dir)}"
        client = connect(url, max_connections=2, socket_timeout=_WAIT_S)
    store = Store(client, keys=Keys(settings.prefix))
    try:
        await _wait_for(store)
        yield store
    finally:
        await store.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


_WAIT_S = 60.0


async def _wait_for(store: Store) -> None:
    """PING until the Redis answers: a server may be starting or its Redis restarting."""
    deadline = time.monotonic() + _WAIT_S
    while True:
        try:
            await store.ping()
            return
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
