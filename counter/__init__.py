"""counter: a self-hostable, high-throughput counting service on Redis."""

from __future__ import annotations

__version__ = "0.1.0"

from .app import create_app, lifespan
from .errors import (
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
from .keys import Keys
from .settings import Settings
from .store import CounterInfo, HitResult, Store

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
