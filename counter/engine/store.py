"""The Store: every engine operation on one Redis (standalone or cluster) client.

It is the domain mixins composed; each owns its part of the key space and its scripts:
``counters`` (the CountAPI operations, history, the namespace index), ``hitlog`` (the
``/api/v0/count`` log and idempotency), ``exports``, ``tokens``, ``ratelimits`` and
``stats``. ``base.StoreBase`` holds the client, the transport and the scripts.
"""

from __future__ import annotations

from counter.engine.base import DEFAULT_TTL_MS, Clock, StoreBase, wall_clock_ms
from counter.engine.counters import CounterStore
from counter.engine.exports import ExportStore
from counter.engine.hitlog import HitLogStore
from counter.engine.ratelimits import RateLimitStore
from counter.engine.records import CounterInfo, HitResult
from counter.engine.sitestats import SiteStatsStore
from counter.engine.stats import StatsStore
from counter.engine.tokens import TokenStore

__all__ = [
    "DEFAULT_TTL_MS",
    "Clock",
    "CounterInfo",
    "HitResult",
    "Store",
    "StoreBase",
    "wall_clock_ms",
]


class Store(
    CounterStore, HitLogStore, ExportStore, TokenStore, RateLimitStore, StatsStore, SiteStatsStore
):
    """Atomic counter operations on one Redis (standalone or cluster) client.

    Every script, and the hot path's plain commands, go through ``transport``: by default
    the redis-py client itself (``RedisPyTransport``; also for Redis Cluster), or the
    auto-pipelining ``counter.redis.resp.RespTransport`` on a standalone Redis. Either way
    the Store's logic is the same code; ``redis`` serves the rarer commands.
    """
