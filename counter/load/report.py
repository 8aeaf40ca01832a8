"""The final report: text for a person, JSON (``--json``) for a machine."""

from __future__ import annotations

from typing import Any

from .plan import Route
from .runner import Result

PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99, 100.0)
SHOWN_KEYS = 10  # keys listed by name when verification finds a problem


def percentiles_us(result: Result) -> dict[float, int]:
    if result.percentiles_us is not None:
        return result.percentiles_us
    hist = result.totals.histogram
    if not hist.get_total_count():
        return {}
    return {p: int(hist.get_value_at_percentile(p)) for p in PERCENTILES}


def _label(percentile: float) -> str:
    return "max" if percentile == 100.0 else f"p{percentile:g}"


def describe(result: Result) -> str:
    plan = result.plan
    route = Route(plan)
    what = {
        "batch": f"POST /api/v0/count x{plan.batch} hits",
        "count": f"GoatCounter pixel {plan.count_path}",
    }.get(route.kind, f"countapi {plan.route}")
    keys = (
        f"key {plan.key}"
        if plan.key
        else f"{plan.keys} keys" + (f" zipf {plan.zipf:g}" if plan.zipf else " uniform")
    )
    pacing = f"open loop {plan.rate:g} req/s" if plan.open_loop else "closed loop"
    return (
        f"{result.tool}: {what} on {plan.url}, {keys}, {pacing}, {plan.connections} connections, "
        f"{plan.processes} process(es)"
    )


def text(result: Result) -> str:
    plan = result.plan
    totals = result.totals
    lines = [describe(result)]
    if result.interrupted:
        lines.append("INTERRUPTED: partial results up to the interruption")
    rate = f"{result.rate:,.0f} req/s"
    if plan.batch:
        rate += f" ({result.rate * plan.batch:,.0f} hits/s)"
    lines.append(f"requests  {totals.requests:,} in {result.seconds:.2f} s = {rate}")
    if plan.open_loop:
        lines.append(
            f"          target {plan.rate:,.0f} req/s; latency measured from each request's "
            "intended send time (coordinated omission corrected)"
        )
    marks = percentiles_us(result)
    if marks:
        lines.append(
            "latency   " + "  ".join(f"{_label(p)} {us / 1000:.2f} ms" for p, us in marks.items())
        )
    statuses = ", ".join(f"{status}: {n:,}" for status, n in sorted(totals.statuses.items()))
    lines.append(f"status    {statuses or 'none'}")
    if totals.socket_errors:
        sockets = ", ".join(f"{name}: {n:,}" for name, n in totals.socket_errors.most_common())
        lines.append(f"socket    {sockets}")
    lines.append(f"errors    {result.errors:,}")
    if result.verdict is not None:
        v = result.verdict
        state = "OK: nothing lost" if v.ok else "FAILED"
        lines.append(
            f"verify    {state}: {len(v.keys):,} key{'' if len(v.keys) == 1 else 's'}, "
            f"sent {v.sent:,}, acked {v.acked:,}, "
            f"stored {v.stored:,}, lost {v.lost:,}, phantom {v.phantom:,}"
        )
        for check in v.bad_keys()[:SHOWN_KEYS]:
            lines.append(
                f"          {check.key}: sent {check.sent}, acked {check.acked}, "
                f"stored {check.stored}, lost {check.lost}, phantom {check.phantom}"
            )
        if len(v.bad_keys()) > SHOWN_KEYS:
            lines.append(f"          ... and {len(v.bad_keys()) - SHOWN_KEYS} more keys")
    lines += [f"note      {problem}" for problem in result.problems]
    return "\n".join(lines)


def as_json(result: Result) -> dict[str, Any]:
    plan = result.plan
    totals = result.totals
    document: dict[str, Any] = {
        "tool": result.tool,
        "url": plan.url,
        "route": plan.route if not plan.batch else "api/v0/count",
        "batch": plan.batch,
        "keys": 1 if plan.key else plan.keys,
        "zipf": plan.zipf,
        "mode": "open" if plan.open_loop else "closed",
        "target_rate": plan.rate or None,
        "connections": plan.connections,
        "processes": plan.processes,
        "interrupted": result.interrupted,
        "requests": totals.requests,
        "seconds": round(result.seconds, 3),
        "rate": round(result.rate, 1),
        "latency_ms": {_label(p): us / 1000 for p, us in percentiles_us(result).items()},
        "statuses": {str(status): n for status, n in sorted(totals.statuses.items())},
        "socket_errors": dict(totals.socket_errors),
        "errors": result.errors,
        "timeline": [vars(second) for second in result.timeline()],
        "problems": result.problems,
    }
    if result.verdict is not None:
        v = result.verdict
        document["verify"] = {
            "ok": v.ok,
            "keys": len(v.keys),
            "sent": v.sent,
            "acked": v.acked,
            "stored": v.stored,
            "lost": v.lost,
            "phantom": v.phantom,
            "per_key": {
                k.key: {
                    "sent": k.sent,
                    "acked": k.acked,
                    "stored": k.stored,
                    "lost": k.lost,
                    "phantom": k.phantom,
                }
                for k in v.keys
            },
        }
    return document
