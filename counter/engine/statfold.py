"""Site statistics folded in this process and written at most an interval later.

``record_stats.lua`` costs Redis per distinct increment, not per hit: a batch's hits on one
path, day and browser add up to one field each (``engine/statbatch.py``). So the hits one
process ingests meanwhile are kept per site and written together, as GoatCounter itself
keeps hits in memory and persists them every ten seconds. Counters and the hit log are not
folded: they are stored before a hit is answered, so what folding can lose is statistics
only, and exports (read from the log) lose nothing.

- A site's pending hits form a *segment*, in arrival order. A segment is sealed when the
  interval ticks, or earlier when a hit would make it name more than ``max_paths`` distinct
  paths or it holds ``max_hits`` hits: one ``record_stats`` call never costs Redis more than a large
  ``POST /api/v0/count`` batch already does, and memory stays bounded.
- Sealed segments are written one at a time, oldest first, so a site's paths are created and
  its capped rankings admit newcomers in the order of their first hit, exactly as when every
  batch was written before its answer.
- Ingest cannot outrun the writes: while the oldest sealed segment has waited longer than
  the interval, ``add`` waits for the writer before it returns (its request answers later),
  so statistics lag at most about two intervals and nothing is dropped for load alone. A
  writer that gets nothing written for two intervals (Redis refusing) stops the waiting.
- A write that fails for want of Redis is retried at the next tick; past ``max_pending``
  waiting hits the oldest segments are dropped and logged, so an outage cannot exhaust memory.
- ``settle(namespace)`` writes a site's pending hits now: this process reads its own writes.
  Another process sees them at most an interval (plus one write) later. ``stop`` writes all.
- An interval of 0 folds nothing: ``add`` writes the hits before its caller answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from counter.engine.statbatch import StatBatch, StatHit, StatLimits
from counter.engine.store import Store
from counter.errors import StoreError, StoreUnavailable

log = logging.getLogger(__name__)

MAX_PATHS = 200  # distinct paths per write: about what a batch of the API costs Redis now
MAX_HITS = 20_000  # hits per write, however few their paths
MAX_PENDING = 500_000  # hits waiting across sites before the oldest are dropped


@dataclass(slots=True)
class _Segment:
    namespace: str
    hits: list[StatHit] = field(default_factory=list)
    paths: set[str] = field(default_factory=set)
    at: float = 0.0  # when it was sealed (event loop time)


class SiteStatsFolder:
    """Pending statistics per site, the task that writes them, and a way to wait for them."""

    def __init__(
        self,
        store: Callable[[], Awaitable[Store]],
        limits: StatLimits,
        interval_ms: int,
        *,
        max_paths: int = MAX_PATHS,
        max_hits: int = MAX_HITS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._store = store
        self._limits = limits
        self._interval = interval_ms / 1000
        self._max_paths, self._max_hits, self._max_pending = max_paths, max_hits, max_pending
        self._open: dict[str, _Segment] = {}
        self._sealed: deque[_Segment] = deque()
        self._pending = 0  # hits in _open and _sealed
        self._in_flight: _Segment | None = None  # the sealed segment being written
        self._writing = asyncio.Lock()  # one write at a time keeps each site's order
        self._written = asyncio.Event()  # set (and replaced) after every segment written
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.dropped = 0  # hits dropped after failed writes (logged)

    @property
    def pending(self) -> int:
        return self._pending

    async def add(self, namespace: str, hits: Sequence[StatHit]) -> None:
        """Queue hits (checked now, so a hit the script would refuse fails its request).

        When the writer is more than an interval behind, the caller waits for it before
        returning: ingest cannot outrun what Redis takes, and the lag stays bounded.
        With an interval of 0 the hits are written now, before the caller answers."""
        if not self._interval:
            await (await self._store()).record_site_stats(namespace, hits, self._limits)
            return
        for hit in hits:
            StatBatch.check(hit)
        self._start()
        for hit in hits:
            segment = self._open.get(namespace)
            new_path = not hit.bot and (segment is None or hit.path not in segment.paths)
            if segment is not None and new_path and len(segment.paths) >= self._max_paths:
                self._seal(namespace)  # full: the new path opens the next segment
                segment = None
            if segment is None:
                segment = self._open[namespace] = _Segment(namespace)
            segment.hits.append(hit)
            if new_path:
                segment.paths.add(hit.path)
            self._pending += 1
            if len(segment.hits) >= self._max_hits:
                self._seal(namespace)
        self._trim()
        while self._behind():  # wait for the writer, as long as it gets somewhere
            written = self._written
            if self._wake is not None:
                self._wake.set()
            try:
                await asyncio.wait_for(written.wait(), 2 * self._interval)
            except TimeoutError:
                return  # nothing written for two intervals: Redis refuses; the bound holds

    def _behind(self) -> bool:
        assert self._loop is not None
        return bool(self._sealed) and self._loop.time() - self._sealed[0].at > self._interval

    async def settle(self, namespace: str | None = None) -> None:
        """Write the pending hits of ``namespace`` (every site's when None) before returning."""
        if namespace is None:
            self._seal_all()
        elif namespace in self._open:
            self._seal(namespace)
        if any(namespace is None or s.namespace == namespace for s in self._sealed):
            await self._write_sealed(raise_errors=True, only=namespace)

    def _seal_all(self) -> None:
        for namespace in list(self._open):
            self._seal(namespace)

    def _seal(self, namespace: str) -> None:
        segment = self._open.pop(namespace, None)
        if segment is not None and segment.hits:
            assert self._loop is not None
            segment.at = self._loop.time()
            self._sealed.append(segment)
            if self._wake is not None:
                self._wake.set()

    def _trim(self) -> None:
        while self._pending > self._max_pending:
            # The segment being written stays: its write may be applied (and then removed).
            at = 1 if self._sealed and self._sealed[0] is self._in_flight else 0
            if len(self._sealed) <= at:
                return
            lost = self._sealed[at]
            del self._sealed[at]
            self._pending -= len(lost.hits)
            self.dropped += len(lost.hits)
            log.error("site statistics of %d hits of %r dropped: Redis has refused them for "
                      "too long", len(lost.hits), lost.namespace)  # fmt: skip

    async def _write_sealed(self, *, raise_errors: bool, only: str | None = None) -> None:
        """Write sealed segments oldest first: all, or up to the last of ``only``'s site."""
        async with self._writing:
            while self._sealed:
                if only is not None and not any(s.namespace == only for s in self._sealed):
                    return
                segment = self._in_flight = self._sealed[0]
                try:
                    store = await self._store()
                    await store.record_site_stats(segment.namespace, segment.hits, self._limits)
                except (StoreUnavailable, StoreError):
                    if raise_errors:
                        raise
                    return  # kept at the head: the next tick tries again
                except Exception:  # refused (add() checks what it can): retrying cannot help
                    log.exception("site statistics of %d hits of %r refused",
                                  len(segment.hits), segment.namespace)  # fmt: skip
                    self.dropped += len(segment.hits)
                finally:
                    self._in_flight = None
                self._sealed.popleft()
                self._pending -= len(segment.hits)
                self._written.set()  # wakes the callers waiting for the writer
                self._written = asyncio.Event()

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests): nothing of the old one is kept
            self._loop, self._task = loop, None
            self._writing, self._written = asyncio.Lock(), asyncio.Event()
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._stopping = False
            self._task = loop.create_task(self._write_forever())

    async def _write_forever(self) -> None:
        assert self._wake is not None
        wake, loop = self._wake, asyncio.get_running_loop()
        due = loop.time() + self._interval
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), max(0.0, due - loop.time()))
            wake.clear()
            if loop.time() >= due:  # the interval ticked: every open segment is due
                self._seal_all()
                due = loop.time() + self._interval
            await self._write_sealed(raise_errors=False)

    async def stop(self) -> None:
        """Write everything pending and stop the task (what Redis refuses now is dropped).

        The task is asked to end, not cancelled: a write cancelled in flight may have been
        applied by Redis, and writing its segment again would count it twice.
        """
        task, self._task = self._task, None
        if task is not None and not task.done() and self._wake is not None:
            self._stopping = True
            self._wake.set()
            with contextlib.suppress(Exception):
                await task
        try:
            await self.settle()
        except (StoreUnavailable, StoreError):
            lost = sum(len(segment.hits) for segment in self._sealed)
            log.exception("site statistics of %d hits not written at shutdown", lost)
            self.dropped += lost
            self._sealed.clear()
            self._pending = 0
