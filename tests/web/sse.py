"""A small Server-Sent Events reader over httpx, for the stream tests (the wire format only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import orjson


@dataclass
class Event:
    id: str | None = None
    event: str = "message"
    data: str = ""
    comments: list[str] = field(default_factory=list)

    @property
    def value(self) -> object:
        return orjson.loads(self.data)["value"]


class Stream:
    """Events (and heartbeat comments) of one open ``/stream`` response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.comments: list[str] = []
        self.ended = False

    async def next(self, timeout: float = 5) -> Event:
        """The next event (comments before it are kept in ``comments``)."""
        return await asyncio.wait_for(self._next(), timeout)

    async def _next(self) -> Event:
        current = Event()
        seen_field = False
        async for line in self._lines:
            if line == "":
                if seen_field:
                    return current
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                self.comments.append(value)
            elif name == "id":
                current.id, seen_field = value, True
            elif name == "event":
                current.event, seen_field = value, True
            elif name == "data":
                current.data, seen_field = value, True
            elif name == "retry":
                continue
        self.ended = True
        raise EOFError("the stream ended")

    async def values_until(self, wanted: object, timeout: float = 5) -> list[object]:
        """Values of the events up to and including the first equal to ``wanted``."""
        seen: list[object] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = await self.next(max(0.01, deadline - loop.time()))
            seen.append(None if event.event == "missing" else event.value)
            if seen[-1] == wanted:
                return seen

    async def end(self, timeout: float = 5) -> None:
        """Wait for the server to end the stream (a clean end of the chunked body)."""

        async def drain() -> None:
            async for _ in self._lines:
                pass

        await asyncio.wait_for(drain(), timeout)
        self.ended = True


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> AsyncIterator[Stream]:
    async with client.stream("GET", path, headers=headers) as response:
        yield Stream(response)
