"""The GoatCounter part of ``/openapi.json``: ``/count``, count.js, the visitor counter and
the stats API (``/api/v0/sites``, ``/paths``, ``/stats/...``), in GoatCounter's shapes.

Merged into the document by ``counter.api.openapi.document``; kept apart so neither module
grows past the size limit. The shapes here are the ones ``counter/api/stats.py``,
``counter/web/goatcount.py`` and ``counter/web/vcounter.py`` write; schemathesis checks every
answer of the running server against them (``tests/api/test_openapi.py``).
"""

from __future__ import annotations

from typing import Any

from counter.api.openapi import (
    ERROR,
    NAME,
    Schema,
    _api,
    _json,
    _nullable,
    _obj,
    _path_param,
    _query,
)
from counter.api.stats import DETAIL_PAGES, PAGES

_INT: Schema = {"type": "integer"}
_STR: Schema = {"type": "string"}
_BOOL: Schema = {"type": "boolean"}
_BINARY: Schema = {"type": "string", "format": "binary"}

# ---- /count and count.js --------------------------------------------------------------------

_GIF_ONLY = {"image/gif": {"schema": _BINARY}}
_WHY = {"X-Goatcounter": {"description": "why the request was refused",
                          "schema": _STR}}  # fmt: skip
_COUNT_PARAMS = [
    {**_query("p", {"type": "string", "minLength": 1},
              "path (a pageview; tracking parameters dropped) or event name"),
     "required": True},
    _query("t", _STR, "title"),
    _query("r", _STR, "referrer"),
    _query("e", _STR, "event: true/false, 1/0, t/f, on/off"),
    _query("q", _STR, "the page's query: utm_source/ref/src/source and utm_campaign/campaign"),
    _query("s", _STR, "screen: width,height,scale (or a width)"),
    _query("b", _STR, "bot hint: 0, or 150 to 255"),
    _query("ns", _STR, "no session: every hit is a visit"),
    _query("rnd", _STR, "ignored (a cache buster)"),
]  # fmt: skip


def _count(namespaced: bool) -> dict[str, Any]:
    where = "the namespace in the path" if namespaced else "the Host's site (--site)"
    params = [_path_param("namespace"), *_COUNT_PARAMS] if namespaced else _COUNT_PARAMS
    operation = {
        "summary": f"count a pageview or event, GoatCounter's protocol ({where})",
        "tags": ["GoatCounter"],
        "parameters": params,
        "responses": {
            "200": {"description": "counted (or a prefetch, not counted): a 1x1 GIF",
                    "content": _GIF_ONLY},
            "400": {"description": "refused, nothing stored; X-Goatcounter says why",
                    "headers": _WHY, "content": _GIF_ONLY},
            "429": {"description": "this client's --count-limit is spent",
                    "headers": {**_WHY, "Retry-After": {"schema": _STR}},
                    "content": _GIF_ONLY},
            "503": {"description": "Redis unavailable", "headers": _WHY, "content": _GIF_ONLY},
        },
    }  # fmt: skip
    return {"get": operation, "post": operation}


_COUNT_JS = {
    "get": {
        "summary": "count.js: GoatCounter's script protocol (ETag, long cache)",
        "tags": ["GoatCounter"],
        "parameters": [{"name": "If-None-Match", "in": "header", "required": False,
                        "schema": _STR}],
        "responses": {
            "200": {"description": "the script",
                    "content": {"text/javascript": {"schema": _STR}}},
            "304": {"description": "unchanged (If-None-Match held the ETag)"},
        },
    }
}  # fmt: skip

# ---- the visitor counter --------------------------------------------------------------------

