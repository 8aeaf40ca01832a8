"""The hit log of ``/api/v0/count`` (a Redis Stream per namespace) and idempotency keys."""

from __future__ import annotations

import secrets as secrets_module
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence

import orjson

from counter.engine.base import StoreBase, as_text, driver_errors
from counter.engine.hits import LOG_FIELDS
from counter.engine.records import LogLimits
from counter.engine.scripts import Status
from counter.errors import InvalidInput

_SECRET_LIFETIME_MS = 2 * 86_400_000


class HitLogStore(StoreBase):
    """Append hits with their hit ids, read them back by id, and claim idempotency keys."""

    async def log_hits(
        self, namespace: str, rows: Sequence[Sequence[str]], *, now: int, limits: LogLimits
    ) -> tuple[int, int]:
        """Append hits (``hitlog.LOG_FIELDS`` order) to the namespace log; the ids given."""
        first, last, _ = await self.log_hits_with_visits(namespace, rows, now=now, limits=limits)
        return first, last

    async def log_hits_with_visits(
        self, namespace: str, rows: Sequence[Sequence[str]], *, now: int, limits: LogLimits
    ) -> tuple[int, int, list[bool]]:
        """``log_hits``, also saying which hits were first visits (the statistics count those).

        The batch is one stream entry: its rows packed as one JSON field, which the script
        stores without decoding, so the rows are checked here; the script gets each hit
        with a session as (position, ``session\npath``, time) to find the first visits.
        """
        if not rows:
            raise InvalidInput("invalid argument to log_hits: hits")
        sessions: list[str | int] = []
        for position, row in enumerate(rows, 1):
            if (
                len(row) != len(LOG_FIELDS)
                or not all(isinstance(field, str) for field in row)
                or row[2] not in ("0", "1")
                or not row[10].isdigit()
            ):
                raise InvalidInput("invalid argument to log_hits: hits")
            if row[4]:
                sessions += [position, f"{row[4]}\n{row[0]}", row[10]]
        _, first, last, visits = await self._eval(
            "log_hits",
            [
                self.keys.hit_log(namespace),
                self.keys.hit_sequence(namespace),
                self.keys.recent_visits(namespace),
            ],
            [
                orjson.dumps(rows),
                len(rows),
                now,
                limits.max_entries,
                limits.max_age_ms,
                limits.visit_window_ms,
                *sessions,
            ],
        )
        return int(first), int(last), [flag == "1" for flag in as_text(visits)]

    async def session_secrets(self, days: Iterable[str]) -> dict[str, bytes]:
        """Each day's session secret: created at random by the first worker that needs it,
        shared by every worker, and gone two days later (digests cannot be reversed then)."""
        cache: dict[str, bytes] = self.__dict__.setdefault("_session_secrets", {})
        wanted = set(days)
        found = {day: cache[day] for day in wanted if day in cache}
        for day in wanted - set(found):
            name = self.keys.session_secret(day)
            secret = None
            while secret is None:  # None only if it expired between the two calls
                async with driver_errors():
                    fresh = secrets_module.token_hex(32)
                    await self.transport.command(
                        "SET", name, fresh, "NX", "PX", _SECRET_LIFETIME_MS
                    )
                    secret = await self.transport.command("GET", name)
            found[day] = bytes(secret)
        # Keep today's and yesterday's: what nearly every hit needs. An older day's is
        # asked of Redis each time, so every worker agrees even after it expired there.
        recent = {time.strftime("%Y%m%d", time.gmtime(time.time() - ago)) for ago in (0, 86_400)}
        self.__dict__["_session_secrets"] = {
            day: secret for day, secret in {**cache, **found}.items() if day in recent
        }
        return found

    async def last_hit_id(self, namespace: str) -> int:
        async with driver_errors():
            value = await self.redis.get(self.keys.hit_sequence(namespace))
        return 0 if value is None else int(value)

    async def read_hit_log(
        self, namespace: str, *, after: int, until: int, count: int
    ) -> list[tuple[int, dict[str, str]]]:
        """Up to ``count`` logged hits with ids in (after, until], oldest first.

        An entry holds a batch (fields ``n``, ``h``, ``fv``) and is named by its last hit
        id, or, written before batches were packed, one hit (its fields by name).
        """
        hits: list[tuple[int, dict[str, str]]] = []
        if after >= until or count <= 0:
            return hits
        start = f"{after + 1}-0"
        per_entry, entries_read, hits_read = 100, 0, 0  # a guess: a batch of 100
        while len(hits) < count:
            # Entries to ask for: about what the hits still wanted take, at the average
            # seen so far, so that a page of a few hits never fetches a hundred batches.
            page = max(1, min(100, -(-(count - len(hits)) // per_entry)))
            async with driver_errors():
                entries = (
                    await self.redis.xrange(
                        self.keys.hit_log(namespace), min=start, max="+", count=page
                    )
                    or []
                )
            for entry_id, fields in entries:
                last = int(as_text(entry_id).partition("-")[0])
                entries_read += 1
                for hit_id, hit in _entry_hits(last, fields or {}):
                    hits_read += 1
                    if hit_id > until or len(hits) >= count:
                        return hits
                    if hit_id > after:
                        hits.append((hit_id, hit))
            if len(entries) < page:
                return hits
            start = f"({as_text(entries[-1][0])}"
            per_entry = max(1, hits_read // entries_read)
        return hits

    async def claim_idempotency(
        self, token_digest: str, key_digest: str, *, claim_ms: int
    ) -> str | None:
        """None when this request owns the key; else the stored answer ('' while pending)."""
        reply = await self._eval(
            "idempotency_claim", [self.keys.idempotency(token_digest, key_digest)], [claim_ms]
        )
        return None if reply[0] == Status.OK else as_text(reply[1])

    async def settle_idempotency(
        self, token_digest: str, key_digest: str, answer: str | None, *, keep_ms: int
    ) -> None:
        """Store the first answer for ``keep_ms``, or (None) release the claim for a retry."""
        name = self.keys.idempotency(token_digest, key_digest)
        async with driver_errors():
            if answer is None:
                await self.redis.delete(name)
            else:
                await self.redis.set(name, answer, px=keep_ms)


def _entry_hits(
    last: int, raw: Mapping[bytes | str, bytes | str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """The hits of one log entry, with their ids."""
    fields = {as_text(name): value for name, value in raw.items()}
    packed = fields.get("h")
    if packed is None:  # one hit, written before batches were packed
        yield last, {name: as_text(value) for name, value in fields.items()}
        return
    rows = orjson.loads(packed)
    visits = as_text(fields.get("fv", ""))
    first = last - len(rows) + 1
    for offset, row in enumerate(rows):
        hit = dict(zip(LOG_FIELDS, row, strict=True))
        hit["fv"] = visits[offset : offset + 1]
        yield first + offset, hit
