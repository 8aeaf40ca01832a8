"""``GET /openapi.json``: the OpenAPI 3.1 document of every public and ``/api/v0`` route.

Kept beside the code as data built here; ``tests/api/test_openapi.py`` fails when the app
routes a path/method this document lacks (or documents one the app does not route), and
CI fuzzes the running server from it with schemathesis.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from counter.api.openapi_live import live_paths
from counter.engine.names import INT64_MAX, INT64_MIN, NAME_PATTERN
from counter.version import __version__

Schema = dict[str, Any]

INT64: Schema = {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX}
NAME: Schema = {"type": "string", "pattern": NAME_PATTERN}
_REF = "#/components/schemas/"
ERROR: Schema = {"$ref": f"{_REF}Error"}
API_ERROR: Schema = {"$ref": f"{_REF}ApiError"}
COUNTER: Schema = {"$ref": f"{_REF}Counter"}
EXPORT: Schema = {"$ref": f"{_REF}Export"}


def _obj(props: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {"type": "object", "properties": props, "required": required or list(props),
            "additionalProperties": False}  # fmt: skip


def _json(schema: Schema, description: str = "") -> dict[str, Any]:
    return {"description": description or "JSON",
            "content": {"application/json": {"schema": schema}}}  # fmt: skip


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


_GIF = {"image/gif": {"schema": {"type": "string", "format": "binary"}}}
_CALLBACK = {"name": "callback", "in": "query", "required": False,
             "description": "JSONP: answer `callback({...body, status})` with status 200",
             "schema": {"type": "string"}}  # fmt: skip
_IMG = {"name": "img", "in": "query", "required": False, "allowEmptyValue": True,
        "description": "answer a transparent 1x1 GIF (the status still tells the outcome)",
        "schema": {"type": "string"}}  # fmt: skip


def _countapi(summary: str, fields: dict[str, Schema], extra: list[Schema]) -> dict[str, Any]:
    """A CountAPI route: JSON, JSONP or GIF; refusals carry the route's fields (or null)."""
    body = _obj(fields)
    refused = _obj({name: _nullable(schema) for name, schema in fields.items()})
    error_or_gif = {"content": {"application/json": {"schema": ERROR}, **_GIF}}
    return {
        "summary": summary,
        "tags": ["CountAPI"],
        "parameters": [*extra, _CALLBACK, _IMG],
        "responses": {
            "200": {"description": "done", "content": {
                "application/json": {"schema": body},
                "application/javascript": {"schema": {"type": "string"}}, **_GIF}},
            "400": {"description": "invalid name, number or callback", **error_or_gif},
            "403": {"description": "out of bounds, overflow, reset disabled",
                    "content": {"application/json": {"schema": refused}, **_GIF}},
            "404": {"description": "no such counter",
                    "content": {"application/json": {"schema": refused}, **_GIF}},
            "409": {"description": "the counter exists",
                    "content": {"application/json": {"schema": refused}, **_GIF}},
            "429": {"description": "per-IP limit (when configured)", **error_or_gif},
            "503": {"description": "Redis unavailable", **error_or_gif},
        },
    }  # fmt: skip


def _path_param(name: str, schema: Schema | None = None) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema or NAME}


def _query(name: str, schema: Schema, description: str = "") -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


_VALUE = {"value": INT64}
_COUNTAPI_OPS: dict[str, tuple[str, dict[str, Schema], list[Schema]]] = {
    "get": ("read a counter", _VALUE, []),
    "hit": ("add 1, creating the counter", _VALUE, []),
    "update": ("add `amount`", _VALUE, [{**_query("amount", INT64), "required": True}]),
    "set": ("set the value (when enable_reset)", {"old_value": INT64, "value": INT64},
            [{**_query("value", INT64), "required": True}]),
    "info": ("a counter and its options", {
        "namespace": NAME, "key": NAME, "ttl": {"type": "integer"},
        "created": {"type": "integer"}, "update_lowerbound": INT64,
        "update_upperbound": INT64, "enable_reset": {"type": "boolean"}, "value": INT64}, []),
}  # fmt: skip


