"""counter: a self-hostable, high-throughput counting service on Redis."""

from __future__ import annotations

__version__ = "0.1.0"

from .app import create_app, lifespan  # noqa: E402
from .errors import (  # noqa: E402
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
from .keys import Keys  # noqa: E402
from .settings import Settings  # noqa: E402
from .store import CounterInfo, HitResult, Store  # noqa: E402

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
