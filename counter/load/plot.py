"""``--plot FILE``: latency over time and the latency distribution, drawn with matplotlib.

``.png``/``.svg``/``.pdf`` are written by matplotlib's Agg backend (no display needed);
``.html`` is a small page with the SVG inline. matplotlib is the ``counter[load]`` extra:
without it ``--plot`` stops before the run with the install line, everything else works.
"""

from __future__ import annotations

import html
import io
import math
from pathlib import Path
from typing import Any

from counter.errors import ConfigError

from .report import describe
from .runner import Result

FORMATS = (".png", ".svg", ".pdf", ".html")
NINES = 5  # the distribution's x axis runs to 99.999 %


def check(path: Path) -> None:
    """Before the run: a format we can write, and matplotlib installed."""
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(f"--plot {path}: use one of {', '.join(FORMATS)}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--plot needs matplotlib: pip install 'counter[load]' (or pip install matplotlib)"
        ) from None


def _percentile_curve(result: Result) -> tuple[list[float], list[float]]:
    """x = 1/(1-p) (so 90 %, 99 %, 99.9 %... are evenly spaced on a log axis), y = ms."""
    hist = result.totals.histogram
    xs: list[float] = []
    ys: list[float] = []
    if not hist.get_total_count():
        return xs, ys
    steps = 40 * NINES
    for step in range(steps + 1):
        nines = NINES * step / steps
        percentile = 100 * (1 - 10**-nines)
        xs.append(10**nines)
        ys.append(hist.get_value_at_percentile(percentile) / 1000)
    return xs, ys


def figure(result: Result) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import FixedLocator, FuncFormatter

    # SVG (and so the .html page) keeps its text as text: searchable, selectable, smaller
    matplotlib.rcParams["svg.fonttype"] = "none"
    fig, (over_time, spread) = pyplot.subplots(2, 1, figsize=(10, 8), constrained_layout=True)
    fig.suptitle(describe(result), fontsize=9)
    seconds = result.timeline()
    t = [s.t + 1 for s in seconds]
    for name, values, style in (
        ("max", [s.max_ms for s in seconds], ":"),
        ("p99", [s.p99_ms for s in seconds], "-"),
        ("p90", [s.p90_ms for s in seconds], "-"),
        ("p50", [s.p50_ms for s in seconds], "-"),
    ):
        # markers too, so that a run of one second still shows its points
        over_time.plot(t, values, style, label=name, linewidth=1.5, marker="o", markersize=2.5)
    over_time.set_xlabel("second of the run")
    over_time.set_ylabel("latency per second (ms)")
    over_time.set_yscale("log")
    over_time.grid(True, which="both", alpha=0.3)
    rate_axis = over_time.twinx()
    rate_axis.bar(t, [s.requests for s in seconds], color="grey", alpha=0.2, label="req/s")
    rate_axis.set_ylabel("requests answered in the second")
    over_time.set_zorder(rate_axis.get_zorder() + 1)
    over_time.patch.set_visible(False)
    lines, labels = over_time.get_legend_handles_labels()
    bars, bar_labels = rate_axis.get_legend_handles_labels()
    over_time.legend(lines + bars, labels + bar_labels, loc="upper left", fontsize=8)
    over_time.set_title("latency over time (each second's own percentiles)", fontsize=10)

    xs, ys = _percentile_curve(result)
    spread.plot(xs, ys, linewidth=2, label="latency at percentile")
    if ys:
        peak = result.totals.histogram.get_max_value() / 1000
        spread.axhline(peak, linestyle=":", color="grey", label=f"max {peak:.2f} ms")
        spread.legend(loc="upper left", fontsize=8)
    spread.set_xscale("log")
    spread.xaxis.set_major_locator(FixedLocator([10**n for n in range(NINES + 1)]))
    spread.xaxis.set_major_formatter(FuncFormatter(_nines_label))
    spread.set_xlabel("percentile")
    spread.set_ylabel("latency (ms)")
    spread.grid(True, which="major", alpha=0.3)
    spread.set_title(
        f"latency distribution (HDR histogram, {result.totals.histogram.get_total_count():,} "
        "requests)",
        fontsize=10,
    )
    return fig


def _nines_label(x: float, _: Any) -> str:
    if x <= 1:
        return "0%"
    percentile = 100 * (1 - 1 / x)
    return f"{percentile:.{max(0, round(math.log10(x)) - 2)}f}%"


def write(result: Result, path: Path) -> None:
    from matplotlib import pyplot

    fig = figure(result)
    try:
        if path.suffix.lower() == ".html":
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg")
            title = html.escape(describe(result))
            path.write_text(
                f"<!doctype html><meta charset=utf-8><title>{title}</title>\n"
                f"<body style='margin:0;font-family:sans-serif'>{buffer.getvalue()}</body>\n"
            )
        else:
            fig.savefig(path, dpi=100)
    finally:
        pyplot.close(fig)
