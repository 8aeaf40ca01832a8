"""The engine: one ``Store`` owns the Redis client and every registered Lua script.

One method per operation; each is a single atomic script (or a single read command).
Script statuses become exceptions from ``errors.py``; driver errors are wrapped,
never leaked.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from . import scripts
from .errors import (
    CounterExists,
    CounterNotFound,
    InvalidInput,
    OutOfBounds,
    Overflow,
    ResetDisabled,
    StoreError,
    StoreUnavailable,
    TokenNameTaken,
)
from .keys import Keys
from .records import CounterRecord, ExportStart, ExportStep, LogLimits, RateWindow
from .scripts import Status
from .settings import DEFAULT_TTL_MS
from .transport import Arg, RedisPyTransport, Script, Transport

Clock = Callable[[], int]
HOURLY_RETENTION_MS = 8 * 86_400_000  # hourly buckets cover the last 7 days, plus today


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class CounterInfo:
    """A counter and its metadata, as ``/info`` reports it."""

    namespace: str
    key: str
    value: int
    created: int
    enable_reset: bool
    update_lowerbound: int
    update_upperbound: int
    ttl: int


@dataclass(frozen=True, slots=True)
class HitResult:
    value: int
    created: bool


# Outages, including a cluster that is re-electing a primary or resharding a slot.
_UNAVAILABLE = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    OSError,
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    redis_errors.MasterDownError,
    redis_errors.SlotNotCoveredError,
)


@asynccontextmanager
async def _driver_errors() -> AsyncIterator[None]:
    """Translate redis-py exceptions into the engine's own."""
    try:
        yield
    except _UNAVAILABLE as error:
        raise StoreUnavailable("the counter store (Redis) is unavailable") from error
    except (redis_errors.RedisError, redis_errors.RedisClusterException) as error:
        raise StoreError("unexpected reply from the counter store") from error


