"""The engine's base: one Redis client, the transport scripts go through, the Lua scripts.

Each domain of the Store (``counters``, ``hitlog``, ``exports``, ``tokens``, ``ratelimits``,
``stats``) is a mixin on ``StoreBase``; ``store.Store`` composes them. Script statuses
become exceptions from ``counter.errors``; driver errors are wrapped, never leaked.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, NoReturn, Protocol

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from counter.engine import scripts
from counter.engine.keys import Keys
from counter.engine.scripts import Status
from counter.errors import InvalidInput, StoreError, StoreUnavailable
from counter.redis.transport import Arg, RedisPyTransport, Script, Transport

Clock = Callable[[], int]
# Told of every script round trip: (script name, calls in it, seconds, failed). Metrics use it.
ScriptObserver = Callable[[str, int, float, bool], None]
DEFAULT_TTL_MS = 15_778_800_000  # 182.625 days, CountAPI's six months


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


# Outages, including a cluster that is re-electing a primary or resharding a slot.
_UNAVAILABLE = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    OSError,
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    redis_errors.MasterDownError,
    redis_errors.SlotNotCoveredError,
)


# Error replies that mean "Redis cannot serve this now" (retry later), not a bug: loading
# its AOF, a script over busy-script-time, a failed fsync/rewrite (MISCONF), over maxmemory
# with noeviction (OOM), a replica or a primary without replicas, a cluster in flux. Inside
# a script Redis 6 wraps the reply ("... @user_script: 1: -OOM ..."), hence the "-" form.
_NOT_NOW = re.compile(
    r"(?:^|-)(?:LOADING|BUSY|MISCONF|OOM|READONLY|MASTERDOWN|NOREPLICAS|NOMASTERLINK|"
    r"TRYAGAIN|CLUSTERDOWN)\b|max number of clients reached"
)


def cannot_serve_now(error: BaseException) -> bool:
    """True for an error reply that a retry a moment later may not get."""
    if isinstance(error, _NOT_NOW_CLASSES):  # redis-py strips the code from these
        return True
    return isinstance(error, redis_errors.ResponseError) and bool(_NOT_NOW.search(str(error)))


_NOT_NOW_CLASSES = (redis_errors.OutOfMemoryError, redis_errors.ReadOnlyError)


@asynccontextmanager
async def driver_errors() -> AsyncIterator[None]:
    """Translate redis-py exceptions into the engine's own."""
    try:
        yield
    except Exception as error:
        raise_translated(error)


def raise_translated(error: BaseException) -> NoReturn:
    """Raise the engine's exception for a driver's ``error`` (from it), else ``error`` itself.

    The hot path calls this from a plain ``except`` (``_eval``, the coalesced read): an
    async context manager per script cost more than the rest of the Store's work for a hit.
    """
    translated = engine_error(error) if isinstance(error, Exception) else None
    if translated is None:
        raise error
    raise translated from error


def engine_error(error: Exception) -> Exception | None:
    """The engine's exception for a driver's ``error``; None when it is not the driver's."""
    if isinstance(error, _UNAVAILABLE):
        return StoreUnavailable("the counter store (Redis) is unavailable")
    if isinstance(error, redis_errors.RedisError | redis_errors.RedisClusterException):
        if cannot_serve_now(error):
            return StoreUnavailable(
                f"the counter store (Redis) cannot serve this now: {_first_word(error)}"
            )
        return StoreError("unexpected reply from the counter store")
    return None


def _first_word(error: BaseException) -> str:
    found = _NOT_NOW.search(str(error))
    if found:
        return found.group().lstrip("-")
    return "OOM" if isinstance(error, redis_errors.OutOfMemoryError) else "READONLY"


class ChangeSink(Protocol):
    """Where the Store reports writes to counters somebody watches (``changes.ChangeFeed``)."""

    watched: set[str]

    def touched(self, counter_key: str) -> None: ...