_COUNT_JSON = _obj({"count": _STR, "count_unique": _STR})
_RENDERED = {
    "application/json": {"schema": _COUNT_JSON},
    "image/svg+xml": {"schema": _STR},
    "text/html": {"schema": _STR},
    "image/png": {"schema": _BINARY},
}
_REST = _path_param("rest", {"type": "string", "examples": ["TOTAL.json", "blog.svg"]})
_REST["description"] = "PATH.EXT: EXT one of json, svg, html, png; PATH TOTAL = the whole site"
_COUNTER_PARAMS = [
    _query(
        "start",
        {"anyOf": [{"type": "string", "format": "date"}, {"enum": ["week", "month", "year"]}]},
        "YYYY-MM-DD, or week, month, year (default: all time)",
    ),
    _query("end", {"type": "string", "format": "date"}, "YYYY-MM-DD, inclusive (default: today)"),
    _query("no_branding", _STR, "any value: drop the 'counted by' line"),
    _query("style", {"type": "string", "maxLength": 2000}, "CSS for the SVG/HTML, without <"),
]


def _visitor_counter(namespaced: bool) -> dict[str, Any]:
    params = [_path_param("namespace"), _REST] if namespaced else [_REST]
    return {
        "get": {
            "summary": "the visitor counter of a path (visits), as JSON, SVG, HTML or PNG",
            "tags": ["GoatCounter"],
            "parameters": [*params, *_COUNTER_PARAMS],
            "responses": {
                "200": {"description": "the count (JSON: GoatCounter's, U+202F grouping)",
                        "content": _RENDERED},
                "404": {"description": "unknown path or site: still renders 0",
                        "content": _RENDERED},
                "400": _json(ERROR, "unknown extension, bad range or style, bad namespace"),
                "503": _json(ERROR, "Redis unavailable"),
            },
        }
    }  # fmt: skip


# ---- the stats API ----------------------------------------------------------------------------

_SITE = _obj({
    "id": _INT, "parent": {"type": "null"}, "code": NAME, "cname": _nullable(_STR),
    "cname_setup_at": {"type": "null"}, "link_domain": _STR,
    "settings": _obj({"public": _STR, "allow_counter": _BOOL, "data_retention": _INT,
                      "collect": _INT}),
    "received_data": _BOOL, "state": _STR, "created_at": _nullable(_STR),
    "updated_at": {"type": "null"}, "first_hit_at": _nullable(_STR),
})  # fmt: skip
_DAY = _obj({"day": {"type": "string", "format": "date"},
             "hourly": {"type": "array", "items": _INT, "minItems": 24, "maxItems": 24},
             "daily": _INT})  # fmt: skip
_HIT_STATS = _obj({
    "path_id": _INT, "path": _STR, "title": _STR, "event": _BOOL, "count": _INT, "max": _INT,
    "stats": {"type": "array", "items": _DAY},
})  # fmt: skip
_STAT = {**_obj({"id": _STR, "name": _STR, "count": _INT, "ref_scheme": _nullable(_STR)}),
         "required": ["id", "name", "count"]}  # fmt: skip
_DETAIL_STAT = {**_obj({"name": _STR, "count": _INT, "ref_scheme": _nullable(_STR)}),
                "required": ["name", "count"]}  # fmt: skip


def _list(name: str, item: Schema) -> Schema:
    return _obj({name: {"type": "array", "items": item}, "more": _BOOL})


_SITE_PARAM = _query(
    "site",
    {"type": "string", "examples": ["default"]},
    "the namespace (or its site id); required when the token reads several",
)
_MOMENT = {"anyOf": [{"type": "string", "format": "date-time"},
                     {"type": "string", "format": "date"}, _STR]}  # fmt: skip