def _api(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An ``/api/v0`` operation: bearer token, and the API's error format for any failure."""
    return {"summary": summary, "tags": ["api/v0"], "security": [{"token": []}],
            "responses": {**responses, "default": _json(API_ERROR, "error")}, **extra}  # fmt: skip


def _body(schema: Schema, media_type: str = "application/json") -> dict[str, Any]:
    return {"required": True, "content": {media_type: {"schema": schema}}}


_NS, _KEY = _path_param("namespace"), _path_param("key")
_EXPORT_ID = _path_param("export_id", {"type": "integer", "minimum": 0})
_NDJSON = {"type": "string", "description": "JSON lines, one counter per line"}
_HIT = {"type": "object", "description": "a pageview or event (GoatCounter's fields)",
        "properties": {name: {"type": "string"} for name in (
            "path", "title", "ref", "query", "user_agent", "session", "language", "size",
            "location", "ip", "created_at")} | {"event": {"type": "boolean"},
                                                "bot": {"type": "integer"}}}  # fmt: skip
_STATUS = {"type": "object", "properties": {"status": {"type": "string"},
           "reason": {"type": "string"}}, "required": ["status"]}  # fmt: skip
_COUNTER_FIELDS: dict[str, Schema] = {
    "namespace": NAME, "key": NAME, "value": INT64, "created": {"type": "integer"},
    "ttl": {"type": "integer"}, "enable_reset": {"type": "boolean"},
    "update_lowerbound": INT64, "update_upperbound": INT64}  # fmt: skip
_HISTORY = {"type": "object", "additionalProperties": {"type": "integer"}}
_COMPONENTS = {
    "securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                  "description": "`counter token create`"}},
    "schemas": {
        "Error": _obj({"error": {"type": "string"}}),
        "ApiError": {"anyOf": [ERROR, _obj({"errors": {"type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}}}})]},
        "Counter": _obj(_COUNTER_FIELDS),
        "CounterWithOldValue": _obj({**_COUNTER_FIELDS, "old_value": _nullable(INT64)}),
        "CounterWithHistory": _obj({**_COUNTER_FIELDS, "daily": _HISTORY, "hourly": _HISTORY}),
        "Export": _obj({
            "id": {"type": "integer"}, "namespace": NAME, "start_from_hit_id": {"type": "integer"},
            "last_hit_id": {"type": "integer"}, "created_at": {"type": "string"},
            "finished_at": _nullable({"type": "string"}), "num_rows": {"type": "integer"},
            "size": _nullable({"type": "integer"}), "hash": _nullable({"type": "string"}),
            "state": {"enum": ["running", "finished", "failed"]},
            "failure": _nullable({"type": "string"})}),
    },
}  # fmt: skip
_COUNTER_OLD = {"$ref": f"{_REF}CounterWithOldValue"}
_PUT = {"type": "object", "properties": {"value": INT64, "enable_reset": {"type": "boolean"},
        "update_lowerbound": {**INT64, "maximum": 0}, "update_upperbound": {**INT64, "minimum": 0}},
        "required": ["value"], "additionalProperties": False}  # fmt: skip


def _api_paths() -> dict[str, Any]:
    one = "/api/v0/counters/{namespace}/{key}"
    return {
        "/api/v0/me": {"get": _api("the token's name, permissions, namespaces", {"200": _json(
            _obj({"name": {"type": "string"}, "permissions": {"type": "array"},
                  "namespaces": {"type": "array"}, "created": {"type": "integer"}}))})},
        "/api/v0/count": {"post": _api("count pageviews and events (permission count)",
            {"202": _json({"type": "object", "maxProperties": 0}, "counted")},
            parameters=[{"name": "Idempotency-Key", "in": "header", "required": False,
                         "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
            requestBody=_body({"type": "object", "properties": {
                "namespace": NAME, "no_sessions": {"type": "boolean"},
                "hits": {"type": "array", "items": _HIT, "minItems": 1, "maxItems": 500}},
                "required": ["hits"]}))},
        "/api/v0/export": {"post": _api("start an export of the hit log (permission export)",
            {"202": _json(EXPORT, "started")}, requestBody={"required": False, "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "namespace": NAME, "start_from_hit_id": {"type": "integer", "minimum": 0}},
                    "additionalProperties": False}}}})},
        "/api/v0/export/{export_id}": {"get": _api("an export's state",
            {"200": _json(EXPORT)}, parameters=[_EXPORT_ID])},
        "/api/v0/export/{export_id}/download": {"get": _api("the finished export (gzip CSV)", {
            "200": {"description": "GoatCounter CSV v2, gzip", "content": {
                "application/gzip": {"schema": {"type": "string", "format": "binary"}}}},
            "202": _json(EXPORT, "still running")}, parameters=[_EXPORT_ID])},
        "/api/v0/counters": {"get": _api("a page of a namespace's counters (permission read)",
            {"200": _json(_obj({"namespace": NAME, "counters": {"type": "array", "items": COUNTER},
                                "more": {"type": "boolean"}}))},
            parameters=[_query("namespace", NAME, "required when the token has several"),
                        _query("after", {"type": "string"}, "the last key of the previous page"),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 500})])},
        one: {
            "get": _api("a counter with its daily and hourly history (read)", {"200": _json(
                {"$ref": f"{_REF}CounterWithHistory"})}, parameters=[_NS, _KEY]),
            "put": _api("set a counter, creating it (manage)", {"200": _json(_COUNTER_OLD),
                        "201": _json(_COUNTER_OLD, "created")}, parameters=[_NS, _KEY],
                        requestBody=_body(_PUT)),
            "delete": _api("delete a counter and its history (manage)",
                           {"204": {"description": "deleted"}}, parameters=[_NS, _KEY]),
        },
        f"{one}/reset": {"post": _api("set a counter back to 0 (manage)",
            {"200": _json(_COUNTER_OLD)}, parameters=[_NS, _KEY])},
        "/api/v0/snapshot/{namespace}": {
            "get": _api("every counter as JSON lines (read)", {"200": {"description": "JSONL",
                "content": {"application/x-ndjson": {"schema": _NDJSON}}}}, parameters=[_NS]),
            "post": _api("restore a snapshot: all lines or none (manage)", {"200": _json(
                _obj({"namespace": NAME, "imported": {"type": "integer"}}))},
                parameters=[_NS], requestBody=_body(_NDJSON, "application/x-ndjson")),
        },
    }  # fmt: skip


def _public_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for name, (summary, fields, extra) in _COUNTAPI_OPS.items():
        paths[f"/{name}/{{key}}"] = {"get": _countapi(f"{summary} (namespace default)", fields,
                                                      [_KEY, *extra])}  # fmt: skip
        paths[f"/{name}/{{namespace}}/{{key}}"] = {
            "get": _countapi(summary, fields, [_NS, _KEY, *extra])
        }
    create_params = [
        _query("namespace", NAME),
        _query("key", NAME),
        _query("value", INT64),
        _query("enable_reset", {"type": "string", "enum": ["0", "1", "true", "false"]}),
        _query("update_lowerbound", INT64),
        _query("update_upperbound", INT64),
    ]
    paths["/create"] = {
        "get": _countapi(
            "create a counter", {"namespace": NAME, "key": NAME, "value": INT64}, create_params
        )
    }
    paths["/stats"] = {
        "get": {
            **_countapi("service totals", {}, []),
            "responses": {
                "200": {
                    "description": "totals",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"version": {"type": "string"}},
                                "additionalProperties": {"type": ["integer", "string"]},
                            }
                        },
                        "application/javascript": {"schema": {"type": "string"}},
                        **_GIF,
                    },
                },
                "400": {
                    "description": "bad callback",
                    "content": {"application/json": {"schema": ERROR}, **_GIF},
                },
                "503": {
                    "description": "Redis unavailable",
                    "content": {"application/json": {"schema": ERROR}, **_GIF},
                },
            },
        }
    }
    probe = {"200": _json(_STATUS, "ok"), "503": _json(_STATUS, "not ready")}
    paths["/healthz"] = {
        "get": {"summary": "liveness: Redis answers", "tags": ["operations"], "responses": probe}
    }
    paths["/readyz"] = {
        "get": {
            "summary": "readiness: Redis answers and holds the scripts",
            "tags": ["operations"],
            "responses": probe,
        }
    }
    paths["/metrics"] = {
        "get": {
            "summary": "Prometheus text format (with --metrics)",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "metrics",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "404": _json(ERROR, "metrics are off, or on their own port"),
            },
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "summary": "this document",
            "tags": ["operations"],
            "responses": {"200": _json({"type": "object"})},
        }
    }
    paths["/dashboard"] = {
        "get": {
            "summary": "the dashboard (redirects to /dashboard/)",
            "tags": ["dashboard"],
            "responses": {"307": {"description": "to /dashboard/"}},
        }
    }
    paths["/dashboard/{path}"] = {
        "get": {
            "summary": "the dashboard's static files",
            "tags": ["dashboard"],
            "parameters": [_path_param("path", {"type": "string"})],
            "responses": {
                "200": {
                    "description": "a file",
                    "content": {
                        "text/html": {},
                        "text/css": {},
                        "text/javascript": {},
                        "text/plain": {},
                    },
                },
                "404": _json(ERROR, "no such file"),
                "405": _json(ERROR, "not a GET"),
            },
        }
    }
    return paths  # fmt: skip


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (paths relative to where the app is mounted)."""
    # Imported here: that module builds on this one's helpers.
    from counter.api.openapi_goatcounter import goatcounter_paths

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "counter",
            "version": __version__,
            "description": "A CountAPI-compatible counting service with a GoatCounter-style "
            '/api/v0. Errors are JSON: {"error": text} or {"errors": {field: [text]}}.',
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "paths": {**_public_paths(), **live_paths(), **_api_paths(), **goatcounter_paths()},
        "components": _COMPONENTS,
    }


@cache
def _document_bytes() -> bytes:
    return orjson.dumps(document())


async def openapi_json(request: Request) -> Response:
    """``GET /openapi.json``, with the server URL the request came in on (mounts included)."""
    root = request.scope.get("root_path", "")
    body = _document_bytes()
    if root:  # mounted under a host app: say where the paths start
        servers = orjson.dumps([{"url": root}])
        body = body[:-1] + b',"servers":' + servers + b"}"
    return Response(body, 200, {"Cache-Control": "no-cache"}, media_type="application/json")