class Store:
    """Atomic counter operations on one Redis (standalone or cluster) client.

    Every script, and the hot path's plain commands, go through ``transport``: by default
    the redis-py client itself (``RedisPyTransport``; also for Redis Cluster), or the
    auto-pipelining ``counter.resp.RespTransport`` on a standalone Redis. Either way the
    Store's logic is the same code; ``redis`` serves the rarer commands.
    """

    def __init__(
        self,
        redis: Redis | RedisCluster,
        *,
        transport: Transport | None = None,
        keys: Keys | None = None,
        ttl_ms: int = DEFAULT_TTL_MS,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self.redis = redis
        self.transport: Transport = transport or RedisPyTransport(redis)
        self.keys = keys or Keys()
        self.ttl_ms = ttl_ms
        self.clock = clock
        self._scripts: dict[str, tuple[scripts.ScriptSource, Script]] = {}
        for name in scripts.operation_names():
            source = scripts.load(name)
            self._scripts[name] = (source, Script(source.text))

    async def _eval(self, name: str, keys: Sequence[str], args: Sequence[Arg]) -> list[Any]:
        script = self._script(name, [(keys, args)])
        async with _driver_errors():
            reply = await self.transport.run_script(script, keys, args)
        return _valid(name, reply)

    def _script(self, name: str, calls: Sequence[tuple[Sequence[str], Sequence[Arg]]]) -> Script:
        """The script, once every call's arity has been checked against its header."""
        source, script = self._scripts[name]
        for keys, args in calls:
            if len(keys) != source.num_keys or len(args) != source.num_args:
                raise StoreError(f"{name}.lua called with {len(keys)} keys and {len(args)} args")
        return script

    def _history(self, namespace: str, key: str) -> tuple[list[str], list[str | int]]:
        """Keys and ARGV block shared by hit and update: the time buckets for now."""
        now = self.clock()
        return self._buckets(namespace, key, now=now, at=now)

    async def create(
        self,
        namespace: str,
        key: str,
        *,
        value: int = 0,
        enable_reset: bool = False,
        update_lowerbound: int = -1,
        update_upperbound: int = 1,
    ) -> None:
        """Create a counter; raises CounterExists if it is already there."""
        reply = await self._eval(
            "create",
            [self.keys.counter(namespace, key)],
            [
                value,
                int(enable_reset),
                update_lowerbound,
                update_upperbound,
                self.clock(),
                self.ttl_ms,
            ],
        )
        if reply[0] == Status.EXISTS:
            raise CounterExists(f"{namespace}/{key} already exists")
        await self._index(namespace, key)

    async def hit(self, namespace: str, key: str) -> HitResult:
        """Add 1, creating the counter when missing."""
        keys, args = self._history(namespace, key)
        status, value, created = await self._eval("hit", keys, args)
        if status == Status.OUT_OF_BOUNDS:
            raise OutOfBounds(int(value))
        if status == Status.OVERFLOW:
            raise Overflow(int(value))
        if created:
            await self._index(namespace, key)
        return HitResult(int(value), bool(created))

    async def update(self, namespace: str, key: str, amount: int) -> int:
        """Add ``amount`` if it lies within the counter's bounds; returns the new value."""
        keys, args = self._history(namespace, key)
        reply = await self._eval("update", keys, [amount, *args])
        status = reply[0]
        if status == Status.MISSING:
            raise CounterNotFound(f"{namespace}/{key}")
        if status == Status.OUT_OF_BOUNDS:
            raise OutOfBounds(int(reply[1]))
        if status == Status.OVERFLOW:
            raise Overflow(int(reply[1]))
        return int(reply[1])

    async def set(self, namespace: str, key: str, value: int) -> int:
        """Replace the value of a resettable counter; returns the old value."""
        reply = await self._eval(
            "set", [self.keys.counter(namespace, key)], [value, self.clock(), self.ttl_ms]
        )
        if reply[0] == Status.MISSING:
            raise CounterNotFound(f"{namespace}/{key}")
        if reply[0] == Status.RESET_DISABLED:
            raise ResetDisabled(int(reply[1]))
        return int(reply[1])

    async def get(self, namespace: str, key: str) -> int:
        """The counter's value (one HGET: a read needs no script to be atomic)."""
        async with _driver_errors():
            value = await self.transport.command("HGET", self.keys.counter(namespace, key), "value")
        if value is None:
            raise CounterNotFound(f"{namespace}/{key}")
        return int(value)

    async def info(self, namespace: str, key: str) -> CounterInfo:
        """The counter with its metadata and remaining time to live."""
        reply = await self._eval("info", [self.keys.counter(namespace, key)], [])
        if reply[0] == Status.MISSING:
            raise CounterNotFound(f"{namespace}/{key}")
        _, value, created, enable_reset, lower, upper, ttl = reply
        return CounterInfo(
            namespace=namespace,
            key=key,
            value=int(value),
            created=int(created),
            enable_reset=_text(enable_reset) == "1",
            update_lowerbound=int(lower),
            update_upperbound=int(upper),
            ttl=int(ttl),
        )

    async def count_batch(
        self, namespace: str, groups: Sequence[tuple[str, int, int]], *, now: int
    ) -> list[HitResult | OutOfBounds | Overflow]:
        """``count_hits`` for many ``(key, hits, at)`` groups in one round trip where possible."""
        calls = []
        for key, hits, at in groups:
            keys, args = self._buckets(namespace, key, now=now, at=at)
            calls.append((keys, [hits, *args]))
        results: list[HitResult | OutOfBounds | Overflow] = []
        created = []
        for (key, _, _), (status, value, made) in zip(
            groups, await self._eval_many("count_hits", calls), strict=True
        ):
            if status == Status.OUT_OF_BOUNDS:
                results.append(OutOfBounds(int(value)))
            elif status == Status.OVERFLOW:
                results.append(Overflow(int(value)))
            else:
                results.append(HitResult(int(value), bool(made)))
                if made:
                    created.append(key)
        if created:
            async with _driver_errors():
                await self.redis.sadd(self.keys.namespace_index(namespace), *created)
        return results

    async def _eval_many(
        self, name: str, calls: Sequence[tuple[Sequence[str], Sequence[Arg]]]
    ) -> list[list[Any]]:
        """Run one script many times in as few round trips as the transport allows."""
        if len(calls) == 1:
            return [await self._eval(name, *calls[0])]
        script = self._script(name, calls)
        async with _driver_errors():
            replies = await self.transport.run_scripts(script, calls)
        return [_valid(name, reply) for reply in replies]

    async def count_hits(
        self, namespace: str, key: str, hits: int, *, at: int, now: int
    ) -> HitResult:
        """Add ``hits`` +1 steps at time ``at`` (ms, may be past), creating the counter as hit."""
        [result] = await self.count_batch(namespace, [(key, hits, at)], now=now)
        if isinstance(result, OutOfBounds | Overflow):
            raise result
        return result

    def _buckets(
        self, namespace: str, key: str, *, now: int, at: int
    ) -> tuple[list[str], list[str | int]]:
        """Keys and the history ARGV block for an increment recorded at ``at`` (ms)."""
        day_start = at - at % 86_400_000
        stamp = time.gmtime(at / 1000)
        day = time.strftime("%Y%m%d", stamp)
        keys = [
            self.keys.counter(namespace, key),
            self.keys.daily(namespace, key),
            self.keys.hourly(namespace, key, day),
        ]
        hour = f"{stamp.tm_hour:02d}"
        return keys, [now, self.ttl_ms, day, hour, day_start + HOURLY_RETENTION_MS]

    async def put(
        self,
        namespace: str,
        key: str,
        value: int,
        *,
        now: int,
        enable_reset: bool | None = None,
        update_lowerbound: int | None = None,
        update_upperbound: int | None = None,
    ) -> int | None:
        """Set a counter whatever its enable_reset, creating it; returns the old value."""
        reply = await self._eval(
            "put",
            [self.keys.counter(namespace, key)],
            [
                value,
                "" if enable_reset is None else int(enable_reset),
                "" if update_lowerbound is None else update_lowerbound,
                "" if update_upperbound is None else update_upperbound,
                now,
                self.ttl_ms,
            ],
        )
        if reply[2]:
            await self._index(namespace, key)
            return None
        return int(reply[1])

    async def delete(self, namespace: str, key: str, *, now: int) -> bool:
        """Remove a counter and its history; False when there was none."""
        names = [self.keys.counter(namespace, key), self.keys.daily(namespace, key)]
        names += [self.keys.hourly(namespace, key, day) for day in _recent_days(now)]
        async with _driver_errors():
            removed = await self.redis.delete(*names)  # one slot: one atomic DEL
            await self.redis.srem(self.keys.namespace_index(namespace), key)
        return bool(removed)

    async def restore(self, namespace: str, key: str, record: CounterRecord, *, now: int) -> None:
        """Write one counter from a snapshot, replacing what is there."""
        daily = [part for day, count in sorted(record.daily.items()) for part in (day, str(count))]
        await self._eval(
            "restore",
            [self.keys.counter(namespace, key), self.keys.daily(namespace, key)],
            [
                record.value,
                record.created,
                int(record.enable_reset),
                record.update_lowerbound,
                record.update_upperbound,
                orjson.dumps(daily).decode(),
                now,
                self.ttl_ms,
            ],
        )
        await self._index(namespace, key)

    async def history(
        self, namespace: str, key: str, *, now: int
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Daily counts (``yyyymmdd``) and hourly counts of the last 7 days (``yyyymmddhh``)."""
        days = _recent_days(now)
        async with _driver_errors(), self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.daily(namespace, key))
            for day in days:
                pipe.hgetall(self.keys.hourly(namespace, key, day))
            replies = await pipe.execute()
        daily = {_text(day): int(count) for day, count in replies[0].items()}
        hourly = {
            f"{day}{_text(hour)}": int(count)
            for day, reply in zip(days, replies[1:], strict=True)
            for hour, count in reply.items()
        }
        return daily, hourly

    async def namespace_keys(self, namespace: str) -> list[str]:
        """Keys in the namespace index, sorted (may include expired counters)."""
        async with _driver_errors():
            members = await self.redis.smembers(self.keys.namespace_index(namespace))
        return sorted(_text(member) for member in members)

    async def forget_keys(self, namespace: str, keys: Sequence[str]) -> None:
        """Drop expired counters from the namespace index."""
        if keys:
            async with _driver_errors():
                await self.redis.srem(self.keys.namespace_index(namespace), *keys)

    # -- /api/v0: hit log ------------------------------------------------------------------

    async def log_hits(
        self, namespace: str, rows: Sequence[Sequence[str]], *, now: int, limits: LogLimits
    ) -> tuple[int, int]:
        """Append hits (``hitlog.LOG_FIELDS`` order) to the namespace log; the ids given."""
        _, first, last = await self._eval(
            "log_hits",
            [
                self.keys.hit_log(namespace),
                self.keys.hit_sequence(namespace),
                self.keys.recent_visits(namespace),
            ],
            [
                orjson.dumps(rows).decode(),
                now,
                limits.max_entries,
                limits.max_age_ms,
                limits.visit_window_ms,
            ],
        )
        return int(first), int(last)

    async def last_hit_id(self, namespace: str) -> int:
        async with _driver_errors():
            value = await self.redis.get(self.keys.hit_sequence(namespace))
        return 0 if value is None else int(value)

    async def read_hit_log(
        self, namespace: str, *, after: int, until: int, count: int
    ) -> list[tuple[int, dict[str, str]]]:
        """Up to ``count`` logged hits with ids in (after, until], oldest first."""
        if after >= until:
            return []
        async with _driver_errors():
            entries = await self.redis.xrange(
                self.keys.hit_log(namespace), min=f"{after + 1}-0", max=str(until), count=count
            )
        return [
            (
                int(_text(entry_id).partition("-")[0]),
                {_text(name): _text(value) for name, value in (fields or {}).items()},
            )
            for entry_id, fields in entries or []
        ]

    # -- /api/v0: exports ------------------------------------------------------------------

    async def next_export_id(self) -> int:
        async with _driver_errors():
            return int(await self.redis.incr(self.keys.export_sequence()))

    async def start_export(self, job: ExportStart) -> None:
        """Record a running export job and the id -> namespace lookup."""
        reply = await self._eval(
            "export_start",
            [self.keys.export(job.namespace, str(job.export_id))],
            [
                job.export_id,
                job.namespace,
                job.start_from_hit_id,
                job.until_hit_id,
                job.now,
                job.worker,
                job.lease_until,
                job.retention_ms,
            ],
        )
        if reply[0] == Status.EXISTS:
            raise StoreError(f"export {job.export_id} already exists")
        async with _driver_errors():
            await self.redis.set(
                self.keys.export_namespace(str(job.export_id)), job.namespace, px=job.retention_ms
            )

    async def export_namespace(self, export_id: int) -> str | None:
        async with _driver_errors():
            value = await self.redis.get(self.keys.export_namespace(str(export_id)))
        return None if value is None else _text(value)

    async def export_job(self, namespace: str, export_id: int) -> dict[str, str] | None:
        async with _driver_errors():
            raw = await self.redis.hgetall(self.keys.export(namespace, str(export_id)))
        return {_text(name): _text(value) for name, value in raw.items()} or None

    async def export_progress(self, namespace: str, export_id: int, step: ExportStep) -> bool:
        """Append a chunk as the job's worker (finishing it if asked); False if the job is lost."""
        reply = await self._eval(
            "export_progress",
            [
                self.keys.export(namespace, str(export_id)),
                self.keys.export_payload(namespace, str(export_id)),
            ],
            [
                step.worker,
                step.chunk,
                step.rows,
                step.last_hit_id,
                step.now,
                int(step.finish),
                step.lease_until,
                step.retention_ms,
                step.payload_hash,
            ],
        )
        return bool(reply[0] == Status.OK)

    async def fail_export(
        self, namespace: str, export_id: int, *, worker: str, error: str, now: int
    ) -> bool:
        """End a running job in error: as its worker, or (worker '') once its lease ran out."""
        reply = await self._eval(
            "export_fail",
            [
                self.keys.export(namespace, str(export_id)),
                self.keys.export_payload(namespace, str(export_id)),
            ],
            [worker, error, now],
        )
        return bool(reply[0] == Status.OK)

    async def export_payload(self, namespace: str, export_id: int) -> bytes | None:
        async with _driver_errors():
            value = await self.redis.get(self.keys.export_payload(namespace, str(export_id)))
        return None if value is None else value if isinstance(value, bytes) else value.encode()

    # -- /api/v0: tokens, rate limits, idempotency -----------------------------------------

    async def save_token(self, name: str, digest: str, fields: dict[str, str]) -> None:
        """Store a token's metadata under its digest; the name must be new."""
        async with _driver_errors():
            if not await self.redis.hsetnx(self.keys.token_names(), name, digest):
                raise TokenNameTaken(f"a token named {name!r} already exists")
            pairs: list[str] = [part for pair in fields.items() for part in pair]
            await self.redis.hset(self.keys.token(digest), items=pairs)

    async def load_token(self, digest: str) -> dict[str, str] | None:
        async with _driver_errors():
            raw = await self.redis.hgetall(self.keys.token(digest))
        return {_text(name): _text(value) for name, value in raw.items()} or None

    async def list_tokens(self) -> list[dict[str, str]]:
        async with _driver_errors():
            names = await self.redis.hgetall(self.keys.token_names())
            records = [await self.load_token(_text(digest)) for digest in names.values()]
        return [record for record in records if record is not None]

    async def delete_token(self, name: str) -> bool:
        async with _driver_errors():
            digest = await self.redis.hget(self.keys.token_names(), name)
            if digest is None:
                return False
            await self.redis.delete(self.keys.token(_text(digest)))
            await self.redis.hdel(self.keys.token_names(), name)
        return True

    async def take_request(
        self, bucket: str, *, limit: int, window_ms: int, now: int | None
    ) -> RateWindow:
        """Charge one request to a fixed window; ``now`` None reads the Redis server's clock."""
        args: list[str | int] = [limit, window_ms, "" if now is None else now]
        _, allowed, remaining, reset_ms = await self._eval(
            "rate_limit", [self.keys.rate_limit(bucket)], args
        )
        return RateWindow(bool(allowed), limit, int(remaining), int(reset_ms))

    async def claim_idempotency(
        self, token_digest: str, key_digest: str, *, claim_ms: int
    ) -> str | None:
        """None when this request owns the key; else the stored answer ('' while pending)."""
        reply = await self._eval(
            "idempotency_claim", [self.keys.idempotency(token_digest, key_digest)], [claim_ms]
        )
        return None if reply[0] == Status.OK else _text(reply[1])

    async def settle_idempotency(
        self, token_digest: str, key_digest: str, answer: str | None, *, keep_ms: int
    ) -> None:
        """Store the first answer for ``keep_ms``, or (None) release the claim for a retry."""
        name = self.keys.idempotency(token_digest, key_digest)
        async with _driver_errors():
            if answer is None:
                await self.redis.delete(name)
            else:
                await self.redis.set(name, answer, px=keep_ms)

    async def _index(self, namespace: str, key: str) -> None:
        # A separate command: the index lives in the namespace's slot, not the counter's.
        # Listings prune members whose counter has expired.
        async with _driver_errors():
            await self.transport.command("SADD", self.keys.namespace_index(namespace), key)

    async def add_stats(self, deltas: dict[str, int]) -> None:
        """Fold one process's stats deltas into the shared hash in one round trip."""
        if not deltas:
            return
        async with _driver_errors(), self.redis.pipeline(transaction=False) as pipe:
            for field, amount in deltas.items():
                pipe.hincrby(self.keys.stats(), field, amount)
            await pipe.execute()

    async def read_stats(self) -> dict[str, int]:
        async with _driver_errors():
            raw = await self.redis.hgetall(self.keys.stats())
        return {_text(field): int(value) for field, value in raw.items()}

    async def ping(self) -> None:
        async with _driver_errors():
            await self.transport.command("PING")

    async def close(self) -> None:
        await self.transport.close()  # the redis-py client itself, or a transport of its own
        if not isinstance(self.transport, RedisPyTransport):
            await self.redis.aclose()


def _recent_days(now: int) -> list[str]:
    """The ``yyyymmdd`` names of the hourly buckets that may still exist at ``now``."""
    days = HOURLY_RETENTION_MS // 86_400_000
    stamps = (time.gmtime(now / 1000 - 86_400 * back) for back in range(days))
    return [time.strftime("%Y%m%d", stamp) for stamp in stamps]


def _valid(name: str, reply: Any) -> list[Any]:
    if reply[0] == Status.INVALID:
        raise InvalidInput(f"invalid argument to {name}: {_text(reply[1])}")
    return list(reply)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
