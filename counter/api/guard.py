"""The ``/api/v0`` gate, a pure-ASGI middleware: authenticate, charge the rate limit, tag.

Every response that passes through carries ``X-Rate-Limit-*``. Requests without a valid
token are charged to their client IP (under the general API limit) and answered 401.
CORS preflights never get here: the outer CORS middleware answers them, uncharged.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from counter.api.io import TOKEN_STATE
from counter.engine.tokens import Token, authenticate
from counter.errors import CounterError
from counter.runtime import Runtime
from counter.web.ratelimit import Limit, charge, client_ip, send_error, send_json, with_headers

COUNT_PATH = "/count"


class ApiGuard:
    """Authenticates ``Authorization: Bearer <token>`` and applies the per-token limits."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        runtime: Runtime,
        count_limit: Limit,
        api_limit: Limit,
        clock: Callable[[], int] | None,
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.count_limit = count_limit
        self.api_limit = api_limit
        self.clock = clock
        self.trusted = runtime.settings.trusted_networks()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            token = await self._token(scope)
        except CounterError as error:
            await send_error(send, error)
            return
        limit = self.count_limit if _route(scope) == COUNT_PATH else self.api_limit
        headers = await charge(
            self.runtime, self._bucket(scope, token, limit), limit, self.clock, send
        )
        if headers is None:
            return
        if token is None:
            headers.append((b"www-authenticate", b'Bearer realm="counter"'))
            message = "missing or unknown API token (send Authorization: Bearer <token>)"
            await send_json(send, 401, {"error": message}, headers)
            return
        scope.setdefault("state", {})[TOKEN_STATE] = token
        await self.app(scope, receive, with_headers(send, headers))

    async def _token(self, scope: Scope) -> Token | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                secret = _secret(value.decode("latin-1"))
                if secret is None:
                    return None
                return await authenticate(await self.runtime.store(), secret)
        return None

    def _bucket(self, scope: Scope, token: Token | None, limit: Limit) -> str:
        kind = "count" if limit is self.count_limit else "api"
        if token is not None:
            return f"tok:{token.digest}:{kind}"
        address = client_ip(scope, self.trusted)
        return f"anon:{address.compressed if address else 'unknown'}:{kind}"


def _secret(authorization: str) -> str | None:
    """The token from ``Bearer <token>``, or (as GoatCounter allows, for browsers) from
    HTTP Basic with an empty user name and the token as the password."""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            user, _, password = (
                base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
            )
        except (ValueError, UnicodeDecodeError):
            return None
        return password if user == "" else None
    return None


def _route(scope: Scope) -> str:
    """The path inside the mount (``/count``), whatever prefix the API is mounted under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
