"""The OpenAPI entries of the badge, stream and ``/live.js`` routes (``counter.web``).

Kept apart from ``openapi.py`` (which merges them) so each stays a readable size.
"""

from __future__ import annotations

from typing import Any

from counter.engine.names import NAME_PATTERN

Schema = dict[str, Any]

_NAME: Schema = {"type": "string", "pattern": NAME_PATTERN}
_ERROR: Schema = {"$ref": "#/components/schemas/Error"}
_SVG = {"image/svg+xml": {"schema": {"type": "string"}}}
_STYLES = [
    "flat", "flat-square", "plastic", "for-the-badge",
    "flat-simple", "flat-square-simple", "plastic-simple", "for-the-badge-simple",
]  # fmt: skip


def _param(name: str, where: str = "path", schema: Schema | None = None) -> Schema:
    return {"name": name, "in": where, "required": where == "path", "schema": schema or _NAME}


def _text(description: str) -> Schema:
    return {"name": description, "in": "query", "required": False, "schema": {"type": "string"}}


_OPTIONS = [
    _text("label"), _text("text"), _text("color"), _text("bgcolor"), _text("labelColor"),
    _text("textcolor"), _text("logo"),
    _param("style", "query", {"type": "string", "enum": _STYLES}),
    _param("format", "query", {"type": "string", "enum": ["plain", "comma", "short"]}),
]  # fmt: skip


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _badge(summary: str, names: list[Schema], *, counts: bool) -> Schema:
    responses: Schema = {
        "200": {"description": "the badge", "content": _SVG},
        "400": _json(_ERROR, "invalid name or option (nothing counted)"),
        "404": {"description": "no such counter: a grey 'not found' badge", "content": _SVG},
        "503": _json(_ERROR, "Redis unavailable"),
    }
    if counts:
        responses["403"] = {"description": "out of bounds: the unchanged value", "content": _SVG}
    else:
        responses["304"] = {"description": "If-None-Match matched the ETag"}
    return {"get": {"summary": summary, "tags": ["badges"], "parameters": [*names, *_OPTIONS],
                    "responses": responses}}  # fmt: skip


_ENDPOINT: Schema = {
    "type": "object",
    "properties": {"schemaVersion": {"const": 1}, "label": {"type": "string"},
                   "message": {"type": "string"}, "color": {"type": "string"},
                   "labelColor": {"type": "string"}},
    "required": ["schemaVersion", "label", "message", "color", "labelColor"],
    "additionalProperties": False,
}  # fmt: skip


def _endpoint(names: list[Schema]) -> Schema:
    return {"get": {
        "summary": "shields.io endpoint-badge JSON", "tags": ["badges"],
        "parameters": [*names, *_OPTIONS],
        "responses": {
            "200": _json(_ENDPOINT, "the badge as shields.io's endpoint schema"),
            "304": {"description": "If-None-Match matched the ETag"},
            "400": _json(_ERROR, "invalid name or option"),
            "404": _json(_ENDPOINT, "no such counter ('not found')"),
            "503": _json(_ERROR, "Redis unavailable"),
        },
    }}  # fmt: skip


def _stream(names: list[Schema]) -> Schema:
    return {"get": {
        "summary": "Server-Sent Events: the value now, then on every change (never ends)",
        "tags": ["live"],
        "parameters": [*names, _param("Last-Event-ID", "header", {"type": "string"})],
        "responses": {
            "200": {"description": "text/event-stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            "400": _json(_ERROR, "invalid name"),
            "429": _json(_ERROR, "too many open streams (per IP or per process)"),
            "503": _json(_ERROR, "live updates off, or Redis unavailable"),
        },
    }}  # fmt: skip


def live_paths() -> dict[str, Any]:
    key, ns = _param("key"), _param("namespace")
    paths: dict[str, Any] = {}
    for pattern, names in (("/{key}", [key]), ("/{namespace}/{key}", [ns, key])):
        paths[f"/hit{pattern}/shield"] = _badge("count, then draw the badge", names, counts=True)
        paths[f"/get{pattern}/shield"] = _badge("draw the badge", names, counts=False)
        paths[f"/badge{pattern}.svg"] = _badge("draw the badge", names, counts=False)
        paths[f"/get{pattern}/shield.json"] = _endpoint(names)
        paths[f"/stream{pattern}"] = _stream(names)
    paths["/live.js"] = {"get": {
        "summary": "the page script that shows counters live", "tags": ["live"],
        "responses": {"200": {"description": "JavaScript",
                              "content": {"application/javascript": {
                                  "schema": {"type": "string"}}}}},
    }}  # fmt: skip
    return paths
