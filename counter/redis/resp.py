"""A minimal Redis client for the hot path: one auto-pipelined connection on hiredis.

Every command issued during one event-loop tick is written to the socket in a single
``write`` and its reply matched in order (Redis answers a connection's commands in
the order it received them). Concurrent requests therefore share round trips, and the
client spends its CPU in hiredis rather than in per-command Python machinery; redis-py's
asyncio client tops out far below what Redis can serve (see ``bench/``).

Guarantees kept:
- a caller is answered only with the reply Redis sent for its own command;
- a command whose reply is lost (the connection dropped after sending) fails with
  ``ConnectionError`` and is never resent: a script may already have counted;
- commands not yet sent when the connection is down wait for a reconnect, which
  happens before anything is written (a Redis restart costs only in-flight requests);
- a NOSCRIPT reply means the script did not run, so it is safe to run it again with
  EVAL (which also refills the script cache);
- no reply within ``reply_timeout`` seconds drops the connection, failing its
  in-flight commands, as redis-py's socket timeout would.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
from redis import exceptions as redis_errors

from counter.redis.transport import Arg, Script

_NOSCRIPT = "NOSCRIPT"


class _Connection(asyncio.Protocol):
    """One socket: the replies it still owes, in order, and a watchdog on them."""

    def __init__(self, reply_timeout: float) -> None:
        self.reader = hiredis.Reader()
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reply_timeout = reply_timeout
        self._progress_at = 0.0
        self._watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        self._progress_at = asyncio.get_running_loop().time()
        pending = self.pending
        try:
            while (reply := self.reader.gets()) is not False:
                future = pending.popleft()
                if not future.done():  # a cancelled caller's reply is dropped
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError):
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._watchdog is not None:
            self._watchdog.cancel()
        error = redis_errors.ConnectionError(
            "connection to Redis lost before the reply arrived (the command may have run)"
        )
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_exception(error)
        if not self.lost.done():
            self.lost.set_result(None)

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def send(self, data: bytes, futures: list[asyncio.Future[Any]]) -> None:
        assert self.transport is not None
        if not self.pending:
            self._progress_at = asyncio.get_running_loop().time()
        self.pending.extend(futures)
        self.transport.write(data)
        if self._watchdog is None:
            self._arm(self._reply_timeout)

    def _arm(self, delay: float) -> None:
        self._watchdog = asyncio.get_running_loop().call_later(delay, self._check)

    def _check(self) -> None:
        self._watchdog = None
        if not self.pending:
            return
        idle = asyncio.get_running_loop().time() - self._progress_at
        if idle >= self._reply_timeout:
            self.abort()
        else:
            self._arm(self._reply_timeout - idle)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class RespTransport:
    """An auto-pipelining client for one standalone Redis (``redis://`` or ``unix://``)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        connect_timeout: float = 2.0,
        reply_timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.path = host, port, path
        self.db, self.username, self.password = db, username, password
        self.connect_timeout, self.reply_timeout = connect_timeout, reply_timeout
        self._connection: _Connection | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._queue: list[bytes] = []
        self._waiting: list[asyncio.Future[Any]] = []
        self._flush_scheduled = False
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RespTransport:
        """Parse ``redis://[user:password@]host[:port][/db]`` or ``unix:///path[?db=N]``."""
        parts = urlsplit(url)
        if parts.scheme not in {"redis", "unix"}:
            raise ValueError(f"the minimal client speaks redis:// and unix://, not {url!r}")
        query = parse_qs(parts.query)
        db_text = query.get("db", [""])[0]
        if parts.scheme == "redis":
            db_text = db_text or parts.path.lstrip("/")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            path=unquote(parts.path) if parts.scheme == "unix" else None,
            db=int(db_text or 0),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            **options,
        )

    # -- the Transport interface ------------------------------------------------------

    async def run_script(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        # run_scripts for one call, without its lists: this is every /hit's path.
        reply = await self._send(("EVALSHA", script.sha, len(keys), *keys, *args))
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith(_NOSCRIPT):
            # The script did not run: EVAL runs it once and refills the script cache.
            reply = await self._send(("EVAL", script.text, len(keys), *keys, *args))
        return _checked(reply)

    async def run_scripts(
        self, script: Script, calls: Sequence[tuple[Sequence[str], Sequence[Arg]]]
    ) -> list[Any]:
        # Queued in the same tick, so they leave in one write: a pipeline without the API.
        sent = [self._send(("EVALSHA", script.sha, len(k), *k, *a)) for k, a in calls]
        replies: list[Any] = []
        failure: BaseException | None = None
        for (keys, args), future in zip(calls, sent, strict=True):
            try:  # every future is awaited, so none is left with an unread exception
                reply = await future
                if isinstance(reply, hiredis.ReplyError) and str(reply).startswith(_NOSCRIPT):
                    # The script did not run: EVAL runs it once and refills the script cache.
                    reply = await self._send(("EVAL", script.text, len(keys), *keys, *args))
                replies.append(_checked(reply))
            except Exception as error:
                failure = failure or error
        if failure is not None:
            raise failure
        return replies

    async def command(self, *args: Arg) -> Any:
        return _checked(await self._send(args))

    async def close(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
        self._fail_waiting(redis_errors.ConnectionError("the Redis client is closed"))
        connection, self._connection = self._connection, None
        if connection is not None and connection.transport is not None:
            connection.transport.close()
            await connection.lost

    # -- auto-pipelining --------------------------------------------------------------

    def _send(self, command: Sequence[Arg]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._closed:
            future.set_exception(redis_errors.ConnectionError("the Redis client is closed"))
            return future
        self._queue.append(_pack(command))
        self._waiting.append(future)
        if not self._flush_scheduled:
            # Runs after every callback already ready in this tick has queued its command.
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._queue:
            return
        connection = self._connection
        if connection is None or not connection.open:
            if self._connecting is None:
                self._connecting = asyncio.get_running_loop().create_task(self._reconnect())
            return
        queue, waiting = self._queue, self._waiting
        self._queue, self._waiting = [], []
        if any(future.done() for future in waiting):
            # Callers that gave up (cancelled) before sending: their commands never run.
            kept = [(data, f) for data, f in zip(queue, waiting, strict=True) if not f.done()]
            queue, waiting = [data for data, _ in kept], [f for _, f in kept]
        if waiting:
            connection.send(b"".join(queue), waiting)

    async def _reconnect(self) -> None:
        try:
            self._connection = await asyncio.wait_for(self._open(), self.connect_timeout)
        except BaseException as error:
            # Whatever went wrong, nothing was sent: fail the waiting callers, never hang them.
            self._fail_waiting(redis_errors.ConnectionError(f"cannot connect to Redis: {error!r}"))
            if isinstance(error, asyncio.CancelledError):
                raise
        finally:
            self._connecting = None
        self._flush()

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        reply_timeout = self.reply_timeout
        if self.path is not None:
            _, connection = await loop.create_unix_connection(
                lambda: _Connection(reply_timeout), self.path
            )
        else:
            _, connection = await loop.create_connection(
                lambda: _Connection(reply_timeout), self.host, self.port
            )
        handshake: list[tuple[Arg, ...]] = []
        if self.password is not None:
            auth = ("AUTH", self.username, self.password) if self.username else None
            handshake.append(auth or ("AUTH", self.password))
        if self.db:
            handshake.append(("SELECT", self.db))
        if handshake:
            futures = [loop.create_future() for _ in handshake]
            connection.send(b"".join(_pack(c) for c in handshake), futures)
            try:
                for future in futures:
                    _checked(await future)
            except BaseException:
                connection.abort()
                raise
        return connection

    def _fail_waiting(self, error: Exception) -> None:
        waiting, self._waiting, self._queue = self._waiting, [], []
        for future in waiting:
            if not future.done():
                future.set_exception(error)


def _pack(command: Sequence[Arg]) -> bytes:
    packed: bytes = hiredis.pack_command(tuple(command))  # type: ignore[arg-type]  # 1-tuple stub
    return packed


def _checked(reply: Any) -> Any:
    if isinstance(reply, hiredis.ReplyError):
        message = str(reply)
        if message.startswith(_NOSCRIPT):
            raise redis_errors.NoScriptError(message)
        if message.startswith(("NOAUTH", "WRONGPASS")):
            raise redis_errors.AuthenticationError(message)
        # The classes redis-py's own parser raises, so both clients fail alike.
        if message.startswith("LOADING"):
            raise redis_errors.BusyLoadingError(message)
        if message.startswith("READONLY"):
            raise redis_errors.ReadOnlyError(message)
        if message.startswith("OOM"):
            raise redis_errors.OutOfMemoryError(message)
        raise redis_errors.ResponseError(message)
    return reply
