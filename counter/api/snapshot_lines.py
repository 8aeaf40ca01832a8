"""A counter as JSON, and a namespace snapshot's lines (JSON lines) read back into records.

Shared by ``/api/v0/counters``, ``/api/v0/snapshot`` and the ``counter snapshot|restore``
commands, so a file written by one is read by the other.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from counter.engine.counters import CounterInfo
from counter.engine.names import INT64_MAX, INT64_MIN, NAME_PATTERN, is_valid_name
from counter.engine.records import CounterRecord

_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_LINE_FIELDS = frozenset({"namespace", "key", "value", "created", "enable_reset",
                          "update_lowerbound", "update_upperbound", "daily", "ttl"})  # fmt: skip


def counter_json(info: CounterInfo) -> dict[str, Any]:
    return {
        "namespace": info.namespace,
        "key": info.key,
        "value": info.value,
        "created": info.created,
        "ttl": info.ttl,
        "enable_reset": info.enable_reset,
        "update_lowerbound": info.update_lowerbound,
        "update_upperbound": info.update_upperbound,
    }


def day_text(compact: str) -> str:
    return f"{compact[:4]}-{compact[4:6]}-{compact[6:8]}"


def int64(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{field} must be a signed 64-bit integer")
    return value


def flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be true or false")
    return value


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
    daily = item.get("daily", {})
    if not isinstance(daily, dict):
        raise ValueError("daily must be an object of YYYY-MM-DD: count")
    history: dict[str, int] = {}
    for day, count in daily.items():
        match = _DAY.fullmatch(day)
        if match is None:
            raise ValueError(f"daily: {day!r} is not a YYYY-MM-DD date")
        history["".join(match.groups())] = int64(count, f"daily {day}")
    return key, CounterRecord(
        value=int64(item.get("value"), "value"),
        created=created,
        enable_reset=flag(item.get("enable_reset", False), "enable_reset"),
        update_lowerbound=lower,
        update_upperbound=upper,
        daily=history,
    )


def snapshot_line(info: CounterInfo, daily: dict[str, int]) -> bytes:
    """One snapshot line: the counter and its daily history (``yyyymmdd`` keys)."""
    line = {**counter_json(info), "daily": {day_text(d): n for d, n in sorted(daily.items())}}
    return orjson.dumps(line) + b"\n"
