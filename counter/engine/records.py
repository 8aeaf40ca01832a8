"""Value objects of the Store's ``/api/v0`` operations (kept apart so ``store.py`` stays
about the operations themselves)."""

from __future__ import annotations

from dataclasses import dataclass


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
