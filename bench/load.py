"""HTTP load harness for any CountAPI-compatible service (ours or another).

    python -m bench.load http://127.0.0.1:8080 --route hit --duration 10 --connections 64

Requests ``/<route>/<namespace>/key<random>`` over a key space of ``--keys`` keys and
reports req/s, p50/p90/p99 latency and errors (non-2xx answers and socket errors).
With ``--batch N --token T`` it posts GoatCounter batches instead: ``POST /api/v0/count``
with N hits on random paths each, and also reports hits/s.
It drives ``wrk`` when it is installed (``--tool wrk``), else a built-in asyncio
generator (``--tool builtin``: one process, so it saturates sooner than wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.env import header

WRK_SCRIPT = """
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local prefix, keys, suffix = "%(prefix)s", %(keys)d, "%(suffix)s"
request = function()
  return wrk.format("GET", prefix .. math.random(1, keys) .. suffix)
end
%(batch_request)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests": %%d, "duration_us": %%d, "errors": %%d, '
    .. '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""

WRK_BATCH = """
local batch_headers = {["Content-Type"] = "application/json",
                       ["Authorization"] = "Bearer %(token)s"}
request = function()
  local hits = {}
  for i = 1, %(batch)d do hits[i] = '{"path":"/key' .. math.random(1, keys) .. '"}' end
  local body = '{"namespace":"%(ns)s","no_sessions":true,"hits":['
    .. table.concat(hits, ",") .. ']}'
  return wrk.format("POST", "%(path)s", batch_headers, body)
end
"""


@dataclass(frozen=True)
class LoadResult:
    """One load run: throughput, latency percentiles (ms), failed requests."""

    tool: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.rps:10.0f} req/s  p50 {self.p50_ms:6.2f} ms  p90 {self.p90_ms:6.2f} ms  "
            f"p99 {self.p99_ms:6.2f} ms  errors {self.errors}  ({self.requests} requests, "
            f"{self.seconds:.1f} s, {self.tool})"
        )


@dataclass(frozen=True)
class Target:
    """Which URLs to request: ``<base>/<route>/<namespace>/k<n><suffix>``."""

    base_url: str
    route: str = "hit"
    namespace: str = "bench"
    keys: int = 10_000
    suffix: str = ""
    batch: int = 0  # > 0: POST /api/v0/count with this many hits per request
    token: str = ""

    @property
    def path_prefix(self) -> str:
        base_path = urlsplit(self.base_url).path.rstrip("/")
        return f"{base_path}/{self.route}/{self.namespace}/key"

    def path(self, n: int) -> str:
        return f"{self.path_prefix}{n}{self.suffix}"

    @property
    def count_path(self) -> str:
        return f"{urlsplit(self.base_url).path.rstrip('/')}/api/v0/count"

    def count_body(self) -> bytes:
        hits = [{"path": f"/key{random.randint(1, self.keys)}"} for _ in range(self.batch)]
        body = {"namespace": self.namespace, "no_sessions": True, "hits": hits}
        return json.dumps(body).encode()


def run(
    target: Target,
    *,
    duration: float = 5.0,
    connections: int = 64,
    threads: int = 2,
    tool: str = "auto",
) -> LoadResult:
    """Load ``target`` for ``duration`` seconds with the chosen generator."""
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "builtin"
    if tool == "wrk":
        return _run_wrk(target, duration, connections, threads)
    return asyncio.run(_run_builtin(target, duration, connections))