class StoreBase:
    """The Redis client, the transport and the registered scripts every domain mixin uses."""

    def __init__(
        self,
        redis: Redis | RedisCluster,
        *,
        transport: Transport | None = None,
        keys: Keys | None = None,
        ttl_ms: int = DEFAULT_TTL_MS,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self.redis = redis
        self.transport: Transport = transport or RedisPyTransport(redis)
        self.keys = keys or Keys()
        self.ttl_ms = ttl_ms
        self.clock = clock
        # Live updates: None (the default) costs one attribute test per script.
        self.changes: ChangeSink | None = None
        self.observer: ScriptObserver | None = None
        self._scripts: dict[str, tuple[scripts.ScriptSource, Script]] = {}
        for name in scripts.operation_names():
            source = scripts.load(name)
            self._scripts[name] = (source, Script(source.text))

    async def _eval(self, name: str, keys: Sequence[str], args: Sequence[Arg]) -> list[Any]:
        script = self._script(name, [(keys, args)])
        started = time.perf_counter() if self.observer is not None else 0.0
        try:
            reply = await self.transport.run_script(script, keys, args)
        except BaseException as error:
            self._observe(name, 1, started, failed=True)
            raise_translated(error)
        self._observe(name, 1, started, failed=False)
        result = valid_reply(name, reply)
        changes = self.changes
        if changes is not None and keys and keys[0] in changes.watched:
            changes.touched(keys[0])
        return result

    async def _eval_per_key(
        self, name: str, keys: Sequence[str], args: Sequence[Arg]
    ) -> list[list[Any]]:
        """One call of a script that answers once per key (hit_many.lua): a reply per key.

        The observer is told of one call per key: each is a hit the metrics count.
        """
        script = self._script(name, [(keys, args)])
        started = time.perf_counter() if self.observer is not None else 0.0
        try:
            replies = await self.transport.run_script(script, keys, args)
        except BaseException as error:
            self._observe(name, len(keys), started, failed=True)
            raise_translated(error)
        self._observe(name, len(keys), started, failed=False)
        changes = self.changes
        if changes is not None:
            for key in keys:
                if key in changes.watched:
                    changes.touched(key)
        return [list(reply) if isinstance(reply, list) else [Status.OK, reply] for reply in replies]

    def _observe(self, name: str, calls: int, started: float, *, failed: bool) -> None:
        if self.observer is not None:
            self.observer(name, calls, time.perf_counter() - started, failed)

    def _script(self, name: str, calls: Sequence[tuple[Sequence[str], Sequence[Arg]]]) -> Script:
        """The script, once every call's arity has been checked against its header."""
        source, script = self._scripts[name]
        for keys, args in calls:
            if source.variadic:
                wrong = len(keys) < source.num_keys or len(args) < source.num_args
            else:
                wrong = len(keys) != source.num_keys or len(args) != source.num_args
            if wrong:
                raise StoreError(f"{name}.lua called with {len(keys)} keys and {len(args)} args")
        return script

    async def _eval_many(
        self, name: str, calls: Sequence[tuple[Sequence[str], Sequence[Arg]]]
    ) -> list[list[Any]]:
        """Run one script many times in as few round trips as the transport allows."""
        if len(calls) == 1:
            return [await self._eval(name, *calls[0])]
        script = self._script(name, calls)
        started = time.perf_counter() if self.observer is not None else 0.0
        try:
            async with driver_errors():
                replies = await self.transport.run_scripts(script, calls)
        except BaseException:
            self._observe(name, len(calls), started, failed=True)
            raise
        self._observe(name, len(calls), started, failed=False)
        results = [valid_reply(name, reply) for reply in replies]
        changes = self.changes
        if changes is not None:
            for keys, _ in calls:
                if keys and keys[0] in changes.watched:
                    changes.touched(keys[0])
        return results

    def _touched(self, counter_key: str) -> None:
        """Report a write that went around ``_eval`` (a plain DEL, say) to the change feed.

        Every script's KEYS[1] is reported by ``_eval``/``_eval_many`` themselves: a write
        path added later is covered as long as its first key is the counter hash.
        """
        changes = self.changes
        if changes is not None and counter_key in changes.watched:
            changes.touched(counter_key)

    async def scripts_loaded(self) -> bool:
        """Whether Redis (every primary of a cluster) holds every script in its cache.

        Asked through the client the scripts run on (on a cluster, redis-py sends
        SCRIPT EXISTS to every primary and ANDs the answers)."""
        shas = [script.sha for _, script in self._scripts.values()]
        async with driver_errors():
            if isinstance(self.transport, RedisPyTransport):
                found = await self.redis.script_exists(*shas)
            else:
                found = await self.transport.command("SCRIPT", "EXISTS", *shas)
        return all(bool(flag) for flag in found)

    async def load_scripts(self) -> None:
        """SCRIPT LOAD every script (on a cluster, into every primary)."""
        async with driver_errors():
            for _, script in self._scripts.values():
                if isinstance(self.transport, RedisPyTransport):
                    await self.redis.script_load(script.text)
                else:
                    await self.transport.command("SCRIPT", "LOAD", script.text)

    async def ping(self) -> None:
        async with driver_errors():
            await self.transport.command("PING")

    async def close(self) -> None:
        await self.transport.close()  # the redis-py client itself, or a transport of its own
        if not isinstance(self.transport, RedisPyTransport):
            await self.redis.aclose()


def valid_reply(name: str, reply: Any) -> list[Any]:
    if not isinstance(reply, list):  # a bare value: a hot script's success (hit, update)
        return [Status.OK, reply]
    if reply[0] == Status.INVALID:
        raise InvalidInput(f"invalid argument to {name}: {as_text(reply[1])}")
    return list(reply)


def as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
