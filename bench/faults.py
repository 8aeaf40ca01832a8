"""What production does to a server, measured: a connection flood and a heavy import.

    python -m bench.faults [--flood 5000] [--import-mb 60]

Starts ``counter serve`` (granian, 2 workers, embedded Redis) from the checkout on
``PYTHONPATH`` (or this one), then:

- flood: opens ``--flood`` TCP connections that never send a byte and times a new
  client's ``GET /get/...`` (it timed out before the fix: no answer within 10 s);
- import: while a ``--import-mb`` snapshot import runs, another client reads
  ``/get`` in a loop; prints that client's median and worst latency, and the serving
  workers' peak RSS growth.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

from bench.env import free_port, wait_until
from tests.faults.kit import silent_connections

_CLI = (sys.executable, "-m", "counter.cli")
_TOKEN = ("--name", "bench", "--perm", "read,manage", "--namespace", "*")


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "COUNTER_REDIS_URL": ""}
    process = subprocess.Popen(
        [*_CLI, "serve", "--port", str(port), "--workers", "2", "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: _healthy(port), 30, "counter serve")
    return process


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def flood(port: int, count: int) -> str:
    sockets = silent_connections(port, count)
    time.sleep(0.5)
    started = time.monotonic()
    try:
        httpx.get(f"http://127.0.0.1:{port}/hit/flooded", timeout=10)
        result = f"new client answered in {(time.monotonic() - started) * 1000:.1f} ms"
    except httpx.HTTPError as error:
        result = f"new client failed after {time.monotonic() - started:.1f} s ({error!r})"
    for sock in sockets:
        sock.close()
    return f"{count} silent connections: {result}"


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def heavy_import(server: subprocess.Popen[bytes], data_dir: Path, port: int, mb: int) -> str:
    token = subprocess.run(
        [*_CLI, "token", "create", "--data-dir", str(data_dir), *_TOKEN],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[-1]
    days = {f"{2000 + n // 300:04d}-{1 + n % 300 // 28:02d}-{1 + n % 28:02d}": n for n in range(60)}
    lines, size, n = [], 0, 0
    while size < mb << 20:
        line = orjson.dumps({"key": f"imported-{n:08d}", "value": n, "daily": days}) + b"\n"
        lines.append(line)
        size += len(line)
        n += 1
    body = b"".join(lines)
    httpx.get(f"http://127.0.0.1:{port}/hit/probe")
    workers = [pid for pid in _children(server.pid) if b"redis" not in _cmd(pid)]
    rss_before = {pid: _rss_kb(pid) for pid in workers}
    peaks = dict(rss_before)
    latencies: list[float] = []
    done = threading.Event()

    def reader() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            while not done.is_set():
                started = time.monotonic()
                client.get("/get/probe")
                latencies.append((time.monotonic() - started) * 1000)
                for pid in workers:
                    peaks[pid] = max(peaks[pid], _rss_kb(pid))
                time.sleep(0.005)

    thread = threading.Thread(target=reader)
    thread.start()
    started = time.monotonic()
    answer = httpx.post(
        f"http://127.0.0.1:{port}/api/v0/snapshot/bench",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
        timeout=600,
    )
    took = time.monotonic() - started
    done.set()
    thread.join()
    growth = max(peaks[pid] - rss_before[pid] for pid in workers) / 1024
    return (
        f"{len(body) / 1e6:.0f} MB import ({n} counters x 60 days): {answer.status_code} in "
        f"{took:.1f} s; meanwhile /get median {statistics.median(latencies):.1f} ms, "
        f"worst {max(latencies):.0f} ms over {len(latencies)} reads; worker peak RSS "
        f"+{growth:.0f} MB"
    )


def _cmd(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=5000)
    parser.add_argument("--import-mb", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, port = Path(tmp) / "data", free_port()
        server = _serve(data_dir, port)
        try:
            print(flood(port, args.flood), flush=True)
            wait_until(lambda: _healthy(port), 30, "the server after the flood")
            print(heavy_import(server, data_dir, port, args.import_mb), flush=True)
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
