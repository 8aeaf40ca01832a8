"""The one table from engine exceptions to HTTP status codes.

CountAPI routes answer refused operations with their own fields (``{"value": N}``,
all-null bodies); every other error is ``{"error": "..."}``.
"""

from __future__ import annotations

from .errors import (
    CounterError,
    CounterExists,
    CounterNotFound,
    InvalidInput,
    OutOfBounds,
    Overflow,
    ResetDisabled,
    StoreUnavailable,
)

STATUS_BY_ERROR: dict[type[CounterError], int] = {
    InvalidInput: 400,
    OutOfBounds: 403,
    Overflow: 403,
    ResetDisabled: 403,
    CounterNotFound: 404,
    CounterExists: 409,
    StoreUnavailable: 503,
}

# Statuses whose CountAPI body carries the route's own fields rather than an error text.
COUNTAPI_FIELD_STATUSES = frozenset({403, 404, 409})

INTERNAL_ERROR = "internal error"


def status_for(error: CounterError) -> int:
    for cls in type(error).__mro__:
        status = STATUS_BY_ERROR.get(cls)
        if status is not None:
            return status
    return 500


def error_text(error: CounterError, status: int) -> str:
    """The message a client may see: a 5xx never leaks internals."""
    if status == 500:
        return INTERNAL_ERROR
    return str(error)
