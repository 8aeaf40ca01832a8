"""The one table from engine exceptions to HTTP status codes.

CountAPI routes answer refused operations with their own fields (``{"value": N}``,
all-null bodies); every other error is ``{"error": "..."}``, from the handlers below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from counter.errors import (
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


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


def json_error_handlers(headers: Mapping[str, str] | None = None) -> dict[Any, ErrorHandler]:
    """The one pair of handlers both apps install: routing errors and bugs as JSON.

    ``headers`` are the app's own on every answer (``/api/v0`` adds ``Cache-Control:
    no-store``; the public routes add none, CORS comes from the middleware). A 404 or 405
    keeps the headers Starlette attaches (``Allow``); a bug is a 500 that says nothing more.
    """
    base = dict(headers or {})

    def answer(text: str, status: int, extra: Mapping[str, str] | None = None) -> Response:
        return Response(
            orjson.dumps({"error": text}),
            status,
            {**base, **(extra or {})},
            media_type="application/json",
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        text = {404: "not found", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        return answer(text, exc.status_code, exc.headers)

    async def internal_error(request: Request, exc: Exception) -> Response:
        return answer(INTERNAL_ERROR, 500)

    return {HTTPException: http_error, Exception: internal_error}


RETRY_AFTER_S = b"1"


class RetryAfter:
    """Pure-ASGI middleware: every 503 (Redis cannot serve now) says when to retry.

    One place for every route and both Redis clients: the CountAPI renderers, the raw
    hot path, ``/api/v0``, the rate limiter and ``/healthz`` all answer 503 through it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_retry_after(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"retry-after" for name, _ in headers):
                    message["headers"] = [*headers, (b"retry-after", RETRY_AFTER_S)]
            await send(message)

        await self.app(scope, receive, send_with_retry_after)
