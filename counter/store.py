"""The engine: one ``Store`` owns the Redis client and every registered Lua script.

One method per operation; each is a single atomic script (or a single read command).
Script statuses become exceptions from ``errors.py``; driver errors are wrapped,
never leaked.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis import exceptions as redis_errors

from . import scripts
from .errors import (
    CounterExists,
    CounterNotFound,
    InvalidInput,
    OutOfBounds,
    Overflow,
    ResetDisabled,
    StoreError,
    StoreUnavailable,
)
from .keys import Keys
from .scripts import Status
from .settings import DEFAULT_TTL_MS
from .transport import Arg, Script, Transport, as_transport

Clock = Callable[[], int]
T = TypeVar("T")
HOURLY_RETENTION_MS = 8 * 86_400_000  # hourly buckets cover the last 7 days, plus today


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class CounterInfo:
    """A counter and its metadata, as ``/info`` reports it."""

    namespace: str
    key: str
    value: int
    created: int
    enable_reset: bool
    update_lowerbound: int
    update_upperbound: int
    ttl: int


@dataclass(frozen=True, slots=True)
class HitResult:
    value: int
    created: bool


async def _guarded(call: Awaitable[T]) -> T:
    """Await a transport call, translating driver exceptions into the engine's own."""
    try:
        return await call
    except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as error:
        raise StoreUnavailable("the counter store (Redis) is unavailable") from error
    except redis_errors.RedisError as error:
        raise StoreError("unexpected reply from the counter store") from error


