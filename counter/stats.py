"""Global stats (``/stats``), aggregated per process and flushed in one batch per interval.

A single shared hash incremented on every request would be a hotspot; instead each
process sums locally and folds its deltas into Redis at most every second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable

from .errors import StoreError, StoreUnavailable
from .store import Store

FIELDS = ("keys_created", "keys_updated", "requests")


class StatsAggregator:
    """Local deltas plus the task that flushes them."""

    def __init__(self, store: Callable[[], Awaitable[Store]], interval_ms: int) -> None:
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
