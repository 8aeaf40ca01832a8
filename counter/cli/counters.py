"""``counter get|hit|set|info|list|export|snapshot|restore|import-countapi``: counters from a shell.

They talk to Redis directly, with the same ``--data-dir/--redis-url/--redis-cluster`` flags
as ``counter token``. Results go to stdout, errors to stderr as ``counter: error: ...``,
and the exit code says which kind of failure it was (``EXIT_*`` below, documented in
docs/operator-tools.md) so a shell script can branch on it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from counter.api.snapshot_lines import counter_json
from counter.cli import backup, countapi_import
from counter.cli.connection import add_redis_flags, open_store
from counter.engine.names import DEFAULT_NAMESPACE, parse_int64, validate_name
from counter.engine.store import Store, wall_clock_ms
from counter.errors import (
    CounterError,
    CounterNotFound,
    InvalidInput,
    StoreError,
    StoreUnavailable,
)
from counter.settings import Settings

EXIT_OK = 0
EXIT_NOT_FOUND = 1  # the counter is not there, or refuses the change (out of bounds, overflow)
EXIT_INVALID = 2  # bad arguments or a bad input file: nothing was written
EXIT_UNAVAILABLE = 3  # Redis could not be reached or answered unexpectedly

COMMANDS = ("get", "hit", "set", "info", "list", "export", "snapshot", "restore",
            "import-countapi")  # fmt: skip
# Parsed arguments that are not Settings fields (main() leaves them out of Settings).
OPTIONS = ("target", "value", "namespace", "out", "file", "dry_run", "json", "progress")


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    one = "NAMESPACE/KEY (or KEY in namespace 'default')"
    parsers = [
        _add(commands, "get", "print a counter's value", target=one),
        _add(commands, "hit", "add 1 to a counter (creating it) and print the value", target=one),
        _add(commands, "info", "print a counter and its options as JSON", target=one),
    ]
    setter = _add(commands, "set", "set a counter's value (creating it)", target=one)
    setter.add_argument("value", help="the new value, a signed 64-bit integer")
    listing = _add(commands, "list", "list a namespace's counters: key<TAB>value lines")
    listing.add_argument("namespace")
    listing.add_argument("--json", action="store_true", help="one JSON object per line instead")
    export = _add(commands, "export", "write a namespace's hit log as GoatCounter CSV")
    export.add_argument("namespace")
    export.add_argument("--out", required=True, help="file to write ('.gz' compresses, '-' stdout)")
    snapshot = _add(commands, "snapshot", "write every counter of a namespace as JSON lines")
    snapshot.add_argument("namespace")
    snapshot.add_argument("--out", required=True, help="file to write ('-' for stdout)")
    restore = _add(commands, "restore", "write the counters of a snapshot file into a namespace")
    restore.add_argument("namespace")
    restore.add_argument("file", type=Path, help="a snapshot (JSON lines) from `counter snapshot`")
    importer = _add(commands, "import-countapi", "restore counts saved from CountAPI (JSON or CSV)")
    importer.add_argument("file", type=Path, help="JSON, JSON lines or CSV: namespace,key,value")
    importer.add_argument(
        "--dry-run", action="store_true", help="say what would change, change nothing"
    )
    for parser in (*parsers, setter, listing, export, snapshot, restore, importer):
        add_redis_flags(parser)
    for parser in (export, snapshot, restore, importer):
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            help="draw a progress bar on stderr (default: when stderr is a terminal)",
        )


def _add(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    *,
    target: str | None = None,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    if target is not None:
        parser.add_argument("target", metavar="NAMESPACE/KEY", help=target)
    return parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one counters command; its exit code (``EXIT_*``)."""
    try:
        return asyncio.run(_run(args, settings))
    except CounterNotFound as error:
        return _fail(f"not found: {error}", EXIT_NOT_FOUND)
    except (InvalidInput, ValueError) as error:
        return _fail(str(error), EXIT_INVALID)
    except OSError as error:
        return _fail(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "), 2)
    except (StoreUnavailable, StoreError) as error:
        return _fail(str(error), EXIT_UNAVAILABLE)
    except CounterError as error:  # refused by the counter: out of bounds, overflow
        return _fail(f"refused: {type(error).__name__}: {error}", EXIT_NOT_FOUND)


def _fail(message: str, code: int) -> int:
    print(f"counter: error: {message}", file=sys.stderr)
    return code


def parse_target(text: str) -> tuple[str, str]:
    """``ns/key`` or ``key`` (namespace ``default``), both validated."""
    namespace, slash, key = text.rpartition("/")
    if not slash:
        namespace = DEFAULT_NAMESPACE
    return validate_name(namespace), validate_name(key)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    command: str = args.command
    # Arguments are checked before connecting: a typo costs no Redis start.
    target = parse_target(args.target) if getattr(args, "target", None) else None
    value = parse_int64(args.value, "value") if command == "set" else None
    if getattr(args, "namespace", None) is not None:
        validate_name(args.namespace)
    plan = countapi_import.read_plan(args.file) if command == "import-countapi" else None
    records = backup.read_snapshot(args.file) if command == "restore" else None
    async with open_store(settings, connections=8, wait_s=None) as store:
        if target is not None:
            return await _one(store, command, *target, value)
        if command == "list":
            return await _list(store, args.namespace, as_json=args.json)
        if command == "export":
            return await backup.export(store, args.namespace, args.out, show=args.progress)
        if command == "snapshot":
            return await backup.snapshot(store, args.namespace, args.out, show=args.progress)
        if command == "restore":
            assert records is not None
            return await backup.restore(store, args.namespace, records, show=args.progress)
        assert plan is not None
        return await countapi_import.apply(store, plan, dry_run=args.dry_run, show=args.progress)


async def _one(store: Store, command: str, namespace: str, key: str, value: int | None) -> int:
    if command == "get":
        print(await store.get(namespace, key))
    elif command == "hit":
        print((await store.hit(namespace, key)).value)
    elif command == "set":
        assert value is not None
        await store.put(namespace, key, value, now=wall_clock_ms())
        print(value)
    else:
        info = await store.info(namespace, key)
        print(orjson.dumps(counter_json(info), option=orjson.OPT_INDENT_2).decode())
    return EXIT_OK


async def _list(store: Store, namespace: str, *, as_json: bool) -> int:
    async def show(page: list[str]) -> None:
        for info in await backup.infos(store, namespace, page):
            if as_json:
                print(orjson.dumps(counter_json(info)).decode())
            else:
                print(f"{info.key}\t{info.value}")

    await _pages(await store.namespace_keys(namespace), show)
    return EXIT_OK


async def _pages(keys: list[str], each: Callable[[list[str]], Awaitable[None]]) -> None:
    for start in range(0, len(keys), backup.PAGE):
        await each(keys[start : start + backup.PAGE])
