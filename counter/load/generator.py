"""The load of one process: closed loop or open loop over ``connections`` connections.

Closed loop: each connection sends its next request as soon as the previous answer is in
(latency measured from the send). Open loop: requests are *due* at a constant rate, at
``t0 + i / rate``; a due request goes out on an idle connection, or waits in a backlog
until one frees up, and its latency is measured from the time it was due, not from when
it could be sent. That is the coordinated-omission correction of wrk2: a server that
stalls for a second is charged the second to every request that should have been sent
during it, instead of the generator politely waiting and recording one slow request.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from time import perf_counter

from .http import Connection, connect, error_name
from .keys import KeyChooser
from .plan import LoadPlan, Route
from .stats import Recorder

TICK = 0.001  # the open loop's pacing step
RECONNECT_DELAY = 0.05


class Generator:
    """Runs one process's share of a plan; ``stop()`` ends it early (Ctrl-C)."""

    def __init__(
        self,
        plan: LoadPlan,
        recorder: Recorder,
        on_second: Callable[[tuple[int, str, int]], None] | None = None,
    ) -> None:
        self.plan = plan
        self.route = Route(plan)
        self.recorder = recorder
        self.on_second = on_second
        self.chooser = KeyChooser(plan.keys, plan.zipf, single=plan.key is not None, seed=plan.seed)
        self.increment = self.route.increment or 0
        self.per_request = self.route.keys_per_request()
        self.idle: list[Connection] = []
        self.backlog: deque[float] = deque()  # due times of open-loop requests not yet sent
        self.issued = 0  # measured requests issued
        self.in_flight = 0
        self.stopping = False
        self.interrupted = False
        self.external_stop: Callable[[], bool] = lambda: False
        self.connections: set[Connection] = set()
        self.measure_from = 0.0
        self.measure_until = 0.0

    def interrupt(self) -> None:
        """Ctrl-C: stop sending; the answers in flight are still awaited briefly."""
        self.interrupted = True
        self.stopping = True

    # -- requests ---------------------------------------------------------------------

    def _may_issue(self) -> bool:
        if self.stopping:
            return False
        return not self.plan.requests or self.issued < self.plan.requests

    def _send(self, connection: Connection, due: float) -> None:
        keys = (
            [self.chooser.one()] if self.per_request == 1 else self.chooser.take(self.per_request)
        )
        measured = due >= self.measure_from
        if measured:
            self.issued += 1
        for n in keys:
            self.recorder.sent[n] += self.increment
        self.in_flight += 1
        connection.send(self.route.request(keys), (due, keys, measured))

    def _done(self, connection: Connection, status: int, body: bytes) -> None:
        due, keys, measured = connection.tag
        now = perf_counter()
        self.in_flight -= 1
        self.recorder.response(status, int((now - due) * 1e6), measured)
        if 200 <= status < 300:
            for n in keys:
                self.recorder.acked[n] += self.increment
        self._next(connection, now)

    def _lost(self, connection: Connection, error: BaseException | None) -> None:
        self.in_flight -= 1
        self.recorder.socket_error(error_name(error), connection.tag[2])

    def _next(self, connection: Connection, now: float) -> None:
        if not connection.usable:
            return
        if self.plan.open_loop:
            if self.backlog and not self.stopping:
                self._send(connection, self.backlog.popleft())
            else:
                self.idle.append(connection)
        elif self._may_issue() and now < self.measure_until:
            self._send(connection, now)
        else:
            self.idle.append(connection)

    # -- connections ------------------------------------------------------------------

    async def _keep_connected(self) -> None:
        """One connection slot: connect, serve until lost, reconnect until the run ends."""
        plan = self.plan
        while not self.stopping and perf_counter() < self.measure_until:
            try:
                connection = await connect(
                    plan.host, plan.port, self._done, self._lost, timeout=plan.timeout
                )
            except (OSError, TimeoutError) as error:
                self.recorder.socket_error(error_name(error), perf_counter() >= self.measure_from)
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            self.connections.add(connection)
            self._next(connection, perf_counter())
            await connection.closed
            self.connections.discard(connection)
            if connection in self.idle:
                self.idle.remove(connection)
            await asyncio.sleep(0)

    # -- the run ----------------------------------------------------------------------

    async def run(self) -> None:
        plan = self.plan
        started = perf_counter()
        self.measure_from = started + plan.warmup
        # With --requests the run ends when they are answered, whatever --duration says.
        self.measure_until = self.measure_from + (plan.duration if not plan.requests else 86_400)
        if plan.requests and plan.open_loop:
            self.measure_until = self.measure_from + plan.requests / plan.rate + plan.timeout
        slots = [asyncio.create_task(self._keep_connected()) for _ in range(plan.connections)]
        pacer = asyncio.create_task(self._pace(started)) if plan.open_loop else None
        second = 0
        try:
            second = await self._clock()
        finally:
            ended = min(perf_counter(), self.measure_until)
            self.recorder.seconds = max(0.0, ended - self.measure_from)
            self.stopping = True
            if pacer is not None:
                pacer.cancel()
            await self._drain()
            if self.recorder.measured:
                # the answers that came in after the end belong to the last second
                whole = max(0, math.ceil(plan.duration) - 1) if not plan.requests else second
                self._roll(min(second, whole))
            for slot in slots:
                slot.cancel()
            await asyncio.gather(*slots, *(p for p in [pacer] if p), return_exceptions=True)

    async def _pace(self, started: float) -> None:
        """Open loop: make requests due at ``rate`` per second from the start (warm-up included)."""
        rate = self.plan.rate
        due_count = 0
        while self._may_issue():
            now = perf_counter()
            target = int((now - started) * rate) + 1  # request i is due at started + i/rate
            while due_count < target and self._may_issue():
                due = started + due_count / rate
                if due >= self.measure_until:
                    return
                due_count += 1
                # a request counts toward --requests when due: the backlog cannot overshoot
                requests = self.plan.requests
                if (
                    requests
                    and due >= self.measure_from
                    and self.issued + len(self.backlog) >= requests
                ):
                    return
                connection = self._idle_connection()
                if connection is not None:
                    self._send(connection, due)
                else:
                    self.backlog.append(due)
            await asyncio.sleep(TICK)

    def _idle_connection(self) -> Connection | None:
        while self.idle:
            connection = self.idle.pop()
            if connection.usable:
                return connection
        return None

    async def _clock(self) -> int:
        """Roll the per-second window, watch for timeouts, end the run; the open second."""
        plan = self.plan
        second = 0
        while True:
            await asyncio.sleep(0.05)
            now = perf_counter()
            if not self.recorder.measured and now >= self.measure_from:
                self.recorder.measured = True
            if self.recorder.measured and now >= self.measure_from + second + 1:
                self._roll(second)
                second += 1
            self._expire(now)
            if self.external_stop():
                self.interrupt()
            if self.stopping or now >= self.measure_until:
                break
            if plan.requests and self.issued >= plan.requests and not self.in_flight:
                break
        return second

    def _roll(self, second: int) -> None:
        entry = self.recorder.roll(second)
        if self.on_second is not None:
            self.on_second(entry)

    def _expire(self, now: float) -> None:
        limit = self.plan.timeout
        for connection in list(self.connections):
            if connection.busy and now - connection.sent_at > limit:
                connection.abort(TimeoutError())

    async def _drain(self) -> None:
        """Wait (up to the timeout) for the answers still in flight; close what is idle."""
        deadline = perf_counter() + min(self.plan.timeout, 2.0)
        while self.in_flight and perf_counter() < deadline:
            await asyncio.sleep(0.01)
        for connection in list(self.connections):
            connection.abort(TimeoutError())
