"""Which key each request touches: uniform over ``--keys``, Zipf (hot keys), or one key.

Choosers hand out key numbers 1..N in blocks: ``random.choices`` over precomputed
cumulative weights draws a whole block in one call, which keeps the per-request cost
of a Zipf choice near that of a uniform one.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

BLOCK = 4096


def zipf_weights(keys: int, exponent: float) -> list[float]:
    """Cumulative weights of ranks 1..keys, rank k weighing 1/k**exponent."""
    return list(itertools.accumulate(1.0 / rank**exponent for rank in range(1, keys + 1)))


class KeyChooser:
    """An endless supply of key numbers in 1..keys (always 1 for a single key)."""

    def __init__(
        self, keys: int, zipf: float = 0.0, *, single: bool = False, seed: int | None = None
    ):
        self.keys = 1 if single else keys
        self.random = random.Random(seed)
        self._cumulative = zipf_weights(self.keys, zipf) if zipf > 0 and self.keys > 1 else None
        self._block: Iterator[int] = iter(())

    def _refill(self) -> Iterator[int]:
        if self.keys == 1:
            return itertools.repeat(1, BLOCK)
        if self._cumulative is None:
            randint = self.random.randint
            return iter([randint(1, self.keys) for _ in range(BLOCK)])
        ranks = range(1, self.keys + 1)
        return iter(self.random.choices(ranks, cum_weights=self._cumulative, k=BLOCK))

    def one(self) -> int:
        """The next key number."""
        for number in self._block:
            return number
        self._block = self._refill()
        return next(self._block)

    def take(self, count: int) -> list[int]:
        """The next ``count`` key numbers."""
        chosen = list(itertools.islice(self._block, count))
        while len(chosen) < count:
            self._block = self._refill()
            chosen += itertools.islice(self._block, count - len(chosen))
        return chosen
