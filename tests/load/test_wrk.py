"""`--tool wrk`: the same load driven by wrk, reported in the same shape."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from tests.load.conftest import counter_load

pytestmark = pytest.mark.slow


def test_wrk_drives_hits_and_batches(real_server: tuple[str, str]) -> None:
    assert shutil.which("wrk"), "wrk is required for the suite: apt-get install wrk"
    url, token = real_server
    run = counter_load(url, "--tool", "wrk", "-d", "1", "-c", "4", "--keys", "20", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["tool"] == "wrk" and result["requests"] > 0 and result["errors"] == 0
    assert list(result["latency_ms"]) == ["p50", "p90", "p99", "p99.9", "p99.99", "max"]

    run = counter_load(url, "--tool", "wrk", "--batch", "20", "--token", token, "-d", "1",
                       "-c", "2", "--namespace", "wrk-batch")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "wrk: POST /api/v0/count x20 hits" in run.stdout and "errors    0" in run.stdout


def test_wrk_draws_zipf_keys_as_the_builtin_generator_does(real_server: tuple[str, str]) -> None:
    url, _ = real_server
    run = counter_load(url, "--tool", "wrk", "-d", "1", "-c", "4", "--keys", "50", "--zipf",
                       "1.2", "--namespace", "wrk-zipf")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr

    def value(key: str) -> int:
        reply = httpx.get(f"{url}/get/wrk-zipf/{key}")
        return int(reply.json()["value"]) if reply.status_code == 200 else 0

    first, tenth = value("key1"), value("key10")
    assert first > 5 * tenth > 0  # rank 10 is 10**1.2 ≈ 16 times rarer than rank 1
