"""Cross-key batching: the hits one worker makes meanwhile leave as one call.

Under load a worker answers several requests per tick, each for a different counter. Sent
one by one they cost Redis one command each (reading, parsing, script lookup, reply), and
that is most of what a cheap script costs. ``TickBatcher.submit`` queues a caller's items;
with nothing in flight, everything queued by the end of the tick (``call_soon``, after
every callback already ready has queued its own) goes to ONE ``run(items)``. While a run is
in flight, new items wait and leave together when it returns: a busier Redis gets deeper
batches (Redis CPU per /hit: 5.5 µs, against 5.6-5.8 µs flushing every tick and 6.3-6.5 µs
for one hit.lua per hit; docs/performance.md).
Each caller gets back its own slice of the outcomes, or the exception of one of its items
(a failed item fails only its caller). Nothing joins a run already sent, so
each item reaches Redis after its caller submitted it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar, cast

from counter.engine.coalesce import own_copy

T = TypeVar("T")
R = TypeVar("R")

# run(items) -> one outcome per item, in order: a result, or the exception of that item.
BatchRunner = Callable[[list[T]], Awaitable[Sequence[R | Exception]]]


class TickBatcher(Generic[T, R]):
    """Shares one ``run(items)`` among the callers that submitted since the last one left."""

    def __init__(self, run: BatchRunner[T, R]) -> None:
        self._run = run
        self._items: list[T] = []
        self._callers: list[tuple[asyncio.Future[list[R]], int, int]] = []  # future, from, to
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight = 0  # runs sent and not yet answered (0 or 1)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, items: Sequence[T]) -> list[R]:
        """This caller's outcomes; raises the first exception among them, if any."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (an embedder's tests): nothing carries over
            self._loop, self._items, self._callers, self._in_flight = loop, [], [], 0
        if not self._callers and not self._in_flight:
            loop.call_soon(self._flush)
        future: asyncio.Future[list[R]] = loop.create_future()
        start = len(self._items)
        self._items.extend(items)
        self._callers.append((future, start, len(self._items)))
        return await future

    def _flush(self) -> None:
        if not self._callers:
            return
        items, callers = self._items, self._callers
        self._items, self._callers = [], []
        self._in_flight += 1  # now, not when the task starts: a submit in between must wait
        task = asyncio.ensure_future(self._serve(items, callers))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(
        self, items: list[T], callers: list[tuple[asyncio.Future[list[R]], int, int]]
    ) -> None:
        try:
            outcomes = await self._run(items)
        except asyncio.CancelledError:  # the loop is closing: nobody may wait forever
            for future, _, _ in callers:
                future.cancel()
            raise
        except Exception as error:  # the whole run failed (Redis down): every caller sees it
            for future, _, _ in callers:
                if not future.done():
                    future.set_exception(own_copy(error))
            return
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._flush()
        for future, start, end in callers:
            if future.done():  # its caller went away (client disconnected)
                continue
            mine = list(outcomes[start:end])
            failed = next((outcome for outcome in mine if isinstance(outcome, Exception)), None)
            if failed is None:
                future.set_result(mine)  # type: ignore[arg-type]  # no exception among them
            else:
                future.set_exception(own_copy(failed))


async def run_groups(
    groups: Sequence[Sequence[int]],
    run: Callable[[Sequence[int]], Coroutine[Any, Any, Sequence[R]]],
    size: int,
) -> list[R | Exception]:
    """``run`` each group of positions concurrently; every outcome back at its position.

    A group that fails gives its exception to each of its positions only: a runner splits
    its items into groups that Redis takes separately (hours, sites, chunks), and one
    group's failure must not fail the callers whose items another group stored.
    """
    results = await asyncio.gather(*(run(group) for group in groups), return_exceptions=True)
    outcomes: list[R | Exception | None] = [None] * size
    for group, result in zip(groups, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):  # cancelled: nobody waits any more
                raise result
            for position in group:
                outcomes[position] = result
            continue
        for position, outcome in zip(group, result, strict=True):
            outcomes[position] = outcome
    if any(outcome is None for outcome in outcomes):
        raise ValueError("the groups must cover every position")
    return cast(list[R | Exception], outcomes)
