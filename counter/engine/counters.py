"""Counters: create, hit, update, set, get, info, batched hits, history and the index.

One method per operation; each is one atomic script on the counter's own hash slot (or a
single read command). The namespace index lives in the namespace's slot, so it is a
separate script after the counter's. Concurrent hits and reads of one key in this process
are coalesced (``coalesce.py``). The key layout is in ``docs/architecture.md``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson
from redis.asyncio.cluster import RedisCluster

from counter.engine import history as stored_history
from counter.engine.base import StoreBase, as_text, driver_errors, raise_translated
from counter.engine.coalesce import Coalescer
from counter.engine.fasthits import FastCall, FastHits
from counter.engine.names import INT64_MAX, INT64_MIN
from counter.engine.records import CounterInfo, CounterRecord, HitResult, parse_info
from counter.engine.scripts import Status
from counter.engine.tickbatch import TickBatcher
from counter.errors import (
    CounterExists,
    CounterNotFound,
    InvalidInput,
    OutOfBounds,
    Overflow,
    ResetDisabled,
    StoreError,
)

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
LEGACY_HOURLY_DAYS = 8  # before 0.2: one hourly hash per day, today and 7 days back
INDEX_PAGE = 1000  # keys per index read when a caller wants a whole namespace

CounterName = tuple[str, str]


HitOutcome = HitResult | OutOfBounds | Overflow


class CounterStore(StoreBase):
    """The CountAPI operations and the counter management that ``/api/v0`` adds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hits: Coalescer[CounterName, HitResult] = Coalescer(self._hit_units)
        self._gets: Coalescer[CounterName, int] = Coalescer(self._get_units)
        # hit.lua's step of every count_batch in one tick leaves as one hit_many.lua call.
        # A cluster runs a script on one slot only, and counters spread over all of them.
        fast_hits = FastHits(self)
        self._fast_hits: TickBatcher[FastCall, list[Any]] = TickBatcher(fast_hits.run)
        self._hit_many = not isinstance(self.redis, RedisCluster)

    def _pair(self, namespace: str, key: str) -> list[str]:
        return [self.keys.counter(namespace, key), self.keys.history(namespace, key)]

    async def _counter_eval(
        self, name: str, namespace: str, key: str, args: Sequence[str | int]
    ) -> list[Any]:
        """A counter script; a counter in the pre-0.2 layout is migrated and the call repeated."""
        keys = self._pair(namespace, key)
        reply = await self._eval(name, keys, args)
        if reply[0] == Status.MIGRATE:
            await self._migrate(namespace, key)
            reply = await self._eval(name, keys, args)
        return reply

    async def _migrate(self, namespace: str, key: str) -> None:
        now = self.clock()
        days = [now // DAY_MS - back for back in range(LEGACY_HOURLY_DAYS)]
        names = [_yyyymmdd(day) for day in days]
        await self._eval(
            "migrate",
            [
                *self._pair(namespace, key),
                self.keys.legacy_daily(namespace, key),
                *(self.keys.legacy_hourly(namespace, key, name) for name in names),
            ],
            [now // HOUR_MS, *days],
        )

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
        now = self.clock()
        reply = await self._eval(
            "create",
            self._pair(namespace, key),
            [
                value,
                int(enable_reset),
                update_lowerbound,
                update_upperbound,
                now,
                self.ttl_ms,
                now // HOUR_MS,
            ],
        )
        if reply[0] == Status.EXISTS:
            raise CounterExists(f"{namespace}/{key} already exists")
        await self._index(namespace, [key])

    async def hit(self, namespace: str, key: str) -> HitResult:
        """Add 1, creating the counter when missing (concurrent hits share one script)."""
        return await self._hits.call((namespace, key))

    async def _hit_units(self, name: CounterName, n: int) -> list[HitResult | Exception]:
        """n coalesced hits, decided per unit: the n consecutive values ending at Redis's."""
        namespace, key = name
        now = self.clock()
        [outcome] = await self.count_batch(namespace, [(key, n, now)], now=now)
        if isinstance(outcome, HitResult):
            if n == 1:
                return [outcome]
            last = outcome.value
            return [HitResult(last - n + 1 + i, outcome.created and i == 0) for i in range(n)]
        if isinstance(outcome, Overflow) and n > 1:
            # Near the int64 edge some units may still fit: decide them one by one, in order.
            units: list[HitResult | Exception] = []
            for _ in range(n):
                [single] = await self.count_batch(namespace, [(key, 1, now)], now=now)
                units.append(single)
            return units
        return [type(outcome)(outcome.value) for _ in range(n)]  # one exception per caller

    async def update(self, namespace: str, key: str, amount: int) -> int:
        """Add ``amount`` if it lies within the counter's bounds; returns the new value."""
        if not INT64_MIN <= amount <= INT64_MAX:  # update.lua trusts its arguments
            raise InvalidInput("invalid argument to update: amount")
        reply = await self._counter_eval(
            "update", namespace, key, [amount, self.clock() // HOUR_MS, self.ttl_ms]
        )
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
        reply = await self._counter_eval("set", namespace, key, [value, self.ttl_ms])
        if reply[0] == Status.MISSING:
            raise CounterNotFound(f"{namespace}/{key}")
        if reply[0] == Status.RESET_DISABLED:
            raise ResetDisabled(int(reply[1]))
        return int(reply[1])

    async def get(self, namespace: str, key: str) -> int:
        """The counter's value (one HGET, shared by the concurrent reads of the key)."""
        return await self._gets.call((namespace, key))

    async def _get_units(self, name: CounterName, n: int) -> list[int | Exception]:
        namespace, key = name
        try:
            value = await self.transport.command("HGET", self.keys.counter(namespace, key), "value")
        except Exception as error:  # not driver_errors(): a plain except costs less per read
            raise_translated(error)
        if value is None:
            return [CounterNotFound(f"{namespace}/{key}") for _ in range(n)]
        return [int(value)] * n

    async def info(self, namespace: str, key: str) -> CounterInfo:
        """The counter with its metadata and remaining time to live."""
        [found] = await self.infos(namespace, [key])
        if found is None:
            raise CounterNotFound(f"{namespace}/{key}")
        return found

    async def infos(self, namespace: str, keys: Sequence[str]) -> list[CounterInfo | None]:
        """``info`` of many counters in one round trip where possible; None for the missing."""
        calls: list[tuple[list[str], list[str | int]]] = [
            ([self.keys.counter(namespace, key)], []) for key in keys
        ]
        replies = await self._eval_many("info", calls) if calls else []
        return [parse_info(namespace, key, reply) for key, reply in zip(keys, replies, strict=True)]

    async def count_batch(
        self, namespace: str, groups: Sequence[tuple[str, int, int]], *, now: int
    ) -> list[HitOutcome]:
        """``hits`` +1 steps at ``at`` for each ``(key, hits, at)`` group; all or none per group."""
        for _, hits, _ in groups:
            if hits < 1:  # hit.lua trusts its arguments
                raise InvalidInput("invalid argument to hit: hits")
        # hit.lua (one key: the steady state or a new counter) first, then the whole operation
        # (hit_full.lua) where it answers FULL: a new or a past hour, a counter refusing hits
        # or written before field fh. Neither call writes half a hit.
        counter, ttl = self.keys.counter, self.ttl_ms
        fast = [
            ([counter(namespace, key)], [hits, at // HOUR_MS, ttl, now]) for key, hits, at in groups
        ]
        if self._hit_many:
            replies = await self._fast_hits.submit(fast)
        else:
            replies = await self._eval_many("hit", fast)
        full = [index for index, reply in enumerate(replies) if reply[0] == Status.FULL]
        if full:
            await self._hit_full(namespace, groups, fast, replies, full)
        results: list[HitOutcome] = []
        created = []
        for (key, _, _), reply in zip(groups, replies, strict=True):
            status = reply[0]
            if status == Status.OUT_OF_BOUNDS:
                results.append(OutOfBounds(int(reply[1])))
            elif status == Status.OVERFLOW:
                results.append(Overflow(int(reply[1])))
            else:
                made = len(reply) > 2 and bool(reply[2])
                results.append(HitResult(int(reply[1]), made))
                if made:
                    created.append(key)
        if created:
            await self._index(namespace, created)
        return results

    async def _hit_full(
        self,
        namespace: str,
        groups: Sequence[tuple[str, int, int]],
        fast: list[tuple[list[str], list[int]]],
        replies: list[list[Any]],
        full: list[int],
    ) -> None:
        """hit_full.lua for the groups hit.lua answered FULL, their replies put in place."""
        calls = {index: (self._pair(namespace, groups[index][0]), fast[index][1]) for index in full}
        again = await self._eval_many("hit_full", list(calls.values()))
        for index, reply in zip(full, again, strict=True):
            replies[index] = reply
        for index in full:
            if replies[index][0] == Status.MIGRATE:  # once per counter written before 0.2
                await self._migrate(namespace, groups[index][0])
                replies[index] = await self._eval("hit_full", *calls[index])

    async def count_hits(
        self, namespace: str, key: str, hits: int, *, at: int, now: int
    ) -> HitResult:
        """Add ``hits`` +1 steps at time ``at`` (ms, may be past), creating the counter as hit."""
        [result] = await self.count_batch(namespace, [(key, hits, at)], now=now)
        if isinstance(result, OutOfBounds | Overflow):
            raise result
        return result

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
        reply = await self._counter_eval(
            "put",
            namespace,
            key,
            [
                value,
                "" if enable_reset is None else int(enable_reset),
                "" if update_lowerbound is None else update_lowerbound,
                "" if update_upperbound is None else update_upperbound,
                now,
                self.ttl_ms,
                now // HOUR_MS,
            ],
        )
        if reply[2]:
            await self._index(namespace, [key])
            return None
        return int(reply[1])

    async def delete(self, namespace: str, key: str, *, now: int) -> bool:
        """Remove a counter and its history (either layout); False when there was none."""
        names = [*self._pair(namespace, key), self.keys.legacy_daily(namespace, key)]
        days = (now // DAY_MS - back for back in range(LEGACY_HOURLY_DAYS))
        names += [self.keys.legacy_hourly(namespace, key, _yyyymmdd(day)) for day in days]
        async with driver_errors():
            removed = await self.redis.delete(*names)  # one slot: one atomic DEL
        await self.forget_keys(namespace, [key])
        self._touched(names[0])
        return bool(removed)

    async def restore(self, namespace: str, key: str, record: CounterRecord, *, now: int) -> None:
        """Write one counter from a snapshot, replacing what is there."""
        daily = [
            part
            for day, count in sorted(record.daily.items())
            for part in (str(_day_number(day)), str(count))
        ]
        await self._eval(
            "restore",
            [*self._pair(namespace, key), self.keys.legacy_daily(namespace, key)],
            [
                record.value,
                record.created,
                int(record.enable_reset),
                record.update_lowerbound,
                record.update_upperbound,
                orjson.dumps(daily).decode(),
                now // HOUR_MS,
                self.ttl_ms,
            ],
        )
        await self._index(namespace, [key])

    async def history(
        self, namespace: str, key: str, *, now: int
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Daily counts (``yyyymmdd``) and hourly counts of the last 7 days (``yyyymmddhh``)."""
        reply = await self._counter_eval("read_history", namespace, key, [])
        if reply[0] == Status.MISSING:
            return {}, {}
        _, value, pending_hour, hv, stored = reply
        history = stored_history.parse(as_text(stored))
        history.add(int(pending_hour), int(value) - int(hv))
        return history.named(now, self.ttl_ms)

    async def namespace_page(self, namespace: str, *, after: str, count: int) -> list[str]:
        """Up to ``count`` keys of the namespace index after ``after``, sorted (O(count))."""
        reply = await self._eval(
            "index_page", [self.keys.namespace_index(namespace)], [after, count]
        )
        return [as_text(member) for member in reply[1:]]

    async def namespace_keys(self, namespace: str) -> list[str]:
        """Keys in the namespace index, sorted (may include expired counters)."""
        keys: list[str] = []
        while True:
            page = await self.namespace_page(
                namespace, after=keys[-1] if keys else "", count=INDEX_PAGE
            )
            keys += page
            if len(page) < INDEX_PAGE:
                return keys

    async def forget_keys(self, namespace: str, keys: Sequence[str]) -> None:
        """Drop expired counters from the namespace index."""
        if keys:
            index = [self.keys.namespace_index(namespace)]
            await self._eval_many("index_remove", [(index, [key]) for key in keys])

    async def _index(self, namespace: str, keys: Sequence[str]) -> None:
        # A separate command: the index lives in the namespace's slot, not the counter's.
        # Listings prune members whose counter has expired.
        if not keys:
            return
        index = self.keys.namespace_index(namespace)
        try:
            async with driver_errors():
                await self.transport.command("ZADD", index, *(x for k in keys for x in ("0", k)))
        except StoreError:  # WRONGTYPE: a plain set from before 0.2, converted by the script
            await self._eval_many("index_add", [([index], [key]) for key in keys])


def _yyyymmdd(day: int) -> str:
    return time.strftime("%Y%m%d", time.gmtime(day * 86_400))


def _day_number(yyyymmdd: str) -> int:
    day = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    return day.toordinal() - _EPOCH_ORDINAL


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
