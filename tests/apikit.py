"""Helpers for the /api/v0 tests: apps with a settable clock, tokens, authorised clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from counter import Settings, Store, create_app, lifespan
from counter.engine.store import wall_clock_ms
from counter.engine.tokens import create_token, parse_namespaces, parse_permissions

ALL_PERMISSIONS = "count,export,read,manage"


class Clock:
    """A settable clock in ms, starting at the real now (Redis expires keys by real time)."""

    def __init__(self) -> None:
        self.now = wall_clock_ms()

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


async def new_token(
    store: Store, name: str = "test", perms: str = ALL_PERMISSIONS, namespaces: str = "site.com"
) -> str:
    secret, _ = await create_token(
        store,
        name,
        parse_permissions([perms]),
        parse_namespaces(namespaces.split(",")),
        now=wall_clock_ms(),
    )
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


@asynccontextmanager
async def api_client(
    settings: Settings,
    *,
    clock: Clock | None = None,
    client: tuple[str, int] = ("127.0.0.1", 50000),
    headers: dict[str, str] | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (with its lifespan) behind an httpx client on the ASGI transport."""
    app = create_app(settings, clock=clock)
    async with lifespan(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://counter.test", headers=headers
        ) as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def settled(http: httpx.AsyncClient) -> None:
    """Write the site statistics the app behind ``http`` still holds (engine/statfold.py),
    for a test that then reads them from Redis directly rather than through the app."""
    await http.app.state.counter_runtime.site_stats.settle()  # type: ignore[attr-defined]


def api_of(http: httpx.AsyncClient) -> Any:
    """The ApiV0 object of the app behind ``http`` (to wait for its exports)."""
    return http.app.state.counter_api  # type: ignore[attr-defined]
