"""``POST /api/v0/count``: a batch of GoatCounter hits -> counters and the namespace's hit log.

Hits group by counter and hour, one ``hit`` script per group (each counter is its
own hash slot), then one ``log_hits`` script appends every counted hit to the
namespace's log. A hit a counter refuses (bounds, overflow) is reported, not logged.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from counter.api.io import ApiError, json_response, namespace_for, parse_json, read_body, require
from counter.engine.hits import Hit, HitError, hit_day, parse_hit
from counter.engine.records import LogLimits
from counter.engine.store import Store
from counter.errors import OutOfBounds, Overflow
from counter.runtime import Runtime

MAX_HITS = 500
IDEMPOTENCY_KEEP_MS = 86_400_000
IDEMPOTENCY_CLAIM_MS = 60_000  # a request that died mid-batch blocks retries this long
VISIT_WINDOW_MS = 8 * 3_600_000  # GoatCounter's session lifetime
_BODY_FIELDS = frozenset({"namespace", "no_sessions", "hits", "filter"})


class CountRoute:
    def __init__(self, runtime: Runtime, clock: Callable[[], int]) -> None:
        self.runtime = runtime
        self.clock = clock
        settings = runtime.settings
        self.body_limit = settings.api_max_body_bytes
        self.log_limits = LogLimits(
            max_entries=settings.hit_log_max_entries,
            max_age_ms=settings.hit_log_max_age_days * 86_400_000,
            visit_window_ms=VISIT_WINDOW_MS,
        )

    async def handle(self, request: Request) -> Response:
        token = require(request, "count")
        raw = await read_body(request, self.body_limit, ("application/json",))
        key = request.headers.get("idempotency-key")
        if key is None:
            status, body = await self._count(request, raw)
            return json_response(body, status)
        if not 1 <= len(key) <= 255:
            raise ApiError(400, "Idempotency-Key must be 1 to 255 characters")
        store = await self.runtime.store()
        key_digest = hashlib.sha256(key.encode()).hexdigest()
        body_digest = hashlib.sha256(raw).hexdigest()
        first = await store.claim_idempotency(
            token.digest, key_digest, claim_ms=IDEMPOTENCY_CLAIM_MS
        )
        if first is not None:
            return _replay(first, body_digest)
        answer: str | None = None
        try:
            status, body = await self._count(request, raw)
            answer = orjson.dumps({"hash": body_digest, "status": status, "body": body}).decode()
            return json_response(body, status)
        except ApiError as error:
            # A refused batch stored nothing: remember that answer too.
            answer = orjson.dumps(
                {"hash": body_digest, "status": error.status, "body": error.body}
            ).decode()
            raise
        finally:
            await store.settle_idempotency(
                token.digest, key_digest, answer, keep_ms=IDEMPOTENCY_KEEP_MS
            )

    async def _count(self, request: Request, raw: bytes) -> tuple[int, dict[str, Any]]:
        body = parse_json(raw)
        unknown = sorted(set(body) - _BODY_FIELDS)
        if unknown:
            raise ApiError(400, errors={field: ["unknown field"] for field in unknown})
        namespace = namespace_for(request, "count", body.get("namespace"))
        no_sessions = body.get("no_sessions", False)
        if not isinstance(no_sessions, bool):
            raise ApiError(400, errors={"no_sessions": ["must be true or false"]})
        raw_hits = body.get("hits")
        if not isinstance(raw_hits, list) or not 1 <= len(raw_hits) <= MAX_HITS:
            raise ApiError(400, errors={"hits": [f"must be an array of 1 to {MAX_HITS} hits"]})
        now = self.clock()
        errors: dict[str, list[str]] = {}
        hits: dict[int, Hit] = {}
        store = await self.runtime.store()
        secrets = await store.session_secrets(hit_day(raw, now) for raw in raw_hits)
        for index, raw in enumerate(raw_hits):
            try:
                hits[index] = parse_hit(
                    raw, namespace=namespace, no_sessions=no_sessions, now=now, secrets=secrets
                )
            except HitError as error:
                errors[str(index)] = [str(error)]
        counted = await self._count_into_counters(store, namespace, hits, errors, now)
        if counted:
            await store.log_hits(
                namespace, [hits[i].log_row() for i in counted], now=now, limits=self.log_limits
            )
        if errors:
            return 400, {"errors": dict(sorted(errors.items(), key=lambda item: int(item[0])))}
        return 202, {}

    async def _count_into_counters(
        self,
        store: Store,
        namespace: str,
        hits: dict[int, Hit],
        errors: dict[str, list[str]],
        now: int,
    ) -> list[int]:
        """One script per (counter, hour), pipelined; returns the indexes counted, in order."""
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for index, hit in hits.items():
            groups[(hit.key, hit.created_at - hit.created_at % 3_600_000)].append(index)
        batch = [(key, len(indexes), hour) for (key, hour), indexes in groups.items()]
        results = await store.count_batch(namespace, batch, now=now)
        counted: list[int] = []
        for (key, _), indexes, result in zip(groups, groups.values(), results, strict=True):
            if isinstance(result, OutOfBounds | Overflow):
                reason = (
                    "counter does not accept hits (update_upperbound below 1)"
                    if isinstance(result, OutOfBounds)
                    else "counter would overflow a signed 64-bit integer"
                )
                for index in indexes:
                    errors[str(index)] = [f"{namespace}/{key}: {reason}"]
                continue
            self.runtime.stats.count("keys_updated")
            if result.created:
                self.runtime.stats.count("keys_created")
            counted.extend(indexes)
        return sorted(counted)


def _replay(stored: str, body_digest: str) -> Response:
    if stored == "":
        raise ApiError(409, "a request with this Idempotency-Key is still being processed")
    answer = orjson.loads(stored)
    if answer["hash"] != body_digest:
        raise ApiError(422, "this Idempotency-Key was used with a different request body")
    return json_response(answer["body"], answer["status"], {"Idempotent-Replayed": "true"})
