"""Fixed-window rate limits, atomic in Redis so every instance shares one budget."""

from __future__ import annotations

from counter.engine.base import StoreBase
from counter.engine.records import RateWindow


class RateLimitStore(StoreBase):
    async def take_request(
        self, bucket: str, *, limit: int, window_ms: int, now: int | None
    ) -> RateWindow:
        """Charge one request to a fixed window; ``now`` None reads the Redis server's clock."""
        args: list[str | int] = [limit, window_ms, "" if now is None else now]
        _, allowed, remaining, reset_ms = await self._eval(
            "rate_limit", [self.keys.rate_limit(bucket)], args
        )
        return RateWindow(bool(allowed), limit, int(remaining), int(reset_ms))
