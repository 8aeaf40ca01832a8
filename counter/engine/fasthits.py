"""hit.lua's step for the hits one worker makes in one tick: hit_many.lua, one call per hour.

``count_batch`` hands its (KEYS, ARGV) of ``hit.lua`` to a ``TickBatcher`` whose runner is
``FastHits.run``: one call goes out as ``hit.lua``; several go out as ``hit_many.lua`` with
the hour, the TTL and the creation time once and one n per counter (every argument costs
Redis a Lua string), at most 128 counters per call so that no call blocks Redis for long.
Replies come back per call, in hit.lua's shape, for ``count_batch`` to finish as before.
Only for a standalone Redis: the counters span hash slots (a cluster sends hit.lua each).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from counter.engine.tickbatch import run_groups
from counter.redis.transport import Arg

HIT_MANY_MAX = 128  # counters per hit_many.lua call: a long script blocks Redis for everyone

FastCall = tuple[list[str], list[int]]  # hit.lua's KEYS and ARGV: [n, hour, ttl, now]


class Scripts(Protocol):
    """The Store's two ways of running a script (``engine/base.py``), looked up per call."""

    async def _eval(self, name: str, keys: Sequence[str], args: Sequence[Arg]) -> list[Any]: ...

    async def _eval_per_key(
        self, name: str, keys: Sequence[str], args: Sequence[Arg]
    ) -> list[list[Any]]: ...


class FastHits:
    """Runs a tick's hit.lua calls: itself for one, hit_many.lua for several."""

    def __init__(self, store: Scripts) -> None:
        self._store = store

    async def run(self, calls: list[FastCall]) -> list[list[Any] | Exception]:
        """A reply per call, or the exception of the call that carried it: a chunk that
        failed fails only the calls in it (the other chunks' hits were counted)."""
        if len(calls) == 1:
            return [await self._store._eval("hit", *calls[0])]
        by_hour: dict[int, list[int]] = {}  # hour -> positions in calls (one hour, mostly)
        for position, (_, (_, hour, _, _)) in enumerate(calls):
            by_hour.setdefault(hour, []).append(position)
        chunks = [
            positions[start : start + HIT_MANY_MAX]
            for positions in by_hour.values()
            for start in range(0, len(positions), HIT_MANY_MAX)
        ]
        return await run_groups(chunks, lambda chunk: self._call(calls, chunk), len(calls))

    async def _call(self, calls: list[FastCall], positions: Sequence[int]) -> list[list[Any]]:
        _, (_, hour, ttl, _) = calls[positions[0]]
        now = max(calls[position][1][3] for position in positions)  # a creation time
        keys = [calls[position][0][0] for position in positions]
        hits = [calls[position][1][0] for position in positions]
        return await self._store._eval_per_key("hit_many", keys, [ttl, hour, now, *hits])
