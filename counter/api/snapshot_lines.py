"""A counter as ``/api/v0`` shows it, and one line of a namespace snapshot (JSON lines).

For ``counter snapshot``, so its file holds the lines ``GET /api/v0/snapshot/{ns}`` sends
(``tests/cli/test_counters.py`` compares the two); ``snapshot_import.parse_line`` reads
them back for ``counter restore`` as for ``POST /api/v0/snapshot/{ns}``.
"""

from __future__ import annotations

from typing import Any

import orjson

from counter.engine.records import CounterInfo


def counter_json(info: CounterInfo) -> dict[str, Any]:
    return {
        "namespace": info.namespace,
        "key": info.key,
        "value": info.value,
        "created": info.created,
        "ttl": info.ttl,
        "enable_reset": info.enable_reset,
        "update_lowerbound": info.update_lowerbound,
        "update_upperbound": info.update_upperbound,
    }


def snapshot_line(info: CounterInfo, daily: dict[str, int]) -> bytes:
    """One snapshot line: the counter and its daily history (``yyyymmdd`` keys)."""
    days = {f"{d[:4]}-{d[4:6]}-{d[6:8]}": n for d, n in sorted(daily.items())}
    return orjson.dumps({**counter_json(info), "daily": days}) + b"\n"
