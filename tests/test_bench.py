"""Smoke test of every benchmark command: each runs briefly and prints its result.

Speed is never asserted here; only that the commands keep working and report what they
promise (versions, rates, latency percentiles, the comparison table).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import RedisProcess, ServeProcess

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def run_bench(*args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def assert_versions(output: str) -> None:
    assert re.search(r"# commit \S+ \| Python 3\.\d+", output), output
    assert re.search(r"Redis (\d+\.\d+\.\d+|n/a)", output), output
    assert "granian " in output and "hypercorn " in output


def test_store_benchmark(embedded_redis: RedisProcess) -> None:
    output = run_bench(
        "bench.store",
        "--redis-url",
        embedded_redis.url,
        "--duration",
        "0.2",
        "--concurrency",
        "8",
        "--keys",
        "50",
    )
    assert_versions(output)
    rows = re.findall(r"^(resp|redis-py)\s+(hit|get)\s+(\d+)\s+(\d+)$", output, re.M)
    assert {(client, op, callers) for client, op, callers, _ in rows} == {
        (client, op, callers)
        for client in ("resp", "redis-py")
        for op in ("hit", "get")
        for callers in ("1", "8")
    }
    assert all(int(rate) > 0 for *_, rate in rows)


@pytest.mark.parametrize("tool", ["builtin", "wrk"])
def test_load_harness(tool: str, embedded_redis: RedisProcess, prefix: str, tmp_path: Path) -> None:
    if tool == "wrk":
        assert shutil.which("wrk"), "wrk is required for the suite: apt-get install wrk"
    server = ServeProcess(
        ["--workers", "1"],
        {"COUNTER_REDIS_URL": embedded_redis.url, "COUNTER_PREFIX": prefix},
        tmp_path,
    ).start()
    try:
        output = run_bench(
            "bench.load",
            server.base_url,
            "--duration",
            "1",
            "--connections",
            "4",
            "--keys",
            "20",
            "--tool",
            tool,
            "--json",
        )
    finally:
        server.stop()
    assert_versions(output)
    assert "server: granian" in output
    line = re.search(
        r"^hit: +(\d+) req/s +p50 +([\d.]+) ms +p90 +([\d.]+) ms +p99 +([\d.]+) ms"
        r" +errors (\d+) .*" + tool,
        output,
        re.M,
    )
    assert line is not None, output
    assert int(line[1]) > 0 and int(line[5]) == 0


def test_comparison(embedded_redis: RedisProcess) -> None:
    output = run_bench(
        "bench.compare",
        "--redis-url",
        embedded_redis.url,
        "--duration",
        "1",
        "--repeat",
        "1",
        "--connections",
        "8",
        "--keys",
        "100",
        "--workers",
        "1",
        "--configs",
        "redis-p1,naive,granian,batch,batch-zipf",
    )
    assert_versions(output)
    table = [line for line in output.splitlines() if line.startswith("| ")]
    names = [line.split("|")[1].strip() for line in table[1:]]
    expected = [
        "naive: Starlette + redis-py, hypercorn x1",
        "counter serve /hit, granian x1",
        "counter serve POST /api/v0/count x100 hits, granian x1 (hits/s)",
        "counter serve POST /api/v0/count x100 hits, granian x1 (hits/s), Zipf 1 paths",
    ]
    if shutil.which("redis-benchmark"):
        expected.insert(0, "redis-benchmark EVALSHA hit, P=1")
    assert table[0].startswith("| configuration | req/s | p50 ms | p90 ms | p99 ms")
    assert names == expected
    assert "x naive" in table[0] and "x Redis limit (P=1)" in table[0]
    errors = [line.split("|")[7].strip() for line in table[2:]]
    assert errors == ["0"] * len(errors), table  # every request answered 2xx, batches too


def test_hotpath_cost_benchmark() -> None:
    # In-process, Redis replaced by an instant transport: needs no server at all.
    output = run_bench("bench.hotpath_cost", "--requests", "500", "--rounds", "1")
    assert_versions(output)
    rows = dict(re.findall(r"^/(hit|get): ([\d.]+) µs per answer$", output, re.M))
    assert set(rows) == {"hit", "get"}
    assert all(float(micros) > 0 for micros in rows.values())


def test_live_cost_benchmark() -> None:
    # The Redis-side table only: the HTTP part starts three servers (minutes, not a smoke test).
    # A private Redis (the bench starts one): commandstats are server-wide, and the session's
    # shared Redis also serves other tests' change feeds.
    output = run_bench("bench.live_cost", "--hits", "300", "--skip-http")
    assert_versions(output)
    rows = re.findall(
        r"^(no feed|feed, [a-z ]+?)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)", output, re.M
    )
    assert [row[0] for row in rows] == [
        "no feed",
        "feed, nobody watching",
        "feed, every hit counter watched",
    ]
    assert float(rows[0][2]) == 0 and float(rows[1][2]) == 0  # no feed commands: no cost
    assert int(rows[2][3]) >= 1  # watched: the changes were published


def test_redis_cost_memory_and_index_benchmarks(embedded_redis: RedisProcess) -> None:
    output = run_bench(
        "bench.redis_cost", "--redis-url", embedded_redis.url, "--calls", "300", "--keys", "50"
    )
    assert_versions(output)
    rows = re.findall(r"^([a-z-]+) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)$", output, re.M)
    assert [row[0] for row in rows] == ["minimal", "hit", "hit-create", "update", "get",
                                        "count-batch"]  # fmt: skip
    assert rows[0][3] == "1.00" and all(float(row[1]) > 0 for row in rows)
    output = run_bench(
        "bench.memory", "--redis-url", embedded_redis.url, "--hours", "30",
        "--index-counters", "100",
    )  # fmt: skip
    assert "hash-max-" in output
    sizes = dict(re.findall(r"^(hit once|hit every hour, 30 h) +(\d+)", output, re.M))
    assert set(sizes) == {"hit once", "hit every hour, 30 h"}
    assert 0 < int(sizes["hit once"]) < int(sizes["hit every hour, 30 h"])
    output = run_bench(
        "bench.index", "--redis-url", embedded_redis.url, "--counters", "2000", "--pages", "5"
    )
    assert re.search(r"^index page \(ZRANGEBYLEX, 100 keys\) +[\d.]+ +[\d.]+$", output, re.M)
    output = run_bench(
        "bench.script_cost", "--redis-url", embedded_redis.url, "--rounds", "1", "--keys", "50",
        "--requests", "3000",
    )  # fmt: skip
    rows = re.findall(r"^(\S.*?) {2,} *([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)$", output, re.M)
    if shutil.which("redis-benchmark"):
        assert [row[0] for row in rows][-2:] == ["hit.lua (HGET + HINCRBY + PEXPIRE)",
                                                 "hit_full.lua (the same, 2 keys)"]  # fmt: skip
        assert len(rows) == 6 and all(float(row[2]) > 0 for row in rows)
    else:
        assert "nothing measured" in output


def test_metrics_cost_benchmark() -> None:
    output = run_bench(
        "bench.metrics_cost", "--rounds", "1", "--seconds", "1", "--connections", "4"
    )
    assert_versions(output)
    assert re.search(r"^metrics off\s+\d+\s+\S+", output, re.M), output
    assert re.search(r"^metrics on\s+\d+\s+\S+", output, re.M), output
    assert re.search(r"on/off throughput ratio: \d\.\d{3}", output), output
    assert re.search(r"metrics bookkeeping per /hit: \d+\.\d+ us CPU", output), output
    cpu = r"server CPU per /hit \(median\): off \d+\.\d us, on \d+\.\d us"
    assert re.search(cpu, output), output


def test_goatcounter_benchmark(embedded_redis: RedisProcess) -> None:
    output = run_bench(
        "bench.goatcounter",
        "--redis-url",
        embedded_redis.url,
        "--duration",
        "1",
        "--connections",
        "4",
        "--calls",
        "20",
        "--paths",
        "5",
        "--days",
        "3",
    )
    assert_versions(output)
    rates = re.findall(r"^  /(hit|count)\S* .*?\s(\d+) req/s .* errors 0 ", output, re.M)
    assert [route for route, _ in rates] == ["hit", "count", "count"], output
    per_request = re.findall(r"Redis per request: [\d.]+ us \(commandstats\), [\d.]+ us", output)
    assert len(per_request) == 3, output
    costs = re.findall(r"^  (count_hits|log_hits|record_stats) .*?([\d.]+) us/hit", output, re.M)
    assert [name for name, _ in costs] == ["count_hits", "log_hits", "record_stats"], output
    batched = re.findall(
        r"^    (\w+(?: three)?) +[\d.]+ us/hit \(commandstats\) +[\d.]+ us/hit", output, re.M
    )
    assert batched == ["count_hits", "log_hits", "record_stats", "all three"] * 2, output
    assert "B per path-day" in output and output.count(" ms\n") >= 6


def test_ingest_floor_benchmark(embedded_redis: RedisProcess) -> None:
    assert shutil.which("redis-benchmark"), "apt-get install redis-tools"
    output = run_bench("bench.ingest_floor", "--redis-url", embedded_redis.url, "--calls", "8")
    rows = re.findall(r"^\| (minimal|shipped|lean)[^|]*\|( [\d.]+ \|){4}$", output, re.M)
    assert [kind for kind, _ in rows] == ["minimal"] + ["shipped"] * 3 + ["lean"] * 2, output
    assert len(re.findall(r"^count_hits \+ .*x \(CPU\) the minimal script$", output, re.M)) == 2
