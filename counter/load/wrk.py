"""``--tool wrk``: the same load driven by wrk (closed loop), reported like our own runs.

A generated Lua script picks keys (uniform, Zipf, or one key) and builds batches; its
``done`` hook prints the summary and wrk's latency percentiles as one JSON line. wrk keeps
no ledger and no timeline, so ``--verify``, ``--rate`` and ``--plot`` need the built-in
generator.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from counter.errors import ConfigError

from .plan import LoadPlan, Route
from .runner import LoadFailure, Result
from .stats import Totals

PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99, 100.0)

SCRIPT = """
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local prefix, keys, single, suffix = %(prefix)s, %(keys)d, %(single)s, %(suffix)s
local zipf, cumulative = %(zipf)s, nil
if zipf > 0 and not single then  -- --zipf: rank r weighs 1/r^zipf, drawn by binary search
  cumulative = {}
  local sum = 0
  for rank = 1, keys do sum = sum + 1 / rank ^ zipf; cumulative[rank] = sum end
end
local function key()
  if single then return single end
  if cumulative == nil then return "key" .. math.random(1, keys) end
  local x, low, high = math.random() * cumulative[keys], 1, keys
  while low < high do
    local middle = math.floor((low + high) / 2)
    if cumulative[middle] < x then low = middle + 1 else high = middle end
  end
  return "key" .. low
end
request = function()
  return wrk.format("GET", prefix .. key() .. suffix, %(headers)s)
end
%(batch)s
done = function(summary, latency, requests)
  local e = summary.errors
  local marks = {}
  for _, p in ipairs({%(percentiles)s}) do
    marks[#marks + 1] = string.format('"%%g": %%d', p, latency:percentile(p))
  end
  io.write(string.format(
    '\\nRESULT {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, '
    .. '"write": %%d, "status": %%d, "timeout": %%d, "percentiles": {%%s}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(marks, ", ")))
end
"""

BATCH = """
request = function()
  local hits = {}
  for i = 1, %(batch)d do hits[i] = '{"path":"/' .. key() .. '"}' end
  local body = '{"namespace":' .. %(namespace)s .. ',"no_sessions":true,"hits":['
    .. table.concat(hits, ",") .. ']}'
  return wrk.format("POST", %(path)s, %(headers)s, body)
end
"""


def _lua(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal for our inputs


def check(plan: LoadPlan) -> None:
    if shutil.which("wrk") is None:
        raise ConfigError("--tool wrk: wrk is not installed (apt-get install wrk)")
    unsupported = [
        name
        for name, used in (
            ("--verify", plan.verify),
            ("--rate", plan.open_loop),
            ("--requests", plan.requests > 0),
            ("--warmup", plan.warmup > 0),
            ("--route count", Route(plan).kind == "count"),
        )
        if used
    ]
    if unsupported:
        raise ConfigError(f"--tool wrk cannot do {', '.join(unsupported)}: use --tool builtin")


def script(plan: LoadPlan) -> str:
    route = Route(plan)
    name, _, query = plan.route.partition("?")
    headers = {"User-Agent": "counter-load (wrk)", **dict(plan.headers)}
    batch = ""
    if route.kind == "batch":
        batch_headers = {
            **headers,
            "Content-Type": "application/json",
            "Authorization": f"Bearer {plan.token}",
        }
        batch = BATCH % {
            "batch": plan.batch,
            "namespace": _lua(json.dumps(plan.namespace)),
            "path": _lua(f"{plan.prefix}/api/v0/count"),
            "headers": _lua_table(batch_headers),
        }
    return SCRIPT % {
        "prefix": _lua(f"{plan.prefix}/{name.strip('/')}/{plan.namespace}/"),
        "keys": plan.keys,
        "zipf": repr(float(plan.zipf)),
        "single": _lua(plan.key) if plan.key else "nil",
        "suffix": _lua(f"?{query}" if query else ""),
        "headers": _lua_table(headers),
        "batch": batch,
        "percentiles": ", ".join(f"{p:g}" for p in PERCENTILES),
    }


def _lua_table(values: dict[str, str]) -> str:
    return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in values.items()) + "}"


def run(plan: LoadPlan, threads: int = 2) -> Result:
    check(plan)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script(plan))
    try:
        completed = subprocess.run(
            [
                "wrk",
                f"-t{max(1, min(threads, plan.connections))}",
                f"-c{plan.connections}",
                f"-d{max(1, round(plan.duration))}s",
                "--timeout",
                f"{max(1, round(plan.timeout))}s",
                "-s",
                file.name,
                f"http://{plan.host}:{plan.port}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        Path(file.name).unlink(missing_ok=True)
    line = next((x for x in completed.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise LoadFailure(f"wrk failed: {(completed.stderr or completed.stdout).strip()[:500]}")
    raw = json.loads(line.removeprefix("RESULT "))
    totals = Totals(1)
    totals.requests = raw["requests"]
    totals.socket_errors.update(
        {name: raw[name] for name in ("connect", "read", "write", "timeout") if raw[name]}
    )
    result = Result(plan, totals, raw["duration_us"] / 1e6, tool="wrk")
    result.percentiles_us = {float(p): int(v) for p, v in raw["percentiles"].items()}
    result.status_errors = raw["status"]
    if raw["status"]:
        result.problems.append(
            f"{raw['status']:,} answers were not 2xx/3xx (wrk does not say which)"
        )
    return result