def _run_wrk(target: Target, duration: float, connections: int, threads: int) -> LoadResult:
    script = WRK_SCRIPT % {
        "prefix": target.path_prefix,
        "keys": target.keys,
        "suffix": target.suffix,
        "batch_request": _wrk_batch(target) if target.batch else "",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        split = urlsplit(target.base_url)
        completed = subprocess.run(
            [
                "wrk",
                f"-t{min(threads, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--timeout",
                "10s",
                "-s",
                file.name,
                f"{split.scheme}://{split.netloc}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(file.name).unlink(missing_ok=True)
    line = next(x for x in completed.stdout.splitlines() if x.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    return LoadResult(
        tool="wrk",
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        errors=raw["errors"],
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
    )


async def _run_builtin(target: Target, duration: float, connections: int) -> LoadResult:
    split = urlsplit(target.base_url)
    secure = split.scheme == "https"
    host = split.hostname or "127.0.0.1"
    port = split.port or (443 if secure else 80)
    latencies: list[float] = []
    errors = [0]
    deadline = time.perf_counter() + duration

    async def one_connection() -> None:
        context = ssl.create_default_context() if secure else None
        while time.perf_counter() < deadline:
            try:
                reader, writer = await asyncio.open_connection(host, port, ssl=context)
            except OSError:
                errors[0] += 1
                await asyncio.sleep(0.01)
                continue
            try:
                while time.perf_counter() < deadline:
                    request = _builtin_request(target, split.netloc)
                    started = time.perf_counter()
                    writer.write(request)
                    status, close = await _read_response(reader)
                    latencies.append(time.perf_counter() - started)
                    if not 200 <= status < 300:
                        errors[0] += 1
                    if close:
                        break
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors[0] += 1
            finally:
                writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    seconds = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    cuts = statistics.quantiles(ordered, n=100) if len(ordered) > 1 else ordered * 99
    return LoadResult(
        tool="builtin",
        requests=len(latencies),
        seconds=seconds,
        errors=errors[0],
        p50_ms=cuts[49] * 1000,
        p90_ms=cuts[89] * 1000,
        p99_ms=cuts[98] * 1000,
    )


def _wrk_batch(target: Target) -> str:
    return WRK_BATCH % {
        "path": target.count_path,
        "batch": target.batch,
        "ns": target.namespace,
        "token": target.token,
    }


def _builtin_request(target: Target, host: str) -> bytes:
    if not target.batch:
        path = target.path(random.randint(1, target.keys))
        return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    body = target.count_body()
    head = (
        f"POST {target.count_path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {target.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; its status and whether the server closes after it."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if fields.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(fields.get("content-length", "0")))
    return status, fields.get("connection", "").lower() == "close"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("base_url", help="the service, e.g. http://127.0.0.1:8080")
    parser.add_argument("--route", default="hit", help="hit, get, or any /<route>/ns/key route")
    parser.add_argument("--namespace", default="bench")
    parser.add_argument("--keys", type=int, default=10_000, help="key space size")
    parser.add_argument("--suffix", default="", help="appended to each path, e.g. '?img'")
    parser.add_argument("--batch", type=int, default=0, help="hits per POST /api/v0/count")
    parser.add_argument("--token", default="", help="API token with the count permission")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--tool", choices=("auto", "wrk", "builtin"), default="auto")
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    args = parser.parse_args(argv)
    target = Target(
        args.base_url, args.route, args.namespace, args.keys, args.suffix, args.batch, args.token
    )
    server = _server_header(args.base_url)
    print(
        header(
            "bench.load",
            None,
            {
                "target": args.base_url,
                "server": server,
                "route": f"{target.path_prefix}<1..{args.keys}>{args.suffix}",
                "connections": str(args.connections),
            },
        )
    )
    result = run(
        target,
        duration=args.duration,
        connections=args.connections,
        threads=args.threads,
        tool=args.tool,
    )
    if args.batch:
        print(f"count: {result.line()}  = {result.rps * args.batch:.0f} hits/s")
    else:
        print(f"{args.route}: {result.line()}")
    if args.json:
        print(json.dumps({**asdict(result), "rps": result.rps}))
    return 0


def _server_header(base_url: str) -> str:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/stats", timeout=2) as response:
            return str(response.headers.get("server", "not announced"))
    except (urllib.error.URLError, OSError) as error:
        return f"unknown ({type(error).__name__})"


if __name__ == "__main__":
    sys.exit(main())
