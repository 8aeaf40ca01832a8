"""The Lua scripts shipped with the package: loading, headers, and reply statuses.

Each operation is one file in ``lua/``; the helpers in ``lua/lib/`` it names on a
``Library:`` header line are prepended (``status`` and ``int64`` when it names none), so
every script stays a single atomic EVALSHA and the hot ones pay for no unused helper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from pathlib import Path

_DEFAULT_LIBRARY = ("status", "int64")
_HEADER_LIBRARY = re.compile(r"^\s*Library:\s*(.+)$", re.MULTILINE)
_HEADER_KEY = re.compile(r"KEYS\[(\d+)\]")
_HEADER_ARG = re.compile(r"ARGV\[(\d+)\]")
_HEADER_VARIADIC = re.compile(r"(?:KEYS|ARGV)\[\d+\.\.")  # KEYS[5..]: as many as the call needs


class Status(IntEnum):
    """First element of every script reply; mirrors ``lua/lib/status.lua``."""

    INVALID = -1
    OK = 0
    MISSING = 1
    OUT_OF_BOUNDS = 2
    OVERFLOW = 3
    EXISTS = 4
    RESET_DISABLED = 5
    MIGRATE = 6
    FULL = 7  # hit.lua: not the steady state; the Store sends hit_full.lua


def lua_dir() -> Path:
    """Where the scripts live: inside the installed package, or the source checkout."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "lua"  # the wheel force-includes lua/ as counter/lua
    if packaged.is_dir():
        return packaged
    return package.parent / "lua"


@dataclass(frozen=True, slots=True)
class ScriptSource:
    """One operation's file, its declared arity, and the full text sent to Redis."""

    name: str
    header: str
    num_keys: int
    num_args: int
    text: str
    variadic: bool = False  # num_keys and num_args are then minimums


def _header(body: str) -> str:
    if not body.startswith("--[["):
        raise ValueError("script must open with a --[[ header ]] block")
    return body[: body.index("]]") + 2]


@cache
def load(name: str) -> ScriptSource:
    """Read ``lua/<name>.lua`` and prepend the shared library."""
    root = lua_dir()
    body = (root / f"{name}.lua").read_text()
    header = _header(body)
    keys = {int(n) for n in _HEADER_KEY.findall(header)}
    args = {int(n) for n in _HEADER_ARG.findall(header)}
    named = _HEADER_LIBRARY.search(header)
    library_names = (
        [part.strip() for part in named.group(1).split(",")] if named else _DEFAULT_LIBRARY
    )
    library = "\n".join((root / "lib" / f"{lib}.lua").read_text() for lib in library_names)
    return ScriptSource(
        name=name,
        header=header,
        num_keys=max(keys, default=0),
        num_args=max(args, default=0),
        text=f"{library}\n{body}",
        variadic=_HEADER_VARIADIC.search(header) is not None,
    )


def operation_names() -> list[str]:
    """Every operation script shipped (not the library)."""
    return sorted(path.stem for path in lua_dir().glob("*.lua"))
