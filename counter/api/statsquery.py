"""Query parameters of the stats routes, read as GoatCounter's decoder reads them.

Names are matched case-insensitively (clients send ``Limit`` and ``After``), booleans as Go's
``strconv.ParseBool`` reads them (``True``, ``false``, ``1``, ``t``, ...), lists repeated or
comma-separated, times as RFC 3339, ``YYYY-MM-DD HH:MM:SS`` or ``YYYY-MM-DD`` (UTC).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

from starlette.requests import Request

from counter.api.io import ApiError, token_of
from counter.engine.names import is_valid_name

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
MAX_RANGE_DAYS = 3660


def site_id(namespace: str) -> int:
    """A namespace's site id: stable on every instance, and exact in JavaScript (48 bits)."""
    return int(hashlib.sha256(namespace.encode()).hexdigest()[:12], 16)


class Query:
    """The request's parameters by lower-case name; every value of a repeated name kept."""

    def __init__(self, request: Request) -> None:
        self.values: dict[str, list[str]] = {}
        for name, value in request.query_params.multi_items():
            self.values.setdefault(name.lower(), []).append(value)

    def text(self, name: str) -> str:
        return self.values.get(name, [""])[0]

    def boolean(self, name: str) -> bool:
        raw = self.text(name)
        if raw == "" or raw in _FALSE:
            return False
        if raw in _TRUE:
            return True
        raise ApiError(400, errors={name: [f"not a boolean: {raw!r}"]})

    def integer(self, name: str, default: int, low: int, high: int | None = None) -> int:
        """An integer, clamped into [low, high] as GoatCounter clamps limits."""
        raw = self.text(name)
        if raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, errors={name: [f"not an integer: {raw!r}"]}) from None
        value = max(low, value)
        return value if high is None else min(high, value)

    def strings(self, name: str) -> list[str]:
        return [part for raw in self.values.get(name, []) for part in raw.split(",") if part]

    def ids(self, name: str) -> list[int]:
        try:
            return [int(part) for part in self.strings(name)]
        except ValueError:
            raise ApiError(400, errors={name: ["must be a list of path ids"]}) from None

    def moment(self, name: str, default: datetime) -> datetime:
        raw = self.text(name).strip()
        if raw == "":
            return default
        try:
            if len(raw) == 10:
                return datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC)
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "T"))
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        except (ValueError, OverflowError):  # 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise ApiError(400, errors={name: [f"not a date or date-time: {raw!r}"]}) from None


@dataclass(frozen=True)
class Span:
    """[start, end) in whole hours, and the UTC days it touches."""

    start: datetime
    end: datetime

    @cached_property
    def days(self) -> list[date]:
        last = (self.end - timedelta(microseconds=1)).date()
        first = self.start.date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    @cached_property
    def day_names(self) -> dict[date, str]:
        return {day: day.isoformat() for day in self.days}

    @cached_property
    def edges(self) -> dict[date, range]:
        """The hours inside the span of its first and last day, when not the whole day."""
        days = self.days
        partial = {day: self.hours_of(day) for day in {days[0], days[-1]}}
        return {day: hours for day, hours in partial.items() if hours != range(0, 24)}

    def hours_of(self, day: date) -> range:
        """The hours of ``day`` inside the span."""
        day_start = datetime.combine(day, datetime.min.time(), UTC)
        first = max(0, int((self.start - day_start).total_seconds() // 3600))
        last = min(24, -int(-(self.end - day_start).total_seconds() // 3600))
        return range(first, max(first, last))


def span_of(query: Query, now: datetime) -> Span:
    """``start`` (default a week ago) to ``end`` (default now), widened to whole hours."""
    end = query.moment("end", now)
    try:  # near year 1 or 9999 the default start or the widened end leave the calendar
        start = query.moment("start", end - timedelta(days=7))
        start = start.replace(minute=0, second=0, microsecond=0)
        if end != end.replace(minute=0, second=0, microsecond=0):
            end = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    except OverflowError:
        raise ApiError(400, errors={"end": ["outside the years 1 to 9999"]}) from None
    if end <= start:
        raise ApiError(400, errors={"end": ["must be after start"]})
    if (end - start).days > MAX_RANGE_DAYS:
        raise ApiError(400, errors={"start": [f"the range is longer than {MAX_RANGE_DAYS} days"]})
    return Span(start, end)


def stats_site(request: Request, query: Query, permission: str) -> str:
    """The namespace (site) a stats request reads: the token's only one, or ``site``."""
    token = token_of(request)
    if permission not in token.permissions:
        raise ApiError(403, f"this token lacks the {permission!r} permission")
    wanted = query.text("site")
    if wanted == "":
        only = token.only_namespace
        if only is None:
            raise ApiError(400, errors={"site": ["required: this token reads several sites"]})
        return only
    if wanted.isdigit():
        named = [ns for ns in token.namespaces if ns != "*" and site_id(ns) == int(wanted)]
        if not named:
            raise ApiError(403, f"this token may not read site {wanted}")
        return named[0]
    if not is_valid_name(wanted):
        raise ApiError(400, errors={"site": ["must be a namespace name or a site id"]})
    if not token.allows_namespace(wanted):
        raise ApiError(403, f"this token may not read site {wanted!r}")
    return wanted
