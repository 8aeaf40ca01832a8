"""uvicorn's httptools protocol with a deadline on receiving a request's headers.

uvicorn times out a keep-alive connection only after a response and only until the
next byte: a connection that never sends a byte, or sends its headers one byte at a
time, was held forever. Here the keep-alive timeout (``timeout_keep_alive``, set from
``COUNTER_HEADER_TIMEOUT_S``) is also the deadline for the headers of every request,
the first one included, as granian's ``header_read_timeout`` is.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeaderDeadlineProtocol(HttpToolsProtocol):
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request already has its headers; otherwise wait for the next one.
        if not self.pipeline and not self.transport.is_closing():
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.timeout_keep_alive, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
