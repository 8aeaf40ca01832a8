"""For people who embed counter: the real app on an in-memory fake Redis, for their tests.

The engine's own tests run on real Redis servers; this helper is for *your* test suite,
where starting a redis-server may be unwanted. It runs the same app and the same Lua
scripts (fakeredis executes them with an embedded Lua), one isolated fake server per call.
Needs the ``testing`` extra: ``pip install 'counter[testing]'``.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from counter.app import create_app
from counter.errors import ConfigError
from counter.settings import Settings

__all__ = ["create_test_app", "fake_redis"]


def fake_redis() -> Any:
    """A fresh, empty in-memory ``redis.asyncio``-compatible client (fakeredis)."""
    try:
        import fakeredis
    except ImportError:
        raise ConfigError(
            "counter.testing needs fakeredis: pip install 'counter[testing]'"
        ) from None
    return fakeredis.FakeAsyncRedis()


def create_test_app(settings: Settings | None = None) -> Starlette:
    """``create_app`` on a private fake Redis: no server, no data directory, nothing left over."""
    return create_app(settings or Settings(), redis=fake_redis())
