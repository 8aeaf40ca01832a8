"""A counter's history string (``cnt:{ns/key}:h``) read back: the format ``lua/lib/history.lua``
writes, plus the pending hour the counter hash holds, as the dated counts the API shows.

Text: ``<first day>:<count>,<count>,...;<first hour>:<count>,...`` with days and hours counted
since 1970-01-01 UTC and an empty count meaning 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

HOURS_KEPT = 192  # today and 7 days back, as lua/lib/history.lua keeps them
DAY_MS = 86_400_000


@dataclass
class History:
    daily: dict[int, int] = field(default_factory=dict)  # day number -> count
    hourly: dict[int, int] = field(default_factory=dict)  # hour number -> count

    def add(self, hour: int, amount: int) -> None:
        """Count ``amount`` at ``hour`` (the pending hour the counter hash holds)."""
        day = hour // 24
        self.daily[day] = self.daily.get(day, 0) + amount
        self.hourly[hour] = self.hourly.get(hour, 0) + amount

    def named(self, now: int, ttl_ms: int) -> tuple[dict[str, int], dict[str, int]]:
        """Non-zero counts still kept at ``now``: ``{yyyymmdd: n}`` and ``{yyyymmddhh: n}``."""
        today = now // DAY_MS
        first_day = today - (ttl_ms // DAY_MS + 1)
        first_hour = (today - 7) * 24
        daily = {
            _day_name(day): count
            for day, count in sorted(self.daily.items())
            if count and first_day <= day <= today
        }
        hourly = {
            f"{_day_name(hour // 24)}{hour % 24:02d}": count
            for hour, count in sorted(self.hourly.items())
            if count and first_hour <= hour < (today + 1) * 24
        }
        return daily, hourly


def parse(text: str) -> History:
    """The stored string ('' when the counter has none yet)."""
    history = History()
    if not text:
        return history
    daily, _, hourly = text.partition(";")
    history.daily = _series(daily)
    history.hourly = _series(hourly)
    return history


def _series(text: str) -> dict[int, int]:
    if not text:
        return {}
    first, _, items = text.partition(":")
    start = int(first)
    return {start + offset: int(item) for offset, item in enumerate(items.split(",")) if item}


def _day_name(day: int) -> str:
    return time.strftime("%Y%m%d", time.gmtime(day * 86_400))
