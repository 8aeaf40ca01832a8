"""Global stats (``/stats``), aggregated per process and flushed in one batch per interval.

A single shared hash incremented on every request would be a hotspot; instead each
process sums locally and folds its deltas into Redis at most every second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable

from counter.engine.base import StoreBase, as_text, driver_errors
from counter.errors import StoreError, StoreUnavailable

FIELDS = ("keys_created", "keys_updated", "requests")


class StatsAggregator:
    """Local deltas plus the task that flushes them."""

    def __init__(self, store: Callable[[], Awaitable[StatsStore]], interval_ms: int) -> None:
        self._store = store
        self._interval = interval_ms / 1000
        self._deltas: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    def count(self, field: str, amount: int = 1) -> None:
        self._deltas[field] += amount

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            # A Redis outage must not kill the loop; the deltas wait for the next tick.
            with contextlib.suppress(StoreUnavailable, StoreError):
                await self.flush()

    async def flush(self) -> None:
        """Send the local deltas; on failure they are kept for the next attempt."""
        deltas, self._deltas = self._deltas, Counter()
        if not deltas:
            return
        try:
            await (await self._store()).add_stats(dict(deltas))
        except BaseException:
            self._deltas.update(deltas)
            raise

    async def totals(self) -> dict[str, int]:
        """Flush this process's share, then read the shared totals."""
        await self.flush()
        stored = await (await self._store()).read_stats()
        return {field: stored.get(field, 0) for field in FIELDS}

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(StoreUnavailable, StoreError):
            await self.flush()


class StatsStore(StoreBase):
    """The shared ``/stats`` hash: per-process deltas folded in, read back whole."""

    async def add_stats(self, deltas: dict[str, int]) -> None:
        """Fold one process's stats deltas into the shared hash in one round trip."""
        if not deltas:
            return
        async with driver_errors(), self.redis.pipeline(transaction=False) as pipe:
            for field, amount in deltas.items():
                pipe.hincrby(self.keys.stats(), field, amount)
            await pipe.execute()

    async def read_stats(self) -> dict[str, int]:
        async with driver_errors():
            raw = await self.redis.hgetall(self.keys.stats())
        return {as_text(field): int(value) for field, value in raw.items()}
