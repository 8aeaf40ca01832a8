"""CORS as a plain ASGI middleware: every response is readable from any origin.

Counters are called from arbitrary pages (``countapi.visits()``), so the policy is
fixed: ``*``, ``X-Path`` exposed, preflights answered here without reaching a route.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SIMPLE_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (
        b"access-control-expose-headers",
        b"X-Path, X-Rate-Limit-Limit, X-Rate-Limit-Remaining, X-Rate-Limit-Reset, Retry-After",
    ),
]
_ALLOWED_METHODS = b"GET, HEAD, POST, OPTIONS"
_DEFAULT_ALLOWED_HEADERS = b"Authorization, Content-Type, Idempotency-Key"


class CORSMiddleware:
    """Adds the CORS headers to every HTTP response and answers preflight requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
            await self._preflight(scope, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *SIMPLE_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, send: Send) -> None:
        requested = _header(scope, b"access-control-request-headers")
        headers = [
            *SIMPLE_HEADERS,
            (b"access-control-allow-methods", _ALLOWED_METHODS),
            (b"access-control-allow-headers", requested or _DEFAULT_ALLOWED_HEADERS),
            (b"access-control-max-age", b"86400"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None
