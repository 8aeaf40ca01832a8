"""`--plot` draws latency over time and the distribution; the live line shows each second."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.load.conftest import ROOT, counter_load

pytestmark = pytest.mark.slow
SCREENSHOTS = ROOT / "tests" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


def test_plot_png_and_html(fake: Callable[[str], str], tmp_path: Path) -> None:
    png, page = tmp_path / "load.png", tmp_path / "load.html"
    url = fake("stall")
    run = counter_load(url, "--rate", "300", "-d", "3", "-c", "4", "-p", "1", "--keys", "10",
                       "--plot", str(png), "--live")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert f"plot written to {png}" in run.stderr
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(png, SCREENSHOTS / "load-plot-stall.png")  # look at it: the stall's spike
    # the live line: one per second, with the rate and the last second's percentiles
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run.stderr)
    assert re.search(r"   3 s +\d+ req/s \(target 300\)  errors 0  p50 +[\d.]+ ms  p99", shown)

    run = counter_load(url, "-n", "200", "-c", "2", "-p", "1", "--keys", "10", "--plot", str(page))
    assert run.returncode == 0, run.stderr
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "<svg" in text and "latency distribution" in text
    # The page as a person sees it: Debian's Chromium draws the figure at full size.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1100, "height": 900})
            tab.goto(page.as_uri())
            box = tab.locator("svg").bounding_box()
            assert box is not None and box["width"] >= 700 and box["height"] >= 550, box
            assert tab.locator("svg text").count() > 20  # titles, ticks and legends as text
            title = tab.locator("svg text", has_text="latency distribution").bounding_box()
            assert title is not None and title["y"] > box["height"] / 2  # the lower panel's
            tab.screenshot(path=str(SCREENSHOTS / "load-plot-html.png"))
        finally:
            browser.close()
