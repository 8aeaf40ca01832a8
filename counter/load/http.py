"""One keep-alive HTTP/1.1 connection of the generator: asyncio Protocol + httptools.

Measured against wrk on this project's server (docs/load-testing.md): a Protocol on
uvloop with httptools' C parser costs ~11 µs per request, four times less than
aiohttp's client. A connection carries one request at a time, as wrk does, and tells
its owner when the answer is complete (``done``) or the connection is gone (``lost``).
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable
from time import perf_counter
from typing import Any, cast

import httptools


def error_name(error: BaseException | None) -> str:
    """A short stable name for a socket-level failure: ECONNREFUSED, ECONNRESET, timeout..."""
    if error is None:
        return "closed by server"
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return "timeout"
    number = getattr(error, "errno", None)
    if isinstance(number, int) and number in errno.errorcode:
        return errno.errorcode[number]
    if isinstance(error, httptools.HttpParserError):
        return "bad response"
    return type(error).__name__


class Connection(asyncio.Protocol):
    """Sends a request, parses the answer, calls ``done(connection, status, body)``."""

    def __init__(
        self,
        done: Callable[[Connection, int, bytes], None],
        lost: Callable[[Connection, BaseException | None], None],
        *,
        keep_body: bool = False,
    ) -> None:
        self._done = done
        self._lost = lost
        self._keep_body = keep_body
        self._parser = httptools.HttpResponseParser(self)
        self._body: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent_at = 0.0  # perf_counter() when the current request was written
        self.busy = False
        self.tag: Any = None  # the owner's note about the request in flight

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # pragma: no cover - never asked for
            self.abort(None)
        except httptools.HttpParserError as error:
            self.abort(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)
        if self.busy:
            self.busy = False
            self._lost(self, exc)

    # -- httptools callbacks ----------------------------------------------------------

    def on_body(self, body: bytes) -> None:
        if self._keep_body:
            self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        body = b"".join(self._body)
        self._body.clear()
        self.busy = False
        if not self._parser.should_keep_alive() and self.transport is not None:
            self.transport.close()  # first, so the owner sees it is no longer usable
        self._done(self, status, body)

    # -- the owner's side -------------------------------------------------------------

    def send(self, request: bytes, tag: Any) -> None:
        assert self.transport is not None and not self.busy
        self.busy = True
        self.tag = tag
        self.sent_at = perf_counter()
        self.transport.write(request)

    def abort(self, error: BaseException | None) -> None:
        """Drop the connection; a request in flight is reported lost with ``error``."""
        if self.busy:
            self.busy = False
            self._lost(self, error if error is not None else TimeoutError())
        if self.transport is not None:
            self.transport.abort()

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()


async def connect(
    host: str,
    port: int,
    done: Callable[[Connection, int, bytes], None],
    lost: Callable[[Connection, BaseException | None], None],
    *,
    timeout: float,
    keep_body: bool = False,
) -> Connection:
    """Open one connection (raises OSError or TimeoutError)."""
    loop = asyncio.get_running_loop()
    _, protocol = await asyncio.wait_for(
        loop.create_connection(lambda: Connection(done, lost, keep_body=keep_body), host, port),
        timeout,
    )
    return protocol


async def fetch_all(
    host: str, port: int, requests: list[bytes], *, connections: int, timeout: float
) -> list[tuple[int, bytes]]:
    """Send ``requests`` over a few keep-alive connections; each answer's status and body.

    For the checks around a run (the token, the --verify reads), not for load: a failure
    raises (OSError, TimeoutError, or ConnectionError when a server hangs up mid-answer).
    """
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(requests)
    queue = list(enumerate(requests))
    queue.reverse()
    loop = asyncio.get_running_loop()

    async def one_connection() -> None:
        waiter: asyncio.Future[tuple[int, bytes]] | None = None

        def done(_: Connection, status: int, body: bytes) -> None:
            if waiter is not None and not waiter.done():
                waiter.set_result((status, body))

        def lost(_: Connection, error: BaseException | None) -> None:
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionError(f"connection lost: {error_name(error)}"))

        connection: Connection | None = None
        try:
            while queue:
                if connection is None or not connection.usable:
                    connection = await connect(
                        host, port, done, lost, timeout=timeout, keep_body=True
                    )
                index, request = queue.pop()
                waiter = loop.create_future()
                connection.send(request, index)
                answers[index] = await asyncio.wait_for(waiter, timeout)
        finally:
            if connection is not None:
                connection.abort(None)

    await asyncio.gather(
        *(one_connection() for _ in range(max(1, min(connections, len(requests)))))
    )
    return answers