class Store:
    """Atomic counter operations on one Redis (standalone or cluster).

    ``redis`` is a ``Transport`` (``counter.resp.RespTransport`` on the hot path) or any
    redis-py asyncio client (``Redis``, ``RedisCluster``), which gets wrapped in one.
    """

    def __init__(
        self,
        redis: Transport | Any,
        *,
        keys: Keys | None = None,
        ttl_ms: int = DEFAULT_TTL_MS,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self.transport = as_transport(redis)
        self.keys = keys or Keys()
        self.ttl_ms = ttl_ms
        self.clock = clock
        self._buckets: tuple[int, str, str, int] = (-1, "", "", 0)
        self._scripts: dict[str, tuple[scripts.ScriptSource, Script]] = {}
        for name in scripts.operation_names():
            source = scripts.load(name)
            self._scripts[name] = (source, Script(source.text))

    async def _eval(self, name: str, keys: Sequence[str], args: Sequence[Arg]) -> list[Any]:
        source, script = self._scripts[name]
        if len(keys) != source.num_keys or len(args) != source.num_args:
            raise StoreError(f"{name}.lua called with {len(keys)} keys and {len(args)} args")
        reply = await _guarded(self.transport.run_script(script, keys, args))
        if reply[0] == Status.INVALID:
            raise InvalidInput(f"invalid argument to {name}: {_text(reply[1])}")
        return list(reply)

    def _history(self, namespace: str, key: str) -> tuple[list[str], list[Arg]]:
        """Keys and ARGV block shared by hit and update: the time buckets for now."""
        now = self.clock()
        hour_index, day, hour, hour_expire_at = self._buckets
        if now // 3_600_000 != hour_index:  # formatting the date is costly: once an hour
            day_start = now - now % 86_400_000
            stamp = time.gmtime(now / 1000)
            day, hour = time.strftime("%Y%m%d", stamp), f"{stamp.tm_hour:02d}"
            hour_expire_at = day_start + HOURLY_RETENTION_MS
            self._buckets = (now // 3_600_000, day, hour, hour_expire_at)
        keys = [
            self.keys.counter(namespace, key),
            self.keys.daily(namespace, key),
            self.keys.hourly(namespace, key, day),
        ]
        return keys, [now, self.ttl_ms, day, hour, hour_expire_at]

    async def create(
        self,
        namespace: str,
        key: str,
        *,
        value: int = 0,
        enable_reset: bool = False,
        update_lowerbound: int = -1,
        update_upperbound: int = 1,
    ) -> None:
        """Create a counter; raises CounterExists if it is already there."""
        reply = await self._eval(
            "create",
            [self.keys.counter(namespace, key)],
            [
                value,
                int(enable_reset),
                update_lowerbound,
                update_upperbound,
                self.clock(),
                self.ttl_ms,
            ],
        )
        if reply[0] == Status.EXISTS:
            raise CounterExists(f"{namespace}/{key} already exists")
        await self._index(namespace, key)

    async def hit(self, namespace: str, key: str) -> HitResult:
        """Add 1, creating the counter when missing."""
        keys, args = self._history(namespace, key)
        status, value, created = await self._eval("hit", keys, args)
        if status == Status.OUT_OF_BOUNDS:
            raise OutOfBounds(int(value))
        if status == Status.OVERFLOW:
            raise Overflow(int(value))
        if created:
            await self._index(namespace, key)
        return HitResult(int(value), bool(created))

    async def update(self, namespace: str, key: str, amount: int) -> int:
        """Add ``amount`` if it lies within the counter's bounds; returns the new value."""
        keys, args = self._history(namespace, key)
        reply = await self._eval("update", keys, [amount, *args])
        status = reply[0]
        if status == Status.MISSING:
            raise CounterNotFound(f"{namespace}/{key}")
        if status == Status.OUT_OF_BOUNDS:
            raise OutOfBounds(int(reply[1]))
        if status == Status.OVERFLOW:
            raise Overflow(int(reply[1]))
        return int(reply[1])

    async def set(self, namespace: str, key: str, value: int) -> int:
        """Replace the value of a resettable counter; returns the old value."""
        reply = await self._eval(
            "set", [self.keys.counter(namespace, key)], [value, self.clock(), self.ttl_ms]
        )
        if reply[0] == Status.MISSING:
            raise CounterNotFound(f"{namespace}/{key}")
        if reply[0] == Status.RESET_DISABLED:
            raise ResetDisabled(int(reply[1]))
        return int(reply[1])

    async def get(self, namespace: str, key: str) -> int:
        """The counter's value (one HGET: a read needs no script to be atomic)."""
        value = await _guarded(
            self.transport.command("HGET", self.keys.counter(namespace, key), "value")
        )
        if value is None:
            raise CounterNotFound(f"{namespace}/{key}")
        return int(value)

    async def info(self, namespace: str, key: str) -> CounterInfo:
        """The counter with its metadata and remaining time to live."""
        reply = await self._eval("info", [self.keys.counter(namespace, key)], [])
        if reply[0] == Status.MISSING:
            raise CounterNotFound(f"{namespace}/{key}")
        _, value, created, enable_reset, lower, upper, ttl = reply
        return CounterInfo(
            namespace=namespace,
            key=key,
            value=int(value),
            created=int(created),
            enable_reset=_text(enable_reset) == "1",
            update_lowerbound=int(lower),
            update_upperbound=int(upper),
            ttl=int(ttl),
        )

    async def _index(self, namespace: str, key: str) -> None:
        # A separate command: the index lives in the namespace's slot, not the counter's.
        # Listings prune members whose counter has expired.
        await _guarded(self.transport.command("SADD", self.keys.namespace_index(namespace), key))

    async def add_stats(self, deltas: dict[str, int]) -> None:
        """Fold one process's stats deltas into the shared hash in one round trip."""
        if not deltas:
            return
        commands = [("HINCRBY", self.keys.stats(), field, n) for field, n in deltas.items()]
        await _guarded(self.transport.pipeline(commands))

    async def read_stats(self) -> dict[str, int]:
        flat = await _guarded(self.transport.command("HGETALL", self.keys.stats()))
        pairs = zip(flat[::2], flat[1::2], strict=True)
        return {_text(field): int(value) for field, value in pairs}

    async def ping(self) -> None:
        await _guarded(self.transport.command("PING"))

    async def close(self) -> None:
        await self.transport.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
