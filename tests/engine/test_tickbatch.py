"""The tick batcher alone (no Redis: it knows nothing of it): who shares a run, in what order,
and what each caller gets back when a run succeeds, fails, or its caller leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from counter.engine.tickbatch import TickBatcher


class Recorder:
    """A run that answers each item with (run number, item) after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.runs: list[list[int]] = []
        self.delay = delay
        self.fail = fail

    async def __call__(self, items: list[int]) -> list[tuple[int, int]]:
        self.runs.append(list(items))
        number = len(self.runs)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("down")
        return [(number, item) for item in items]


async def test_callers_of_one_tick_share_one_run_and_get_their_own_slices() -> None:
    run = Recorder()
    batcher = TickBatcher(run)
    results = await asyncio.gather(batcher.submit([1]), batcher.submit([2, 3]), batcher.submit([4]))
    assert run.runs == [[1, 2, 3, 4]]
    assert results == [[(1, 1)], [(1, 2), (1, 3)], [(1, 4)]]


async def test_callers_arriving_while_a_run_is_in_flight_leave_together_after_it() -> None:
    run = Recorder(delay=0.02)
    batcher = TickBatcher(run)
    first = asyncio.ensure_future(batcher.submit([1]))
    await asyncio.sleep(0.005)  # the first run is in flight now
    later = [asyncio.ensure_future(batcher.submit([n])) for n in (2, 3)]
    await asyncio.sleep(0.005)
    also = asyncio.ensure_future(batcher.submit([4]))
    assert await first == [(1, 1)]
    assert [await future for future in (*later, also)] == [[(2, 2)], [(2, 3)], [(2, 4)]]
    assert run.runs == [[1], [2, 3, 4]]
    assert await batcher.submit([5]) == [(3, 5)]  # nothing in flight: straight out


async def test_a_failed_run_fails_each_of_its_callers_with_its_own_exception() -> None:
    run = Recorder(fail=True)
    batcher = TickBatcher(run)
    results = await asyncio.gather(*(batcher.submit([n]) for n in range(3)), return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in results)
    assert len({id(result) for result in results}) == 3
    run.fail = False
    assert await batcher.submit([9]) == [(2, 9)]  # the batcher is free again


async def test_a_caller_that_leaves_does_not_disturb_the_others() -> None:
    run = Recorder(delay=0.01)
    batcher = TickBatcher(run)
    leaving = asyncio.ensure_future(batcher.submit([1]))
    staying = asyncio.ensure_future(batcher.submit([2]))
    await asyncio.sleep(0)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await staying == [(1, 2)]
    assert run.runs == [[1, 2]]  # an item already queued is still sent


async def test_an_item_that_failed_fails_only_its_own_caller() -> None:
    async def run(items: list[int]) -> list[int | Exception]:
        return [ValueError(f"item {item}") if item == 2 else item * 10 for item in items]

    batcher: TickBatcher[int, int] = TickBatcher(run)
    results = await asyncio.gather(
        batcher.submit([1]), batcher.submit([2, 3]), batcher.submit([4]), return_exceptions=True
    )
    assert results[0] == [10] and results[2] == [40]
    assert isinstance(results[1], ValueError) and str(results[1]) == "item 2"


async def test_a_new_event_loop_starts_with_a_clean_batcher() -> None:
    run = Recorder()
    batcher = TickBatcher(run)
    batcher._in_flight = 1  # what a loop closed mid-run would leave behind
    batcher._loop = None
    assert await asyncio.wait_for(batcher.submit([7]), 1) == [(1, 7)]


async def test_run_groups_puts_outcomes_back_and_fails_only_the_failed_groups_positions() -> None:
    from counter.engine.tickbatch import run_groups

    async def run(group: Sequence[int]) -> list[str]:
        if 3 in group:
            raise ConnectionError("down")
        return [f"item {position}" for position in group]

    outcomes = await run_groups([[0, 2], [1, 3], [4]], run, 5)
    assert outcomes[0] == "item 0" and outcomes[2] == "item 2" and outcomes[4] == "item 4"
    assert isinstance(outcomes[1], ConnectionError) and outcomes[1] is outcomes[3]
    with pytest.raises(ValueError, match="cover every position"):
        await run_groups([[0]], run, 2)
