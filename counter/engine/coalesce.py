"""Hot-key coalescing: at most one Redis call in flight per key, the rest ride the next one.

A call for a key with nothing in flight goes straight out. Calls that arrive while one is in
flight wait together; when it returns, they go out as ONE call covering all of them (n), and
so on. A viral counter then costs Redis one script per round trip instead of one per hit.
Nothing joins a call already sent, so each caller's call reaches Redis after the caller
started: a read never answers from before a write its caller had already seen acknowledged.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

# run(key, n) -> one outcome per caller, in arrival order: a result, or an exception to raise.
Runner = Callable[[K, int], Awaitable[Sequence["T | Exception"]]]


class Coalescer(Generic[K, T]):
    """Shares one ``run(key, n)`` among the n callers that queued for ``key`` meanwhile."""

    def __init__(self, run: Runner[K, T]) -> None:
        self._run = run
        self._waiting: dict[K, list[asyncio.Future[T]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, key: K) -> T:
        waiting = self._waiting.get(key)
        if waiting is not None:  # a call is in flight: ride the next one
            future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            waiting.append(future)
            return await future
        self._waiting[key] = []
        try:
            [outcome] = await self._run(key, 1)
        finally:
            self._next(key)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _next(self, key: K) -> None:
        waiting = self._waiting.pop(key)
        if not waiting:
            return
        self._waiting[key] = []  # callers from now on wait for the call after this one
        task = asyncio.ensure_future(self._serve(key, waiting))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, key: K, futures: list[asyncio.Future[T]]) -> None:
        outcomes: Sequence[T | Exception]
        try:
            outcomes = await self._run(key, len(futures))
        except asyncio.CancelledError:  # the loop is closing: nobody may wait forever
            for future in futures:
                future.cancel()
            raise
        except Exception as error:  # the whole call failed (Redis down): every caller sees it
            outcomes = [own_copy(error) for _ in futures]
        finally:
            self._next(key)
        for future, outcome in zip(futures, outcomes, strict=True):
            if future.done():  # its caller went away (client disconnected)
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


def own_copy(error: Exception) -> Exception:
    """A caller's own exception (one instance raised in many tasks would share a traceback)."""
    clone = copy.copy(error)
    clone.__cause__ = error.__cause__
    return clone
