"""Run a plan: the checks before it, the generator processes, Ctrl-C, the checks after.

One process runs the load in the calling process; more are spawned (each with its share
of the connections and the rate) and send their per-second windows and final records
back over a queue. Ctrl-C stops every generator gracefully: what was measured until
then is reported, marked interrupted.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvloop

from .generator import Generator
from .http import error_name, fetch_all
from .plan import LoadPlan, Route
from .stats import Recorder, Second, Totals
from .verify import Verdict, VerifyError, judge, key_numbers, read_counters, touched


class LoadFailure(Exception):
    """The run could not start or finish; the message says why in a person's words."""


@dataclass
class Result:
    plan: LoadPlan
    totals: Totals
    seconds: float  # the measured part of the run
    tool: str = "builtin"
    interrupted: bool = False
    verdict: Verdict | None = None
    problems: list[str] = field(default_factory=list)
    # wrk reports percentiles, not a histogram: they are kept here instead
    percentiles_us: dict[float, int] | None = None
    status_errors: int = 0  # non-2xx answers counted without their status (wrk)

    @property
    def errors(self) -> int:
        bad = sum(n for status, n in self.totals.statuses.items() if not 200 <= status < 300)
        return bad + self.status_errors + sum(self.totals.socket_errors.values())

    @property
    def rate(self) -> float:
        return self.totals.requests / self.seconds if self.seconds > 0 else 0.0

    def timeline(self) -> list[Second]:
        return self.totals.timeline.seconds()


OnSecond = Callable[[Second], None]


def run(plan: LoadPlan, on_second: OnSecond | None = None) -> Result:
    """Check, load, verify. Raises LoadFailure when nothing useful can be measured."""
    before: dict[int, int] = {}
    asyncio_run(preflight(plan))
    if plan.verify:
        before = asyncio_run(_read(plan, key_numbers(plan), "before the run"))
    result = _load(plan, on_second)
    if plan.verify and not result.interrupted:
        numbers = touched(result.totals.sent)
        try:
            after = asyncio_run(_read(plan, numbers, "after the run")) if numbers else {}
        except KeyboardInterrupt:  # the load's report is still worth printing
            result.interrupted = True
            result.problems.append("interrupted while reading counters back: nothing verified")
            return result
        except LoadFailure as error:
            result.problems.append(str(error))
            return result
        result.verdict = judge(plan, before, after, result.totals.sent, result.totals.acked)
    elif plan.verify:
        result.problems.append("interrupted: counters not read back, nothing verified")
    return result


def asyncio_run(coroutine: Any) -> Any:
    return uvloop.run(coroutine)


async def preflight(plan: LoadPlan) -> None:
    """Fail early and clearly: no server there, or a token the server refuses."""
    route = Route(plan)
    try:
        if route.kind == "batch":
            me = f"GET {plan.prefix}/api/v0/me HTTP/1.1\r\nHost: {plan.host}\r\n"
            me += f"Authorization: Bearer {plan.token}\r\n\r\n"
            [(status, body)] = await fetch_all(
                plan.host, plan.port, [me.encode()], connections=1, timeout=plan.timeout
            )
            if status in (401, 403):
                raise LoadFailure(
                    f"the server refused the token (HTTP {status} on /api/v0/me: "
                    f"{body[:200].decode(errors='replace')}); check --token"
                )
        else:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(plan.host, plan.port), plan.timeout
            )
            writer.close()
    except (OSError, TimeoutError, ConnectionError) as error:
        raise LoadFailure(f"cannot reach {plan.url}: {error_name(error)} ({error})") from None


async def _read(plan: LoadPlan, numbers: list[int], when: str) -> dict[int, int]:
    try:
        return await read_counters(plan, numbers)
    except VerifyError as error:
        raise LoadFailure(f"--verify {when}: {error}") from None
    except (OSError, TimeoutError, ConnectionError) as error:
        raise LoadFailure(f"--verify {when}: {error_name(error)} ({error})") from None


# -- the load itself ------------------------------------------------------------------


def _load(plan: LoadPlan, on_second: OnSecond | None) -> Result:
    totals = Totals(plan.keys if plan.key is None else 1)
    if plan.processes == 1:
        snapshot, interrupted = _in_process(plan, totals, on_second)
        totals.merge(snapshot)
    else:
        interrupted = _spawned(plan, totals, on_second)
    seconds = totals.seconds if totals.requests else 0.0
    return Result(plan, totals, seconds, interrupted=interrupted)


def _in_process(
    plan: LoadPlan, totals: Totals, on_second: OnSecond | None
) -> tuple[dict[str, Any], bool]:
    recorder = Recorder(totals.keys)

    def second(entry: tuple[int, str, int]) -> None:
        merged = totals.timeline.add(*entry)
        if on_second is not None:
            on_second(merged)

    generator = Generator(plan, recorder, second)
    asyncio_run(_guarded(generator))
    snapshot = recorder.snapshot()
    snapshot["timeline"] = []  # already added second by second
    return snapshot, generator.interrupted


async def _guarded(generator: Generator) -> None:
    """Run with Ctrl-C (and SIGTERM) stopping the generator instead of raising."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, generator.interrupt)
    try:
        await generator.run()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _worker(plan: LoadPlan, keys: int, outbox: Any, stop: Any) -> None:
    """A spawned generator process: report each second, then the final records."""
    recorder = Recorder(keys)
    generator = Generator(plan, recorder, lambda entry: outbox.put(("second", entry)))
    generator.external_stop = stop.is_set
    try:
        asyncio_run(_guarded(generator))
    finally:
        outbox.put(("done", (recorder.snapshot(), generator.interrupted)))


def _spawned(plan: LoadPlan, totals: Totals, on_second: OnSecond | None) -> bool:
    # fork: the parent has imported everything and runs no thread or event loop here, so
    # a child starts in milliseconds (spawn re-imports the package: ~1 s on a busy machine).
    context: Any = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    outbox = context.Queue()
    stop = context.Event()
    workers = [
        context.Process(
            target=_worker, args=(plan.share(i), totals.keys, outbox, stop), daemon=True
        )
        for i in range(plan.processes)
    ]
    interrupted = False

    def forward(signum: int, _: Any) -> None:
        nonlocal interrupted
        interrupted = True
        stop.set()

    # Children inherit "ignore SIGINT" across exec, so a Ctrl-C while they import cannot
    # kill them with a traceback; the parent tells them to stop through ``stop``.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    for worker in workers:
        worker.start()
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        finished = 0
        while finished < len(workers):
            try:
                kind, payload = outbox.get(timeout=0.5)
            except queue.Empty:
                if not any(w.is_alive() for w in workers):
                    raise LoadFailure("a generator process died without a report") from None
                continue
            if kind == "second":
                merged = totals.timeline.add(*payload)
                if on_second is not None:
                    on_second(merged)
            else:
                snapshot, stopped = payload
                snapshot["timeline"] = []
                totals.merge(snapshot)
                interrupted = interrupted or stopped
                finished += 1
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for worker in workers:
            worker.join(timeout=5)
    return interrupted
