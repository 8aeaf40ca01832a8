"""Requests and responses of ``/api/v0``: JSON bodies with limits, the error format, access.

Errors are ``{"error": "text"}`` or ``{"errors": {"field": ["text"]}}``, never both,
always JSON; ``ApiError`` carries either to the one exception handler.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from counter.engine.names import NAME_PATTERN, is_valid_name
from counter.engine.tokens import Token

TOKEN_STATE = "counter_token"


class ApiError(Exception):
    """An error response: ``message`` or per-field ``errors``, with its status."""

    def __init__(
        self, status: int, message: str | None = None, *, errors: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message or str(errors))
        self.status = status
        self.body: dict[str, Any] = {"errors": errors} if errors is not None else {"error": message}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status,
        {"Cache-Control": "no-store", **(headers or {})},
        media_type="application/json",
    )


async def read_body(request: Request, limit: int, media_types: tuple[str, ...]) -> bytes:
    """The raw body, refused with 413 past ``limit`` bytes and 415 for another media type."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if body.strip() and media_type not in media_types:
        raise ApiError(415, f"Content-Type must be {media_types[0]}")
    return body


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """A JSON object body; an empty body reads as ``{}``."""
    return parse_json(await read_body(request, limit, ("application/json",)))


def parse_json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, f"invalid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return value


def token_of(request: Request) -> Token:
    token = request.scope["state"][TOKEN_STATE]
    assert isinstance(token, Token)
    return token


def require(request: Request, permission: str, namespace: str | None = None) -> Token:
    """The request's token, refused with 403 without ``permission`` or the namespace."""
    token = token_of(request)
    if permission not in token.permissions:
        raise ApiError(403, f"this token lacks the {permission!r} permission")
    if namespace is not None and not token.allows_namespace(namespace):
        raise ApiError(403, f"this token may not use namespace {namespace!r}")
    return token


def namespace_for(request: Request, permission: str, requested: Any) -> str:
    """The namespace a request names, or the token's only one; checked against the token."""
    token = token_of(request)
    if requested is None or requested == "":
        requested = token.only_namespace
        if requested is None:
            raise ApiError(400, errors={"namespace": ["required: this token has several"]})
    if not isinstance(requested, str) or not is_valid_name(requested):
        raise ApiError(400, errors={"namespace": [f"must match {NAME_PATTERN}"]})
    require(request, permission, requested)
    return requested
