"""``GET /stream/[ns/]key``: a counter's value as Server-Sent Events, from every instance.

On connect the current value (``data: {"value": N}``, or ``event: missing`` when there is
no such counter), then one event per change as the change feed reports it (at most one per
``live_interval_ms``), and a comment line every ``stream_heartbeat_ms`` so proxies keep the
connection. Each event's ``id`` is the state it reports (the value, or ``missing``): a
client reconnecting with ``Last-Event-ID`` on any instance gets the current value unless it
already has it, so no reconnect loses the latest number.

Limits (abacus's GHSA-vh64-54px-qgf8 was an unbounded version of this): streams per client
IP and per process are capped (429 beyond); a client holds at most one pending event (the
newest value replaces an unsent one), and a client that does not take an event within
``stream_send_timeout_ms`` is dropped; on shutdown every stream is ended cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from counter.engine.changes import ChangeFeed
from counter.errors import CounterError, CounterNotFound
from counter.runtime import Runtime
from counter.web.countapi import _target
from counter.web.ratelimit import client_ip, send_error, send_json

MISSING = "missing"
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
_RETRY = b"retry: 2000\n"  # EventSource reconnects after 2 s (its default is 3)


def event(value: int | None) -> bytes:
    """The SSE event for a state: the value, or the counter's absence."""
    if value is None:
        return b'id: missing\nevent: missing\ndata: {"value": null}\n\n'
    return b'id: %d\ndata: {"value": %d}\n\n' % (value, value)


def state_id(value: int | None) -> str:
    return MISSING if value is None else str(value)


class _Client:
    """One open stream: its newest unsent value (at most one) and its wake-up."""

    __slots__ = ("closed", "last", "pending", "wake")

    def __init__(self) -> None:
        self.pending: list[int | None] = []  # zero or one entry: the newest value
        self.last: object = object()  # the state this client last received
        self.wake = asyncio.Event()
        self.closed = False

    def offer(self, value: int | None) -> None:
        self.pending[:] = [value]
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class StreamHub:
    """The ``/stream`` endpoint and every stream of this process."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.max_total = settings.stream_max_per_process
        self.max_per_ip = settings.stream_max_per_ip
        self.heartbeat = settings.stream_heartbeat_ms / 1000
        self.send_timeout = settings.stream_send_timeout_ms / 1000
        self.trusted = settings.trusted_networks()
        self.clients: set[_Client] = set()
        self.per_ip: Counter[IPv4Address | IPv6Address | None] = Counter()
        self.dropped = 0  # slow clients dropped, for tests and operators
        self.closing = False
        self._restore_signals: list[Callable[[], None]] = []

    def routes(self) -> list[Route]:
        return [
            Route("/stream/{key}", self, methods=["GET"]),
            Route("/stream/{namespace}/{key}", self, methods=["GET"]),
        ]

    # -- lifecycle -------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """End streams as soon as the server is told to stop.

        Servers wait for open responses before they run the lifespan's shutdown, so a
        stream would hold a graceful stop until its timeout; chaining SIGTERM/SIGINT ends
        the streams first (then the server's own handler runs as before).
        """
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(number)

            def handler(signum: int, frame: Any, previous: Any = previous) -> None:
                with contextlib.suppress(RuntimeError):  # the loop may be gone already
                    loop.call_soon_threadsafe(self.close)
                if callable(previous):
                    previous(signum, frame)

            try:
                signal.signal(number, handler)
            except ValueError:  # not the main thread: the lifespan's close() still runs
                return
            self._restore_signals.append(_restorer(number, handler, previous))

    def close(self) -> None:
        """End every stream (and refuse new ones): each sends its final chunk and returns."""
        self.closing = True
        for client in list(self.clients):
            client.close()
        for restore in self._restore_signals:
            restore()
        self._restore_signals.clear()

    # -- the endpoint ----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])

        def header(name: str) -> str | None:
            value = headers.get(name.encode())
            return None if value is None else bytes(value).decode("latin-1")

        try:
            namespace, key = _target(scope["path_params"], header)
            feed = await self.runtime.changes()
            store = await self.runtime.store()
        except CounterError as error:
            await send_error(send, error)
            return
        if feed is None or self.closing:
            await send_json(send, 503, {"error": "live updates are off"})
            return
        address = client_ip(scope, self.trusted)
        if len(self.clients) >= self.max_total or self.per_ip[address] >= self.max_per_ip:
            await send_json(
                send, 429, {"error": "too many open streams"}, [(b"retry-after", b"10")]
            )
            return
        client = _Client()
        self.clients.add(client)
        self.per_ip[address] += 1
        try:
            await self._serve(client, feed, store, namespace, key, header, receive, send)
        finally:
            self.clients.discard(client)
            self.per_ip[address] -= 1
            if self.per_ip[address] <= 0:
                del self.per_ip[address]

    async def _serve(
        self,
        client: _Client,
        feed: ChangeFeed,
        store: Any,
        namespace: str,
        key: str,
        header: Callable[[str], str | None],
        receive: Receive,
        send: Send,
    ) -> None:
        # Watch before reading, so a change between the read and the watch is not lost.
        await feed.watch(namespace, key, client.offer)
        watcher = asyncio.create_task(_until_disconnect(receive, client))
        try:
            try:
                value: int | None = await store.get(namespace, key)
            except CounterNotFound:
                value = None
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*_HEADERS, (b"x-path", f"{namespace}/{key}".encode())],
                }
            )
            first = _RETRY
            if header("last-event-id") != state_id(value):
                first += event(value)
            if client.pending and client.pending[0] == value:
                client.pending.clear()
            client.last = value
            if not await self._send(client, send, first):
                return
            await self._pump(client, send)
            if not client.closed or self.closing:
                await self._send(client, send, b"", more=False)
        except CounterError:
            return  # Redis went away before the first event: the client reconnects
        finally:
            feed.unwatch(namespace, key, client.offer)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _pump(self, client: _Client, send: Send) -> None:
        """Events as they come, heartbeats in between, until the client or we are done."""
        while not client.closed:
            client.wake.clear()
            if client.pending:
                value = client.pending.pop()
                if value != client.last:
                    client.last = value
                    if not await self._send(client, send, event(value)):
                        return
                continue
            try:
                await asyncio.wait_for(client.wake.wait(), self.heartbeat)
            except TimeoutError:
                if not await self._send(client, send, b": heartbeat\n\n"):
                    return

    async def _send(self, client: _Client, send: Send, body: bytes, *, more: bool = True) -> bool:
        """Send one chunk; False (and the client dropped) if it is gone or too slow."""
        message: Message = {"type": "http.response.body", "body": body, "more_body": more}
        try:
            await asyncio.wait_for(send(message), self.send_timeout)
        except TimeoutError:
            self.dropped += 1
            client.close()
            return False
        except OSError:
            client.close()
            return False
        return True


async def _until_disconnect(receive: Receive, client: _Client) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            client.close()
            return


def _restorer(number: int, handler: Any, previous: Any) -> Callable[[], None]:
    """Put ``previous`` back, unless someone replaced our handler meanwhile."""

    def restore() -> None:
        with contextlib.suppress(ValueError):
            if signal.getsignal(number) is handler:
                signal.signal(number, previous)

    return restore
