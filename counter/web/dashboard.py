"""``/dashboard``: the static single-page dashboard shipped in the package (no build step).

The page talks to ``/api/v0`` with the token the user types, kept in the tab's
sessionStorage only. Everything it loads comes from this directory; the Content Security
Policy says so to the browser, so a mistake that reached for a CDN would fail loudly.
"""

from __future__ import annotations

from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent / "dashboard"
_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; "
     b"style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]  # fmt: skip


class Dashboard:
    """The static files, each answer with the headers above."""

    def __init__(self) -> None:
        self.files: ASGIApp = StaticFiles(directory=STATIC_DIR, html=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.files(scope, receive, with_headers)
