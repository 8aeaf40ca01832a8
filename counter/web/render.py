"""Response bodies for the CountAPI routes: JSON, JSONP (``?callback=``) or a GIF (``?img``)."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.responses import Response

from counter.errors import InvalidInput

TRANSPARENT_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
# A dotted JavaScript identifier path: enough for jQuery-style callbacks, no room for script.
_CALLBACK = re.compile(r"[A-Za-z_$][\w$]{0,63}(?:\.[A-Za-z_$][\w$]{0,63}){0,7}")
_NO_STORE = "no-store"


def check_callback(query: QueryParams) -> None:
    """Reject an unsafe JSONP callback name before the operation runs."""
    callback = query.get("callback")
    if callback is not None and _CALLBACK.fullmatch(callback) is None:
        raise InvalidInput("callback must be a JavaScript identifier (letters, digits, _ $ .)")


def render(query: QueryParams, status: int, body: Mapping[str, Any], path: str | None) -> Response:
    """Answer in the form the request asked for."""
    headers = {"Cache-Control": _NO_STORE}
    if path is not None:
        headers["X-Path"] = path
    if "img" in query:
        return Response(TRANSPARENT_GIF, status, headers, media_type="image/gif")
    callback = query.get("callback")
    if callback is not None and _CALLBACK.fullmatch(callback) is not None:
        # JSONP callers cannot read the HTTP status, so it travels inside the body.
        payload = orjson.dumps({**body, "status": status})
        script = b"%s(%s);" % (callback.encode(), payload)
        return Response(script, 200, headers, media_type="application/javascript")
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def raw_json(
    status: int, body: Mapping[str, Any], path: str | None
) -> tuple[bytes, list[tuple[str, str]]]:
    """``render``'s JSON answer as raw parts (payload, headers as text), for the hot path.

    Same headers in the same order as the Response ``render`` builds; a test compares the
    two byte for byte. Text, because the default interface (RSGI) takes text; the ASGI hot
    path encodes them. Every value is ASCII: names are validated before they get here.
    """
    payload = orjson.dumps(body)
    headers = [("cache-control", _NO_STORE)]
    if path is not None:
        headers.append(("x-path", path))
    headers.append(("content-length", str(len(payload))))
    headers.append(("content-type", "application/json"))
    return payload, headers
