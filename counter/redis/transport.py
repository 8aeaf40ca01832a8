"""How the Store talks to Redis: a small interface with two implementations.

``RespTransport`` (``resp.py``) is a minimal auto-pipelining client on hiredis for a
standalone Redis: the hot path. ``RedisPyTransport`` adapts any redis-py asyncio client
(``Redis`` or ``RedisCluster``), so the cluster keeps redis-py's slot routing. Both
return raw RESP2 replies (bytes, ints, lists) and raise redis-py's exception classes,
so the Store has one code path whatever carries its commands.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

Arg = str | int | bytes


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script's text and the SHA1 that EVALSHA names it by."""

    text: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.text.encode()).hexdigest())


@runtime_checkable
class Transport(Protocol):
    """What the Store needs from a Redis client."""

    async def run_script(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """EVALSHA; on NOSCRIPT (empty script cache) load the script and run it once."""

    async def run_scripts(
        self, script: Script, calls: Sequence[tuple[Sequence[str], Sequence[Arg]]]
    ) -> list[Any]:
        """``run_script`` for many (keys, args) calls, in as few round trips as possible."""

    async def command(self, *args: Arg) -> Any:
        """One command, its raw reply."""

    async def close(self) -> None: ...


class RedisPyTransport:
    """A redis-py asyncio client (standalone or cluster) behind the Transport interface."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._scripts: dict[str, AsyncScript] = {}

    def _registered(self, script: Script) -> AsyncScript:
        registered = self._scripts.get(script.sha)
        if registered is None:
            # register_script gives EVALSHA with a reload on NOSCRIPT, cluster-aware.
            registered = self._scripts[script.sha] = self.client.register_script(script.text)
        return registered

    async def run_script(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        return await self._registered(script)(keys=keys, args=args)

    async def run_scripts(
        self, script: Script, calls: Sequence[tuple[Sequence[str], Sequence[Arg]]]
    ) -> list[Any]:
        if len(calls) == 1 or not isinstance(self.client, Redis):
            # On a cluster the keys span nodes: concurrent calls, routed by slot.
            return list(await asyncio.gather(*(self.run_script(script, k, a) for k, a in calls)))
        registered = self._registered(script)
        async with self.client.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                await registered(keys=keys, args=args, client=pipe)  # the pipeline loads it
            return list(await pipe.execute())

    async def command(self, *args: Arg) -> Any:
        return _raw(await self.client.execute_command(*args))

    async def close(self) -> None:
        await self.client.aclose()


def _raw(reply: Any) -> Any:
    """Undo redis-py's reply parsing where it changes the RESP2 shape."""
    if isinstance(reply, dict):  # HGETALL and friends: back to a flat field/value list
        return [item for pair in reply.items() for item in pair]
    return reply


def resp_supports(url: str) -> bool:
    """Whether the minimal client can serve this URL (plain TCP or unix socket, no TLS)."""
    return urlsplit(url).scheme in {"redis", "unix"}
