"""counter: a self-hostable, high-throughput counting service on Redis."""

from __future__ import annotations

from counter.app import create_app, lifespan
from counter.engine.keys import Keys
from counter.engine.store import CounterInfo, HitResult, Store
from counter.errors import (
    ConfigError,
    CounterError,
    CounterExists,
    CounterNotFound,
    InvalidInput,
    OutOfBounds,
    Overflow,
    ResetDisabled,
    StoreError,
    StoreUnavailable,
)
from counter.settings import Settings
from counter.version import __version__

__all__ = [
    "ConfigError",
    "CounterError",
    "CounterExists",
    "CounterInfo",
    "CounterNotFound",
    "HitResult",
    "InvalidInput",
    "Keys",
    "OutOfBounds",
    "Overflow",
    "ResetDisabled",
    "Settings",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "__version__",
    "create_app",
    "lifespan",
]
