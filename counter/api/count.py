"""``POST /api/v0/count``: a batch of GoatCounter hits, validated, then stored by the same
``web.ingest.Ingest`` as ``/count`` (counters, the namespace's hit log, its statistics),
with ``Idempotency-Key`` retries answered from the first answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from counter.api.io import ApiError, json_response, namespace_for, parse_json, read_body, require
from counter.engine.hits import Hit, HitError, hit_day, parse_hit
from counter.engine.sitehits import language_of
from counter.runtime import Runtime
from counter.web.ingest import Ingest

MAX_HITS = 500
IDEMPOTENCY_KEEP_MS = 86_400_000
IDEMPOTENCY_CLAIM_MS = 60_000  # a request that died mid-batch blocks retries this long
_BODY_FIELDS = frozenset({"namespace", "no_sessions", "hits", "filter"})


class CountRoute:
    def __init__(self, runtime: Runtime, clock: Callable[[], int], ingest: Ingest) -> None:
        self.runtime = runtime
        self.clock = clock
        self.body_limit = runtime.settings.api_max_body_bytes
        self.ingest = ingest

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
        languages: dict[int, str] = {}
        store = await self.runtime.store()
        secrets = await store.session_secrets(hit_day(raw, now) for raw in raw_hits)
        for index, raw_hit in enumerate(raw_hits):
            if isinstance(raw_hit, dict) and not raw_hit.get("location") and raw_hit.get("ip"):
                # GoatCounter: the location comes from the IP when the hit names none.
                found = self.ingest.geoip.location(str(raw_hit["ip"]))
                raw_hit = {**raw_hit, "location": found} if found else raw_hit
            try:
                hit = parse_hit(
                    raw_hit, namespace=namespace, no_sessions=no_sessions, now=now, secrets=secrets
                )
            except HitError as error:
                errors[str(index)] = [str(error)]
                continue
            hits[index] = hit
            languages[index] = language_of(raw_hit.get("language") or "")
        await self.ingest.record(namespace, hits, errors, now=now, languages=languages)
        if errors:
            return 400, {"errors": dict(sorted(errors.items(), key=lambda item: int(item[0])))}
        return 202, {}


def _replay(stored: str, body_digest: str) -> Response:
    if stored == "":
        raise ApiError(409, "a request with this Idempotency-Key is still being processed")
    answer = orjson.loads(stored)
    if answer["hash"] != body_digest:
        raise ApiError(422, "this Idempotency-Key was used with a different request body")
    return json_response(answer["body"], answer["status"], {"Idempotent-Replayed": "true"})
