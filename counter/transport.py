"""How the Store talks to Redis: a small interface with two implementations.

``RespTransport`` (``resp.py``) is a minimal auto-pipelining client on hiredis for a
standalone Redis: the hot path. ``RedisPyTransport`` adapts any redis-py asyncio client
(``Redis`` or ``RedisCluster``), so the cluster keeps redis-py's slot routing. Both
return raw RESP2 replies (bytes, ints, lists) and raise redis-py's exception classes,
so the Store has one code path whatever carries its commands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from redis.commands.core import AsyncScript

Arg = str | int | bytes
CLIENTS = ("resp", "redis-py")


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

    async def command(self, *args: Arg) -> Any:
        """One command, its raw reply."""

    async def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        """Several commands in one round trip (not a transaction), their raw replies."""

    async def close(self) -> None: ...


class RedisPyTransport:
    """A redis-py asyncio client (standalone or cluster) behind the Transport interface."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._scripts: dict[str, AsyncScript] = {}

    async def run_script(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        registered = self._scripts.get(script.sha)
        if registered is None:
            # register_script gives EVALSHA with a reload on NOSCRIPT, cluster-aware.
            registered = self._scripts[script.sha] = self.client.register_script(script.text)
        return await registered(keys=keys, args=args)

    async def command(self, *args: Arg) -> Any:
        return _raw(args[0], await self.client.execute_command(*args))

    async def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        async with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            replies = await pipe.execute()
        return [_raw(command[0], reply) for command, reply in zip(commands, replies, strict=True)]

    async def close(self) -> None:
        await self.client.aclose()


def _raw(name: Arg, reply: Any) -> Any:
    """Undo redis-py's reply parsing where it changes the RESP2 shape."""
    if isinstance(reply, dict):  # HGETALL and friends: back to a flat field/value list
        return [item for pair in reply.items() for item in pair]
    return reply


def as_transport(client: Any) -> Transport:
    """A Transport as given, or a redis-py client wrapped in one."""
    if isinstance(client, Transport):
        return client
    return RedisPyTransport(client)


def resp_supports(url: str) -> bool:
    """Whether the minimal client can serve this URL (plain TCP or unix socket, no TLS)."""
    return urlsplit(url).scheme in {"redis", "unix"}
