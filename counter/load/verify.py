"""``--verify``: prove the server counted what it acknowledged, key by key.

Before the run every counter the run may touch is read (``GET /get/<ns>/<key>``, CountAPI's
read route); after it, every touched counter is read again. With ``delta = after - before``:

- **lost**: ``delta < acked``: the server acknowledged increments it did not keep;
- **phantom**: ``delta > sent``: the counter grew by more than was ever sent;
- anything in between is honest: a request whose answer never came may or may not have
  counted (``unacked``), and another writer on the same keys would show up as phantom.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .http import fetch_all
from .plan import LoadPlan, Route

READ_CONNECTIONS = 16


class VerifyError(Exception):
    """A counter could not be read back (the message says which and why)."""


@dataclass(frozen=True)
class KeyCheck:
    key: str
    sent: int
    acked: int
    stored: int  # the counter's growth during the run

    @property
    def lost(self) -> int:
        return max(0, self.acked - self.stored)

    @property
    def phantom(self) -> int:
        return max(0, self.stored - self.sent)


@dataclass
class Verdict:
    keys: list[KeyCheck] = field(default_factory=list)

    @property
    def acked(self) -> int:
        return sum(k.acked for k in self.keys)

    @property
    def sent(self) -> int:
        return sum(k.sent for k in self.keys)

    @property
    def stored(self) -> int:
        return sum(k.stored for k in self.keys)

    @property
    def lost(self) -> int:
        return sum(k.lost for k in self.keys)

    @property
    def phantom(self) -> int:
        return sum(k.phantom for k in self.keys)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.phantom

    def bad_keys(self) -> list[KeyCheck]:
        return [k for k in self.keys if k.lost or k.phantom]


def key_numbers(plan: LoadPlan) -> list[int]:
    return [1] if plan.key is not None else list(range(1, plan.keys + 1))


async def read_counters(plan: LoadPlan, numbers: list[int]) -> dict[int, int]:
    """Each counter's value; a counter that does not exist (404, or null) reads as 0."""
    route = Route(plan)
    requests = [route.read_back(plan.key_name(n)) for n in numbers]
    answers = await fetch_all(
        plan.host, plan.port, requests, connections=READ_CONNECTIONS, timeout=plan.timeout
    )
    values: dict[int, int] = {}
    for n, (status, body) in zip(numbers, answers, strict=True):
        values[n] = _value(plan.key_name(n), status, body)
    return values


def _value(key: str, status: int, body: bytes) -> int:
    if status == 404:
        return 0
    if status != 200:
        raise VerifyError(f"reading counter {key!r} back: HTTP {status} {body[:200]!r}")
    try:
        value = json.loads(body).get("value")
    except (ValueError, AttributeError):
        raise VerifyError(
            f"reading counter {key!r} back: not CountAPI JSON: {body[:200]!r}"
        ) from None
    if value is None:
        return 0
    if not isinstance(value, int):
        raise VerifyError(f"reading counter {key!r} back: value {value!r} is not an integer")
    return value


def judge(
    plan: LoadPlan, before: dict[int, int], after: dict[int, int], sent: list[int], acked: list[int]
) -> Verdict:
    verdict = Verdict()
    for n in sorted(after):
        verdict.keys.append(
            KeyCheck(plan.key_name(n), sent[n], acked[n], after[n] - before.get(n, 0))
        )
    return verdict


def touched(sent: list[int]) -> list[int]:
    return [n for n, value in enumerate(sent) if n and value]
