"""Change notifications for watched counters, across every instance on one Redis.

Nobody watching costs nothing: the Store asks ``feed.watched`` (a local set) after each
script and does nothing more for a counter no stream anywhere watches.

- Watching: a process with a stream on a counter records ``<process> <counter key>`` in
  the registry (a sorted set scored by lease expiry, renewed every ``refresh_ms``) and
  announces ``+<counter key>`` on the control channel, so every process adds it to its
  ``watched`` set at once; the registry rebuilds that set after every (re)subscription and
  every ``refresh_ms``, which also forgets counters nobody watches any more.
- Publishing: a write to a watched counter marks it; at most once per ``interval_ms`` a
  process PUBLISHes the marked counter keys (one message, newline-separated).
- Receiving: a process re-reads (one HGET each) the announced counters it has streams on,
  again at most once per ``interval_ms``, and hands listeners the value (None: gone).
  Reading rather than shipping values means an out-of-order message cannot show an older
  number, and any write path (scripts, DEL) is covered by marking its counter key.

Classic PUBLISH/SUBSCRIBE works on Redis 6.2 (the embedded server), 7, and on a Cluster,
where a PUBLISH reaches subscribers on every node, so one subscription per process is
enough whatever the topology.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis import exceptions as redis_errors
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection, SSLConnection

from counter.errors import CounterError, CounterNotFound

if TYPE_CHECKING:
    from counter.engine.store import Store

log = logging.getLogger(__name__)

Listener = Callable[["int | None"], None]
_UNREAD = object()  # a watch's last value before its first read
_PUBSUB_CONNECTION_SETTINGS = frozenset(
    {
        "host",
        "port",
        "username",
        "password",
        "socket_connect_timeout",
        "ssl_ca_certs",
        "ssl_certfile",
        "ssl_keyfile",
        "ssl_cert_reqs",
        "ssl_check_hostname",
    }
)
_POLL_S = 0.5  # the listener's longest wait for a message before it checks for close()
_ERRORS = (redis_errors.RedisError, redis_errors.RedisClusterException, OSError, CounterError)


@dataclass(eq=False)
class _Watch:
    namespace: str
    key: str
    listeners: set[Listener] = field(default_factory=set)
    last: object = _UNREAD


class ChangeFeed:
    """One process's side of the change notifications (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        interval_ms: int = 100,
        refresh_ms: int = 10_000,
        settle_ms: int = 250,
    ) -> None:
        self.store = store
        keys = store.keys
        self.changes_channel = keys.live_changes()
        self.control_channel = keys.live_control()
        self.registry = keys.live_watchers()
        self.interval = interval_ms / 1000
        self.refresh_s = refresh_ms / 1000
        self.settle_s = settle_ms / 1000
        self.process = uuid.uuid4().hex[:16]
        self.watched: set[str] = set()  # counter keys watched on any instance
        self._local: dict[str, _Watch] = {}
        self._to_publish: set[str] = set()
        self._to_read: set[str] = set()
        self._publish_timer = _Gate(self.interval, self._publish)
        self._read_timer = _Gate(self.interval, self._read)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._closing = False
        # The feed's own commands (registry, PUBLISH) on a client of their own on a single
        # Redis, so the Store's pool never holds a connection the feed left idle.
        self._redis: Redis | RedisCluster = store.redis
        self._own_redis: Redis | None = None
        self.subscribed = asyncio.Event()
        self.published = 0  # messages sent, for tests and the bench
        self.reads = 0  # counters re-read after a change, likewise

    # -- the Store's side ------------------------------------------------------------------

    def touched(self, counter_key: str) -> None:
        """A write reached ``counter_key``; the caller checked it is in ``watched``."""
        self._to_publish.add(counter_key)
        self._publish_timer.trigger()

    # -- the streams' side -----------------------------------------------------------------

    async def watch(self, namespace: str, key: str, listener: Listener) -> None:
        """Call ``listener(value)`` after each change of the counter, from any instance."""
        counter_key = self.store.keys.counter(namespace, key)
        watch = self._local.get(counter_key)
        if watch is None:
            watch = self._local[counter_key] = _Watch(namespace, key)
            self.watched.add(counter_key)
            await self._advertise(counter_key)
            # A write on another instance that ran before that instance heard of this
            # watch published nothing: one re-read a moment later catches it.
            self._later(self.settle_s, counter_key)
        watch.listeners.add(listener)

    def unwatch(self, namespace: str, key: str, listener: Listener) -> None:
        counter_key = self.store.keys.counter(namespace, key)
        watch = self._local.get(counter_key)
        if watch is None:
            return
        watch.listeners.discard(listener)
        if not watch.listeners:
            del self._local[counter_key]
            self._spawn(self._withdraw(counter_key))

    @property
    def local_count(self) -> int:
        """Counters this process has streams on."""
        return len(self._local)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if not isinstance(self.store.redis, RedisCluster) and self._own_redis is None:
            self._own_redis = self._redis = _private_client(self.store.redis)
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen())

    async def close(self) -> None:
        self._closing = True
        self._publish_timer.cancel()
        self._read_timer.cancel()
        listener, self._listener = self._listener, None
        tasks = [*self._tasks, *([listener] if listener else [])]
        for task in tasks:
            task.cancel()
        if tasks:
            # redis-py's get_message can swallow a cancel that meets its own timeout; the
            # listener also checks ``_closing`` at least every _POLL_S.
            await asyncio.wait(tasks, timeout=2 * _POLL_S + 1)
        if self._local:
            members = [self._member(counter_key) for counter_key in self._local]
            with contextlib.suppress(*_ERRORS):
                await self._redis.zrem(self.registry, *members)
            self._local.clear()
        if self._own_redis is not None:
            with contextlib.suppress(*_ERRORS):
                await self._own_redis.aclose()

    # -- internals -------------------------------------------------------------------------

    def _member(self, counter_key: str) -> str:
        return f"{self.process} {counter_key}"

    async def _advertise(self, counter_key: str) -> None:
        lease = _now_ms() + 3 * int(self.refresh_s * 1000)
        try:
            await self._redis.zadd(self.registry, {self._member(counter_key): lease})
            await self._redis.publish(self.control_channel, "+" + counter_key)
        except _ERRORS as error:  # the next refresh retries; the stream still works locally
            log.warning("could not advertise a watch on %s: %s", counter_key, error)

    async def _withdraw(self, counter_key: str) -> None:
        if counter_key not in self._local:
            await self._redis.zrem(self.registry, self._member(counter_key))

    async def _refresh(self) -> None:
        """Renew this process's leases and rebuild ``watched`` from the registry."""
        redis = self._redis
        now = _now_ms()
        lease = now + 3 * int(self.refresh_s * 1000)
        if self._local:
            await redis.zadd(self.registry, {self._member(key): lease for key in self._local})
        await redis.zremrangebyscore(self.registry, "-inf", now)
        members = await redis.zrange(self.registry, 0, -1)
        everywhere = {_text(member).partition(" ")[2] for member in members}
        self.watched = everywhere | set(self._local)

    async def _listen(self) -> None:
        """Hold the one subscription; resubscribe (and re-read everything) after an outage."""
        backoff, attempt = 0.1, 0
        while not self._closing:
            pubsub, own = self._pubsub(attempt)
            attempt += 1
            try:
                await pubsub.subscribe(self.changes_channel, self.control_channel)
                await self._refresh()
                self._to_read.update(self._local)  # changes may have passed unheard
                self._read_timer.trigger()
                self.subscribed.set()
                backoff = 0.1
                next_refresh = time.monotonic() + self.refresh_s
                while not self._closing:
                    wait = min(_POLL_S, max(0.0, next_refresh - time.monotonic()))
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
                    if message is not None:
                        self._receive(_text(message["channel"]), _text(message["data"]))
                    if time.monotonic() >= next_refresh:
                        await self._refresh()
                        next_refresh = time.monotonic() + self.refresh_s
            except _ERRORS as error:
                self.subscribed.clear()
                log.warning("change feed subscription lost (%s); retrying", error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                with contextlib.suppress(*_ERRORS):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                    await own.aclose()

    def _pubsub(self, attempt: int) -> tuple[PubSub, Redis]:
        """A subscription connection and the client opened for it (closed after).

        On a Cluster a plain connection to one node (the next one after each failure):
        classic PUBLISH reaches every node, and this avoids the cluster client's own
        per-slot pub/sub routing, which a classic subscription does not need.
        """
        redis = self.store.redis
        if not isinstance(redis, RedisCluster):
            # Its own connection, never one of the Store's pool: a subscription's socket
            # (closed mid-reply by an outage) must not go back to serve requests.
            client = _private_client(redis)
            return client.pubsub(), client
        nodes = sorted(redis.get_nodes(), key=lambda node: node.name)
        node = nodes[attempt % len(nodes)]
        # redis-py's plain connection, not the cluster's own class (``counter.redis.cluster``
        # adapts that one to request/reply use, which a subscription is not).
        settings = {
            name: value
            for name, value in node.connection_kwargs.items()
            if name in _PUBSUB_CONNECTION_SETTINGS
        }
        ssl = issubclass(node.connection_class, SSLConnection)
        pool = ConnectionPool(connection_class=SSLConnection if ssl else Connection, **settings)
        client = Redis.from_pool(pool)
        return client.pubsub(), client

    def _receive(self, channel: str, data: str) -> None:
        if channel == self.control_channel:
            if data.startswith("+"):
                self.watched.add(data[1:])
            return
        fresh = [key for key in data.split("\n") if key in self._local]
        if fresh:
            self._to_read.update(fresh)
            self._read_timer.trigger()

    async def _publish(self) -> None:
        keys, self._to_publish = self._to_publish, set()
        if keys:
            try:
                await self._redis.publish(self.changes_channel, "\n".join(sorted(keys)))
                self.published += 1
            except _ERRORS as error:
                log.warning("could not publish %d change(s): %s", len(keys), error)

    async def _read(self) -> None:
        keys, self._to_read = self._to_read, set()
        watches = [(key, self._local[key]) for key in keys if key in self._local]
        values = await asyncio.gather(*(self._value(watch) for _, watch in watches))
        for (_, watch), value in zip(watches, values, strict=True):
            if value is _UNREAD or value == watch.last:
                continue
            watch.last = value
            for listener in list(watch.listeners):
                listener(value if isinstance(value, int) else None)

    async def _value(self, watch: _Watch) -> object:
        self.reads += 1
        try:
            return await self.store.get(watch.namespace, watch.key)
        except CounterNotFound:
            return None
        except CounterError as error:
            log.warning("could not read %s/%s: %s", watch.namespace, watch.key, error)
            return _UNREAD

    def _later(self, delay: float, counter_key: str) -> None:
        def mark() -> None:
            if counter_key in self._local:
                self._to_read.add(counter_key)
                self._read_timer.trigger()

        asyncio.get_running_loop().call_later(delay, mark)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        async def run() -> None:
            with contextlib.suppress(*_ERRORS):
                await work

        task: asyncio.Task[None] = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Gate:
    """Runs ``action`` soon after ``trigger()``: at most once per ``interval`` seconds, and
    never two at once (a slow read finishing after a newer one would show an older value).
    """

    def __init__(self, interval: float, action: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.interval = interval
        self.action = action
        self._last = -1e9
        self._timer: asyncio.TimerHandle | None = None
        self._running: asyncio.Task[None] | None = None
        self._again = False

    def trigger(self) -> None:
        if self._running is not None:
            self._again = True  # once the running action is done
            return
        if self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last + self.interval - loop.time())
        self._timer = loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._last = asyncio.get_running_loop().time()
        self._running = asyncio.create_task(self.action())
        self._running.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running = None
        if not task.cancelled() and task.exception() is not None:
            log.error("change feed step failed", exc_info=task.exception())
        if self._again and not task.cancelled():
            self._again = False
            self.trigger()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._running is not None:
            self._running.cancel()


def _private_client(redis: Redis) -> Redis:
    """A client on the same server as ``redis`` with a pool of its own."""
    shared = redis.connection_pool
    pool = ConnectionPool(connection_class=shared.connection_class, **shared.connection_kwargs)
    return Redis.from_pool(pool)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
