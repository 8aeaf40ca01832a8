"""granian's RSGI interface in front of the ASGI app: the hot path answered natively.

Under ASGI every request builds a scope dict, two message dicts and a send hook per
middleware, and each of the two ``send`` calls crosses into granian; plain ``/hit`` and
``/get`` spend more CPU there than in everything counter does for them (docs/performance.md).
RSGI hands the app the request as an object and takes the response in one call. So
``counter serve`` runs granian with RSGI and this front:

- plain ``GET /hit/...`` and ``GET /get/...`` (``HotAnswers``, the same code as the ASGI
  hot path) are answered here with the headers the ASGI stack would add: CORS always,
  ``Retry-After`` on a 503. When a middleware must see those requests too (the public-IP
  rate limit) the app says so (``hot`` is None) and they take the ASGI path;
- everything else runs the unchanged ASGI app through a small bridge: request bodies are
  streamed chunk by chunk, responses with ``more_body`` become a stream, a client that has
  gone away is reported as ``http.disconnect`` and as ``OSError`` on send (ASGI 2.4);
- the ASGI lifespan runs in ``__rsgi_init__``/``__rsgi_del__``, before the worker serves
  and after it stops, so start-up and the final flushes happen as under ASGI.

One difference from granian's ASGI interface, by granian's design: RSGI gives header values
as text and leaves out a header whose value is not visible ASCII (raw UTF-8 bytes in a
User-Agent, say), where ASGI passes the bytes through. ``--server granian-asgi`` keeps ASGI.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

import orjson
from starlette.types import ASGIApp, Message

from counter.web.cors import SIMPLE_HEADERS
from counter.web.errors import INTERNAL_ERROR, RETRY_AFTER_S
from counter.web.hotpath import Found, HotAnswers

_log = logging.getLogger("counter.rsgi")

StrHeaders = list[tuple[str, str]]
_CORS = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in SIMPLE_HEADERS]
_RETRY_AFTER = ("retry-after", RETRY_AFTER_S.decode("latin-1"))
_INTERNAL_ERROR = orjson.dumps({"error": INTERNAL_ERROR})
_INTERNAL_ERROR_HEADERS = [
    ("content-length", str(len(_INTERNAL_ERROR))),
    ("content-type", "application/json"),
]


class RsgiHeaders(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def items(self) -> list[tuple[str, str]]: ...


class RsgiScope(Protocol):
    """What granian's RSGI scope object offers (granian.rsgi.Scope)."""

    proto: str
    http_version: str
    scheme: str
    method: str
    path: str
    query_string: str
    client: str
    server: str

    @property
    def headers(self) -> RsgiHeaders: ...


class RsgiStream(Protocol):
    async def send_bytes(self, data: bytes) -> None: ...


class RsgiProtocol(Protocol):
    """What granian's RSGI HTTP protocol object offers (granian.rsgi.HTTPProtocol)."""

    def __aiter__(self) -> Any: ...
    async def client_disconnect(self) -> None: ...
    def response_bytes(self, status: int, headers: StrHeaders, body: bytes) -> None: ...
    def response_stream(self, status: int, headers: StrHeaders) -> RsgiStream: ...


class RsgiFront:
    """An RSGI application (``__rsgi__``) serving ``app``, with ``hot`` answered natively."""

    def __init__(self, app: ASGIApp, hot: HotAnswers | None) -> None:
        self.app = app
        self.hot = hot
        self.lifespan = Lifespan(app)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.lifespan.startup())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.lifespan.shutdown())

    async def __rsgi__(self, scope: RsgiScope, protocol: RsgiProtocol) -> None:
        hot = self.hot
        if hot is not None and scope.proto == "http":
            found = hot.find(scope.method, scope.path, scope.query_string)
            if found is not None:
                await self._answer_hot(hot, found, scope, protocol)
                return
        await Bridge(scope, protocol, self.lifespan.state).run(self.app)

    async def _answer_hot(
        self, hot: HotAnswers, found: Found, scope: RsgiScope, protocol: RsgiProtocol
    ) -> None:
        try:  # the request's headers are read only for :HOST: and :PATHNAME:
            status, payload, headers = await hot.answer(found, lambda name: scope.headers.get(name))
        except Exception:  # a bug: the 500 ServerErrorMiddleware would send, and the trace
            _log.exception("unhandled error on %s %s", scope.method, scope.path)
            protocol.response_bytes(500, list(_INTERNAL_ERROR_HEADERS), _INTERNAL_ERROR)
            return
        headers.extend(_CORS)
        if status == 503:
            headers.append(_RETRY_AFTER)
        protocol.response_bytes(status, headers, payload)


