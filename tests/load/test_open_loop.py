"""The open loop charges a server's stall to every request that was due during it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.load.conftest import counter_load

pytestmark = pytest.mark.slow


def latency(mode: str, url: str, *args: str) -> dict[str, float]:
    run = counter_load(url, "--keys", "10", "-d", "2.5", "-c", "4", "-p", "1", *args, "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["mode"] == mode and result["errors"] == 0
    return result["latency_ms"]  # type: ignore[no-any-return]


def test_stall_is_seen_by_the_open_loop_only(fake: Callable[[str], str]) -> None:
    # The fake freezes for 500 ms once, 1 s in. At 200 req/s, 100 requests fall due during
    # the freeze and wait up to 500 ms each: about a fifth of the run, so p90 is ~300 ms.
    opened = latency("open", fake("stall"), "--rate", "200")
    assert opened["max"] >= 450
    assert opened["p90"] >= 150, opened
    # The closed loop on the same server sends nothing while its 4 requests wait: 4 slow
    # samples among thousands, the stall vanishes from p99 (coordinated omission).
    closed = latency("closed", fake("stall"))
    assert closed["max"] >= 450
    assert closed["p99"] < 100, closed
    assert opened["p90"] > 3 * closed["p99"]


def test_open_loop_keeps_its_rate_and_request_count(fake: Callable[[str], str]) -> None:
    run = counter_load(fake("lossy"), "--keys", "10", "--rate", "300", "-n", "150", "-c", "2",
                       "-p", "1", "--json")  # fmt: skip
    result = json.loads(run.stdout)
    assert result["requests"] == 150
    assert 0.4 <= result["seconds"] <= 1.5, result["seconds"]  # ~0.5 s at 300/s
