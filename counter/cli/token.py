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

from counter.cli.connection import add_redis_flags, open_store
from counter.engine.store import wall_clock_ms
from counter.engine.tokens import (
    create_token,
    list_tokens,
    parse_namespaces,
    parse_permissions,
    revoke_token,
)
from counter.errors import InvalidInput, TokenNameTaken
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
        help=(
            "permissions, comma-separated or repeated: "
            "count, export, read, manage, stats, site-read"
        ),
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
        add_redis_flags(parser)


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
    async with open_store(settings) as store:
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
