"""Rate limits: fixed windows counted by one Lua script, shared by every worker and instance.

``/api/v0`` charges each token (``api/guard.py``); the public CountAPI routes can charge
each client IP with ``PublicIpLimit``, a pure-ASGI middleware that is not installed at all
when the limit is off (the default), so it costs the hot path nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from counter.engine.records import RateWindow
from counter.errors import CounterError
from counter.runtime import Runtime
from counter.web.errors import error_text, status_for

Network = IPv4Network | IPv6Network
ClockOrServer = Callable[[], int] | None  # None: the Redis server's clock decides


@dataclass(frozen=True, slots=True)
class Limit:
    """``requests`` per ``window_s`` seconds."""

    requests: int
    window_s: int

    @property
    def window_ms(self) -> int:
        return self.window_s * 1000


def rate_headers(window: RateWindow) -> list[tuple[bytes, bytes]]:
    """``X-Rate-Limit-*`` (GoatCounter's names), plus ``Retry-After`` on a refusal."""
    reset_s = str(max(1, math.ceil(window.reset_ms / 1000))).encode()
    headers = [
        (b"x-rate-limit-limit", str(window.limit).encode()),
        (b"x-rate-limit-remaining", str(window.remaining).encode()),
        (b"x-rate-limit-reset", reset_s),
    ]
    if not window.allowed:
        headers.append((b"retry-after", reset_s))
    return headers


async def send_json(
    send: Send,
    status: int,
    body: object,
    headers: list[tuple[bytes, bytes]] = [],  # noqa: B006
) -> None:
    """A complete JSON response from middleware (where there is no Starlette Response)."""
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def with_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    """``send`` that adds ``headers`` to the response start."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *headers]
        await send(message)

    return wrapped


async def send_error(send: Send, error: CounterError) -> None:
    status = status_for(error)
    await send_json(send, status, {"error": error_text(error, status)})


async def charge(
    runtime: Runtime, bucket: str, limit: Limit, clock: ClockOrServer, send: Send
) -> list[tuple[bytes, bytes]] | None:
    """Charge one request to ``bucket``: its rate headers, or None once a 429 (or a 503
    when Redis is down) has been sent instead."""
    try:
        store = await runtime.store()
        window = await store.take_request(
            bucket,
            limit=limit.requests,
            window_ms=limit.window_ms,
            now=None if clock is None else clock(),
        )
    except CounterError as error:
        await send_error(send, error)
        return None
    headers = rate_headers(window)
    if not window.allowed:
        await send_json(send, 429, {"error": "rate limited: too many requests"}, headers)
        return None
    return headers


def client_ip(scope: Scope, trusted: tuple[Network, ...]) -> IPv4Address | IPv6Address | None:
    """The caller's address: the peer, or behind trusted proxies the first untrusted hop.

    ``X-Forwarded-For`` is read right to left and only while each hop is a trusted proxy,
    so a client cannot choose its own address by sending the header itself.
    """
    client = scope.get("client")
    try:
        address = ip_address(client[0]) if client else None
    except ValueError:
        return None
    if address is None or not trusted or not _is_trusted(address, trusted):
        return address
    forwarded = b",".join(value for name, value in scope["headers"] if name == b"x-forwarded-for")
    for hop in reversed(forwarded.decode("latin-1").split(",")):
        try:
            address = ip_address(hop.strip())
        except ValueError:
            return address
        if not _is_trusted(address, trusted):
            return address
    return address


def _is_trusted(address: IPv4Address | IPv6Address, trusted: tuple[Network, ...]) -> bool:
    return any(address in network for network in trusted)


class PublicIpLimit:
    """Charges each client IP on the public routes; loopback is never limited."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        runtime: Runtime,
        limit: Limit,
        skip_prefixes: tuple[str, ...],
        clock: ClockOrServer = None,
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.limit = limit
        self.skip_prefixes = skip_prefixes
        self.trusted = runtime.settings.trusted_networks()
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.skip_prefixes):
            await self.app(scope, receive, send)
            return
        address = client_ip(scope, self.trusted)
        if address is None or address.is_loopback:
            await self.app(scope, receive, send)
            return
        headers = await charge(
            self.runtime, f"ip:{address.compressed}", self.limit, self.clock, send
        )
        if headers is not None:
            await self.app(scope, receive, with_headers(send, headers))
