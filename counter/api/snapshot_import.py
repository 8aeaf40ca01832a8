"""``POST /snapshot/{namespace}``: a snapshot import, streamed, bounded, all lines or none.

The body is read chunk by chunk and each line validated as it arrives, into a spool
file (memory up to ``_SPOOL_MEMORY``, then a temporary file): a 60 MB import holds one
line in memory, not 60 MB of parsed records. Only when every line is valid does a
second pass write the counters, ``WRITE_BATCH`` at a time, so a refused import writes
nothing. The validation here is at least as strict as ``restore.lua``'s (ASCII digits,
real dates, int64 ranges), so Redis never refuses a line this accepted.

Each Redis call stays short: a counter brings at most ``MAX_DAILY_ENTRIES`` days of
history, a line at most ``MAX_LINE_BYTES``. The loop yields every ``_YIELD_EVERY``
lines so other requests keep being served, and each worker runs at most
``MAX_CONCURRENT_IMPORTS`` imports at once (more get 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Callable
from datetime import date
from typing import IO, Any

import orjson
from starlette.requests import Request

from counter.api.io import ApiError
from counter.engine.names import INT64_MAX, INT64_MIN, NAME_PATTERN, is_valid_name
from counter.engine.records import CounterRecord
from counter.engine.store import Store

SNAPSHOT_MEDIA_TYPES = ("application/x-ndjson", "application/jsonl", "application/json")
MAX_DAILY_ENTRIES = 4000  # about eleven years of days
MAX_LINE_BYTES = 256 * 1024
MAX_CONCURRENT_IMPORTS = 2
WRITE_BATCH = 100
MAX_REPORTED_ERRORS = 100
_YIELD_EVERY = 200
_SPOOL_MEMORY = 1 << 20
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_LINE_FIELDS = frozenset({"namespace", "key", "value", "created", "enable_reset",
                          "update_lowerbound", "update_upperbound", "daily", "ttl"})  # fmt: skip


class SnapshotImporter:
    """Imports for one app (one worker): the concurrency bound lives here."""

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes
        self.running = 0

    async def run(
        self, request: Request, namespace: str, store: Callable[[], Any], now: int
    ) -> int:
        """Validate the whole body, then write it; the number of counters imported."""
        if self.running >= MAX_CONCURRENT_IMPORTS:
            raise ApiError(503, "too many snapshot imports in progress; retry later")
        self.running += 1
        try:
            with tempfile.SpooledTemporaryFile(_SPOOL_MEMORY) as spool:
                count = await self._validate(request, spool, now)
                spool.seek(0)
                await _write(await store(), namespace, spool, now)
                return count
        finally:
            self.running -= 1

    async def _validate(self, request: Request, spool: IO[bytes], now: int) -> int:
        limit = self.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"request body larger than {limit} bytes")
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        errors: dict[str, list[str]] = {}
        pending, size, number, count = b"", 0, 0, 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"request body larger than {limit} bytes")
            if chunk.strip() and media_type not in SNAPSHOT_MEDIA_TYPES:
                raise ApiError(415, f"Content-Type must be {SNAPSHOT_MEDIA_TYPES[0]}")
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            if len(pending) > MAX_LINE_BYTES:
                raise ApiError(400, errors={f"line {number + 1}": [_TOO_LONG]})
            for line in lines:
                number += 1
                count += _check(line, number, now, errors)
                spool.write(line + b"\n")
                if len(errors) >= MAX_REPORTED_ERRORS:
                    raise ApiError(400, errors=errors)
                if number % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let other requests run between slices
        if pending:
            number += 1
            count += _check(pending, number, now, errors)
            spool.write(pending + b"\n")
        if errors:
            raise ApiError(400, errors=errors)
        return count


_TOO_LONG = f"longer than {MAX_LINE_BYTES} bytes"


def _check(line: bytes, number: int, now: int, errors: dict[str, list[str]]) -> int:
    """1 for a valid counter line, 0 for a blank one; a bad one goes to ``errors``."""
    if not line.strip():
        return 0
    if len(line) > MAX_LINE_BYTES:
        errors[f"line {number}"] = [_TOO_LONG]
        return 0
    try:
        parse_line(line, now)
    except ValueError as error:
        errors[f"line {number}"] = [str(error)]
        return 0
    return 1


async def _write(store: Store, namespace: str, spool: IO[bytes], now: int) -> None:
    batch: list[tuple[str, CounterRecord]] = []
    for line in spool:
        if line.strip():
            batch.append(parse_line(line, now))
        if len(batch) == WRITE_BATCH:
            await _restore(store, namespace, batch, now)
            batch = []
    if batch:
        await _restore(store, namespace, batch, now)


async def _restore(
    store: Store, namespace: str, batch: list[tuple[str, CounterRecord]], now: int
) -> None:
    await asyncio.gather(*(store.restore(namespace, key, record, now=now) for key, record in batch))


def parse_line(line: bytes, now: int) -> tuple[str, CounterRecord]:
    """One snapshot line; ValueError says what is wrong with it."""
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise ValueError("not valid JSON") from None
    if not isinstance(item, dict):
        raise ValueError("each line must be a JSON object")
    unknown = sorted(set(item) - _LINE_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")
    key = item.get("key")
    if not isinstance(key, str) or not is_valid_name(key):
        raise ValueError(f"key must match {NAME_PATTERN}")
    lower = int64(item.get("update_lowerbound", -1), "update_lowerbound")
    upper = int64(item.get("update_upperbound", 1), "update_upperbound")
    if lower > 0 or upper < 0:
        raise ValueError("update_lowerbound must be <= 0 and update_upperbound >= 0")
    created = int64(item.get("created", now), "created")
    if created < 0:
        raise ValueError("created must be milliseconds since 1970")
    enable_reset = item.get("enable_reset", False)
    if not isinstance(enable_reset, bool):
        raise ValueError("enable_reset must be true or false")
    return key, CounterRecord(
        value=int64(item.get("value"), "value"),
        created=created,
        enable_reset=enable_reset,
        update_lowerbound=lower,
        update_upperbound=upper,
        daily=_daily(item.get("daily", {})),
    )


def _daily(daily: Any) -> dict[str, int]:
    if not isinstance(daily, dict):
        raise ValueError("daily must be an object of YYYY-MM-DD: count")
    if len(daily) > MAX_DAILY_ENTRIES:
        raise ValueError(f"daily holds more than {MAX_DAILY_ENTRIES} days")
    history: dict[str, int] = {}
    for day, count in daily.items():
        match = _DAY.fullmatch(day)
        try:
            if match is None:
                raise ValueError
            date(int(match[1]), int(match[2]), int(match[3]))  # a real calendar day
        except ValueError:
            raise ValueError(f"daily: {day!r} is not a YYYY-MM-DD date") from None
        history["".join(match.groups())] = int64(count, f"daily {day}")
    return history


def int64(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{field} must be a signed 64-bit integer")
    return value
