"""What a generator records: an HDR latency histogram, per-second series, errors, a ledger.

One ``Recorder`` per process. ``snapshot()`` is what crosses back to the parent (plain
data: histograms travel in HdrHistogram's compressed encoding) and ``Totals.merge``
adds the processes up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: an open loop's backlog can make latencies long
DIGITS = 3


def histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


@dataclass
class Second:
    """One second of the run, for the live view and the latency-over-time plot."""

    t: float  # seconds since the measured part of the run started
    requests: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


def second_from(t: float, hist: HdrHistogram, errors: int) -> Second:
    count = hist.get_total_count()

    def ms(percentile: float) -> float:
        return hist.get_value_at_percentile(percentile) / 1000 if count else 0.0

    return Second(
        t, count, errors, ms(50), ms(90), ms(99), hist.get_max_value() / 1000 if count else 0.0
    )


class Timeline:
    """Per-second histograms, added up across processes by second."""

    def __init__(self) -> None:
        self._seconds: dict[int, tuple[HdrHistogram, int]] = {}

    def add(self, index: int, encoded: str, errors: int) -> Second:
        hist, total_errors = self._seconds.get(index) or (histogram(), 0)
        if encoded:
            hist.decode_and_add(encoded.encode("ascii"))
        self._seconds[index] = (hist, total_errors + errors)
        return self.second(index)

    def second(self, index: int) -> Second:
        hist, errors = self._seconds[index]
        return second_from(float(index), hist, errors)

    def seconds(self) -> list[Second]:
        return [self.second(index) for index in sorted(self._seconds)]


def _encode(hist: HdrHistogram) -> str:
    return hist.encode().decode("ascii") if hist.get_total_count() else ""


class Recorder:
    """One process's records: measured answers (after the warm-up) and the whole ledger."""

    def __init__(self, keys: int) -> None:
        self.total = histogram()
        self.window = histogram()  # the current second
        self.window_errors = 0
        self.measured = False  # False during the warm-up
        self.statuses: Counter[int] = Counter()
        self.socket_errors: Counter[str] = Counter()
        self.requests = 0  # measured requests answered
        self.seconds = 0.0  # how long the measured part of the run lasted
        self.timeline: list[tuple[int, str, int]] = []
        self.sent = [0] * (keys + 1)  # increments sent, per key number (--verify)
        self.acked = [0] * (keys + 1)  # increments acknowledged by a 2xx answer

    def response(self, status: int, latency_us: int, measured: bool) -> None:
        if not measured:
            return
        self.statuses[status] += 1
        self.requests += 1
        # one histogram per answer: the window is added to the total when it closes
        self.window.record_value(min(max(latency_us, LOWEST_US), HIGHEST_US))
        if not 200 <= status < 300:
            self.window_errors += 1

    def socket_error(self, name: str, measured: bool) -> None:
        if measured:
            self.socket_errors[name] += 1
            self.window_errors += 1

    def roll(self, index: int) -> tuple[int, str, int]:
        """Close second ``index`` of the measured run."""
        entry = (index, _encode(self.window), self.window_errors)
        self.timeline.append(entry)
        self.total.add(self.window)
        self.window.reset()
        self.window_errors = 0
        return entry

    def snapshot(self) -> dict[str, Any]:
        return {
            "histogram": _encode(self.total),
            "statuses": dict(self.statuses),
            "socket_errors": dict(self.socket_errors),
            "requests": self.requests,
            "seconds": self.seconds,
            "timeline": self.timeline,
            "sent": self.sent,
            "acked": self.acked,
        }


@dataclass
class Totals:
    """All processes' records added up."""

    keys: int
    histogram: HdrHistogram = field(default_factory=histogram)
    statuses: Counter[int] = field(default_factory=Counter)
    socket_errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    seconds: float = 0.0  # the longest measured span of any process
    timeline: Timeline = field(default_factory=Timeline)
    sent: list[int] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sent = self.sent or [0] * (self.keys + 1)
        self.acked = self.acked or [0] * (self.keys + 1)

    def merge(self, snapshot: dict[str, Any]) -> None:
        if snapshot["histogram"]:
            self.histogram.decode_and_add(snapshot["histogram"].encode("ascii"))
        self.statuses.update({int(k): v for k, v in snapshot["statuses"].items()})
        self.socket_errors.update(snapshot["socket_errors"])
        self.requests += snapshot["requests"]
        self.seconds = max(self.seconds, snapshot["seconds"])
        for index, encoded, errors in snapshot["timeline"]:
            self.timeline.add(index, encoded, errors)
        for n, value in enumerate(snapshot["sent"]):
            self.sent[n] += value
        for n, value in enumerate(snapshot["acked"]):
            self.acked[n] += value