_RANGE = [
    _SITE_PARAM,
    _query("start", _MOMENT, "RFC3339, YYYY-MM-DD HH:MM:SS or YYYY-MM-DD, UTC (default: end - 7d)"),
    _query("end", _MOMENT, "as start, exclusive, widened to the hour (default now)"),
]
_LIMIT = _query("limit", _INT, "clamped to 1-100 (default 20)")
_OFFSET = _query("offset", {"type": "integer", "minimum": 0})
_PATH_LIST = "path ids, comma-separated or repeated (paths with path_by_name)"
_PAGE_STATS = {"type": "string", "enum": list(PAGES)}
_DETAIL = {"type": "string", "enum": list(DETAIL_PAGES)}
_PARSE_BOOL = "Go's strconv.ParseBool: 1, t, T, true, True, TRUE, 0, f, ..."
_DAILY = _query("daily", {"type": "string", "examples": ["true"]}, _PARSE_BOOL)
_BY_NAME = _query("path_by_name", {"type": "string", "examples": ["false"]}, _PARSE_BOOL)

# Only referrers are kept per path: the other pages answer include_paths with a 400 saying so.
_PAGE_PATHS = [_query("include_paths", _STR, f"toprefs only: {_PATH_LIST}"), _BY_NAME]


def _stats(summary: str, body: Schema, params: list[Schema]) -> dict[str, Any]:
    return {"get": {**_api(summary, {"200": _json(body)}, parameters=params),
                    "tags": ["GoatCounter stats"]}}  # fmt: skip


def goatcounter_paths() -> dict[str, Any]:
    """The paths of issue 10's routes, public and under ``/api/v0``."""
    hits_params = [
        *_RANGE, _LIMIT, _DAILY,
        _query("include_paths", _STR, _PATH_LIST), _query("exclude_paths", _STR, _PATH_LIST),
        _BY_NAME,
    ]  # fmt: skip
    return {
        "/count": _count(False),
        "/site/{namespace}/count": _count(True),
        "/count.js": _COUNT_JS,
        "/counter/{rest}": _visitor_counter(False),
        "/site/{namespace}/counter/{rest}": _visitor_counter(True),
        "/api/v0/sites": _stats("the sites (namespaces) the token reads (site-read)",
                                _obj({"sites": {"type": "array", "items": _SITE}}), []),
        "/api/v0/sites/{id}": _stats("one site, by id or namespace (site-read)", _SITE,
                                     [_path_param("id", _STR)]),
        "/api/v0/paths": _stats("the site's paths in the order first seen (stats)",
            _list("paths", _obj({"id": _INT, "path": _STR, "title": _STR, "event": _BOOL})),
            [_SITE_PARAM, _query("limit", _INT, "clamped to 1-200 (default 20)"),
             _query("after", {"type": "integer", "minimum": 0}, "the last id of the page before")]),
        "/api/v0/stats/total": _stats("visits and event visits in the range (stats)",
            _obj({"total": _INT, "total_events": _INT, "total_utc": _INT}),
            [*_RANGE, _query("include_paths", _STR, _PATH_LIST), _BY_NAME]),
        "/api/v0/stats/hits": _stats("the top paths with hourly visits per day (stats)",
            {**_list("hits", _HIT_STATS), "properties": {
                "hits": {"type": "array", "items": _HIT_STATS}, "total": _INT, "more": _BOOL},
             "required": ["hits", "total", "more"]}, hits_params),
        "/api/v0/stats/hits/{path_id}": _stats("a path's referrers (stats)",
            _list("refs", _obj({"name": _STR, "count": _INT, "ref_scheme": _nullable(_STR)})),
            [_path_param("path_id", {"type": "integer", "minimum": 1}), *_RANGE, _LIMIT,
             _OFFSET]),
        "/api/v0/stats/{page}": _stats("a dimension page: browsers, systems, sizes, ... (stats)",
            _list("stats", _STAT),
            [_path_param("page", _PAGE_STATS), *_RANGE, _LIMIT, _OFFSET, *_PAGE_PATHS]),
        "/api/v0/stats/{page}/{id}": _stats("one entry's details: versions, widths, ... (stats)",
            _list("stats", _DETAIL_STAT),
            [_path_param("page", _DETAIL), _path_param("id", _STR), *_RANGE, _LIMIT, _OFFSET,
             *_PAGE_PATHS]),
    }  # fmt: skip
