"""Counters: create, hit, update, set, get, info, batched hits, history and the index.

One method per operation; each is one atomic script on the counter's own hash slot (or a
single read command). The namespace index lives in the namespace's slot, so it is a
separate command after the script.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from counter.engine.base import StoreBase, as_text, driver_errors
from counter.engine.records import CounterRecord
from counter.engine.scripts import Status
from counter.errors import CounterExists, CounterNotFound, OutOfBounds, Overflow, ResetDisabled

HOURLY_RETENTION_MS = 8 * 86_400_000  # hourly buckets cover the last 7 days, plus today


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


class CounterStore(StoreBase):
    """The CountAPI operations and the counter management that ``/api/v0`` adds."""

    def _history(self, namespace: str, key: str) -> tuple[list[str], list[str | int]]:
        """Keys and ARGV block shared by hit and update: the time buckets for now."""
        now = self.clock()
        return self._buckets(namespace, key, now=now, at=now)

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
        async with driver_errors():
            value = await self.transport.command("HGET", self.keys.counter(namespace, key), "value")
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
            enable_reset=as_text(enable_reset) == "1",
            update_lowerbound=int(lower),
            update_upperbound=int(upper),
            ttl=int(ttl),
        )

    async def count_batch(
        self, namespace: str, groups: Sequence[tuple[str, int, int]], *, now: int
    ) -> list[HitResult | OutOfBounds | Overflow]:
        """``count_hits`` for many ``(key, hits, at)`` groups in one round trip where possible."""
        calls = []
        for key, hits, at in groups:
            keys, args = self._buckets(namespace, key, now=now, at=at)
            calls.append((keys, [hits, *args]))
        results: list[HitResult | OutOfBounds | Overflow] = []
        created = []
        for (key, _, _), (status, value, made) in zip(
            groups, await self._eval_many("count_hits", calls), strict=True
        ):
            if status == Status.OUT_OF_BOUNDS:
                results.append(OutOfBounds(int(value)))
            elif status == Status.OVERFLOW:
                results.append(Overflow(int(value)))
            else:
                results.append(HitResult(int(value), bool(made)))
                if made:
                    created.append(key)
        if created:
            async with driver_errors():
                await self.redis.sadd(self.keys.namespace_index(namespace), *created)
        return results

    async def count_hits(
        self, namespace: str, key: str, hits: int, *, at: int, now: int
    ) -> HitResult:
        """Add ``hits`` +1 steps at time ``at`` (ms, may be past), creating the counter as hit."""
        [result] = await self.count_batch(namespace, [(key, hits, at)], now=now)
        if isinstance(result, OutOfBounds | Overflow):
            raise result
        return result

    def _buckets(
        self, namespace: str, key: str, *, now: int, at: int
    ) -> tuple[list[str], list[str | int]]:
        """Keys and the history ARGV block for an increment recorded at ``at`` (ms)."""
        day_start = at - at % 86_400_000
        stamp = time.gmtime(at / 1000)
        day = time.strftime("%Y%m%d", stamp)
        keys = [
            self.keys.counter(namespace, key),
            self.keys.daily(namespace, key),
            self.keys.hourly(namespace, key, day),
        ]
        hour = f"{stamp.tm_hour:02d}"
        return keys, [now, self.ttl_ms, day, hour, day_start + HOURLY_RETENTION_MS]

    async def put(
        self,
        namespace: str,
        key: str,
        value: int,
        *,
        now: int,
        enable_reset: bool | None = None,
        update_lowerbound: int | None = None,
        update_upperbound: int | None = None,
    ) -> int | None:
        """Set a counter whatever its enable_reset, creating it; returns the old value."""
        reply = await self._eval(
            "put",
            [self.keys.counter(namespace, key)],
            [
                value,
                "" if enable_reset is None else int(enable_reset),
                "" if update_lowerbound is None else update_lowerbound,
                "" if update_upperbound is None else update_upperbound,
                now,
                self.ttl_ms,
            ],
        )
        if reply[2]:
            await self._index(namespace, key)
            return None
        return int(reply[1])

    async def delete(self, namespace: str, key: str, *, now: int) -> bool:
        """Remove a counter and its history; False when there was none."""
        names = [self.keys.counter(namespace, key), self.keys.daily(namespace, key)]
        names += [self.keys.hourly(namespace, key, day) for day in _recent_days(now)]
        async with driver_errors():
            removed = await self.redis.delete(*names)  # one slot: one atomic DEL
            await self.redis.srem(self.keys.namespace_index(namespace), key)
        self._touched(names[0])
        return bool(removed)

    async def restore(self, namespace: str, key: str, record: CounterRecord, *, now: int) -> None:
        """Write one counter from a snapshot, replacing what is there."""
        daily = [part for day, count in sorted(record.daily.items()) for part in (day, str(count))]
        await self._eval(
            "restore",
            [self.keys.counter(namespace, key), self.keys.daily(namespace, key)],
            [
                record.value,
                record.created,
                int(record.enable_reset),
                record.update_lowerbound,
                record.update_upperbound,
                orjson.dumps(daily).decode(),
                now,
                self.ttl_ms,
            ],
        )
        await self._index(namespace, key)

    async def history(
        self, namespace: str, key: str, *, now: int
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Daily counts (``yyyymmdd``) and hourly counts of the last 7 days (``yyyymmddhh``)."""
        days = _recent_days(now)
        async with driver_errors(), self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.daily(namespace, key))
            for day in days:
                pipe.hgetall(self.keys.hourly(namespace, key, day))
            replies = await pipe.execute()
        daily = {as_text(day): int(count) for day, count in replies[0].items()}
        hourly = {
            f"{day}{as_text(hour)}": int(count)
            for day, reply in zip(days, replies[1:], strict=True)
            for hour, count in reply.items()
        }
        return daily, hourly

    async def namespace_keys(self, namespace: str) -> list[str]:
        """Keys in the namespace index, sorted (may include expired counters)."""
        async with driver_errors():
            members = await self.redis.smembers(self.keys.namespace_index(namespace))
        return sorted(as_text(member) for member in members)

    async def forget_keys(self, namespace: str, keys: Sequence[str]) -> None:
        """Drop expired counters from the namespace index."""
        if keys:
            async with driver_errors():
                await self.redis.srem(self.keys.namespace_index(namespace), *keys)

    async def _index(self, namespace: str, key: str) -> None:
        # A separate command: the index lives in the namespace's slot, not the counter's.
        # Listings prune members whose counter has expired.
        async with driver_errors():
            await self.transport.command("SADD", self.keys.namespace_index(namespace), key)


def _recent_days(now: int) -> list[str]:
    """The ``yyyymmdd`` names of the hourly buckets that may still exist at ``now``."""
    days = HOURLY_RETENTION_MS // 86_400_000
    stamps = (time.gmtime(now / 1000 - 86_400 * back) for back in range(days))
    return [time.strftime("%Y%m%d", stamp) for stamp in stamps]
