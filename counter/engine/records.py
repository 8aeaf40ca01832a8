"""Value objects of the Store's operations (kept apart so the mixins stay about the
operations themselves)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from counter.engine.base import as_text
from counter.engine.scripts import Status


@dataclass(frozen=True, slots=True)
class CounterRecord:
    """A counter as a snapshot line carries it."""

    value: int
    created: int
    enable_reset: bool
    update_lowerbound: int
    update_upperbound: int
    daily: dict[str, int]


@dataclass(frozen=True, slots=True)
class LogLimits:
    """How much of a namespace's hit log is kept, and the first-visit window."""

    max_entries: int
    max_age_ms: int
    visit_window_ms: int


@dataclass(frozen=True, slots=True)
class RateWindow:
    """One charge against a rate limit: whether it passed and what is left."""

    allowed: bool
    limit: int
    remaining: int
    reset_ms: int


@dataclass(frozen=True, slots=True)
class ExportStart:
    export_id: int
    namespace: str
    start_from_hit_id: int
    until_hit_id: int
    now: int
    worker: str
    lease_until: int
    retention_ms: int


@dataclass(frozen=True, slots=True)
class ExportStep:
    """One write by an export's worker: a gzip chunk, its rows, and the renewed lease."""

    worker: str
    chunk: bytes
    rows: int
    last_hit_id: int
    now: int
    lease_until: int
    retention_ms: int
    finish: bool = False
    payload_hash: str = ""


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


class HitResult(NamedTuple):
    """A hit's value and whether it created the counter (a tuple: one is made per hit)."""

    value: int
    created: bool


def parse_info(namespace: str, key: str, reply: list[Any]) -> CounterInfo | None:
    """An ``info.lua`` reply as a CounterInfo; None for a missing counter."""
    if reply[0] == Status.MISSING:
        return None
    _, value, created, enable_reset, lower, upper, ttl = reply
    return CounterInfo(
        namespace=namespace,
        key=key,
        value=int(value),
        created=int(created),
        enable_reset=as_text(enable_reset) == "1",
        update_lowerbound=int(lower),
        update_upperbound=int(upper),
        ttl=int(ttl),
    )