class Bridge:
    """One request of the ASGI app over an RSGI protocol object."""

    def __init__(
        self, scope: RsgiScope, protocol: RsgiProtocol, state: MutableMapping[str, Any]
    ) -> None:
        self.protocol = protocol
        self.scope = asgi_scope(scope, state)
        self._body: Any = None  # the request body's async iterator, once reading starts
        self._body_done = False
        self._gone: asyncio.Future[None] | None = None  # resolves when the client goes away
        self._status = 500
        self._headers: StrHeaders = []
        self._stream: RsgiStream | None = None
        self._streamed = False
        self._sent = False

    async def run(self, app: ASGIApp) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        finally:
            # granian ends a streamed body when its transport is freed, not when this
            # coroutine returns: let go of it even if the app stopped mid-stream.
            self._stream = None
        if not self._sent and not self._streamed:  # nothing answered: a 500, as ASGI servers do
            self.protocol.response_bytes(500, list(_INTERNAL_ERROR_HEADERS), _INTERNAL_ERROR)

    async def receive(self) -> Message:
        if not self._body_done:
            if self._body is None:
                self._body = self.protocol.__aiter__()
            try:
                chunk = await self._body.__anext__()
            except StopAsyncIteration:
                self._body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": bytes(chunk), "more_body": True}
        if self._gone is None:
            self._gone = asyncio.ensure_future(self.protocol.client_disconnect())
        # Shielded: granian's awaitable ignores cancellation, and a caller that stops
        # listening (the stream ending on SIGTERM) cancels this wait and must not hang on it.
        await asyncio.shield(self._gone)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self._status = message["status"]
            self._headers = [
                (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
                for name, value in message.get("headers", ())
            ]
            return
        if kind != "http.response.body" or self._sent:
            return
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if self._stream is None:
            if not more:
                self._sent = True
                self.protocol.response_bytes(self._status, self._headers, body)
                return
            self._stream = self.protocol.response_stream(self._status, self._headers)
            self._streamed = True
        if body:
            try:
                await self._stream.send_bytes(body)
            except RuntimeError as gone:  # RSGIProtocolClosed: the client went away
                raise OSError("the client disconnected") from gone
        if not more:
            self._sent = True
            self._stream = None  # freed: granian ends the body now (see run)


def asgi_scope(scope: RsgiScope, state: MutableMapping[str, Any]) -> dict[str, Any]:
    """The ASGI HTTP scope granian's ASGI interface would build for this request."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": scope.http_version,
        "method": scope.method,
        "scheme": scope.scheme,
        "path": scope.path,
        "query_string": scope.query_string.encode("latin-1"),
        "root_path": "",
        "headers": [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in scope.headers.items()
        ],
        "client": _address(scope.client),
        "server": _address(scope.server),
        "state": dict(state),
    }


def _address(text: str) -> tuple[str, int] | None:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


class Lifespan:
    """Runs an ASGI app's lifespan protocol: ``startup()`` then, at the end, ``shutdown()``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._events: asyncio.Queue[Message] | None = None
        self._replies: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        self._events, self._replies = asyncio.Queue(), asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        self._task = asyncio.get_running_loop().create_task(self._run(scope))
        await self._exchange("lifespan.startup")

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return
        await self._exchange("lifespan.shutdown")
        await self._task

    async def _run(self, scope: dict[str, Any]) -> None:
        assert self._events is not None and self._replies is not None
        events, replies = self._events, self._replies
        try:
            await self.app(scope, events.get, _put(replies))
        except BaseException as error:  # an app without lifespan support raises: run without
            await replies.put({"type": "lifespan.failed", "message": repr(error)})

    async def _exchange(self, event: str) -> None:
        assert self._events is not None and self._replies is not None
        await self._events.put({"type": event})
        reply = await self._replies.get()
        if reply["type"].endswith(".failed"):
            raise RuntimeError(f"ASGI {event} failed: {reply.get('message', '')}")


def _put(queue: asyncio.Queue[Message]) -> Callable[[Message], Awaitable[None]]:
    async def send(message: Message) -> None:
        await queue.put(message)

    return send
