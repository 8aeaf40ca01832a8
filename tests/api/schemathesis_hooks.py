"""Loaded by schemathesis (``SCHEMATHESIS_HOOKS``) in the fuzzing test: it has no built-in
serializer for JSON lines, the body of ``POST /api/v0/snapshot/{namespace}``."""

from __future__ import annotations

from typing import Any

import orjson
import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: schemathesis.SerializationContext, value: Any) -> dict[str, Any]:
    if isinstance(value, bytes):
        return {"data": value}
    if isinstance(value, str):
        return {"data": value.encode()}
    return {"data": orjson.dumps(value) + b"\n"}  # one line: whatever was generated
