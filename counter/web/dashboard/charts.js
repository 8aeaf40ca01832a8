// Bar charts (uPlot, vendored under vendor/): all counters as bars, the selected one as a line.
// Times are UTC, as the server buckets them.
"use strict";

const Charts = (() => {
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");

  function options(width, selectedLabel, hourly, totalLabel) {
    const step = hourly ? 3600 : 86400;
    const fg = css("--muted");
    const grid = css("--line");
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    return {
      width,
      height: 220,
      tzDate: utc,
      cursor: { points: { show: false } },
      legend: { live: true },
      scales: {
        // Half a step of room at each end, so the first and last bars are drawn whole.
        x: { time: true, range: (u, min, max) => [min - step / 2, max + step / 2] },
        y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] },
      },
      axes: [
        { ...axis, values: hourly ? "{HH}:00\n{MMM} {D}" : "{MMM} {D}" },
        { ...axis, size: 56 },
      ],
      series: [
        { value: hourly ? "{YYYY}-{MM}-{DD} {HH}:00 UTC" : "{YYYY}-{MM}-{DD}" },
        {
          label: totalLabel,
          stroke: css("--accent"),
          fill: css("--accent-soft"),
          width: 1,
          paths: uPlot.paths.bars({ size: [0.7, 40] }),
          points: { show: false },
        },
        { label: selectedLabel || "selected", stroke: css("--second"), width: 2,
          show: Boolean(selectedLabel), points: { show: true, size: 4, fill: css("--second") } },
      ],
    };
  }

  class BarChart {
    constructor(element, hourly) {
      this.element = element;
      this.hourly = hourly;
      this.plot = null;
      this.totalLabel = "all counters"; // "visits" when drawn from the statistics API
      new ResizeObserver(() => this.plot && this.plot.setSize({ width: this.width(), height: 220 }))
        .observe(element);
    }

    width() { return Math.max(240, this.element.clientWidth); }

    // xs: unix seconds; all, selected: numbers per x (selected may be null).
    draw(xs, all, selected, selectedLabel) {
      if (this.plot) this.plot.destroy();
      const data = [xs, all, selected || xs.map(() => null)];
      const settings = options(this.width(), selectedLabel, this.hourly, this.totalLabel);
      this.plot = new uPlot(settings, data, this.element);
    }
  }

  return { BarChart };
})();
