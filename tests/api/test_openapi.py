"""``GET /openapi.json``: it documents every route the app has (and no other), and the
running server, fuzzed from it by schemathesis, never answers 5xx or off the document."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route

from counter import Settings, create_app
from counter.api.openapi import document
from tests.apikit import api_client
from tests.servers import RedisProcess, ServeProcess

ROOT = Path(__file__).resolve().parent.parent.parent
_METHODS = {"get", "put", "post", "delete", "patch", "options", "head"}


def routed(routes: list[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(path template, METHOD) of every route, mounts walked; HEAD rides along with GET."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Route):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", prefix + route.path)
            found |= {(path, method) for method in route.methods or () if method != "HEAD"}
        elif isinstance(route, Mount):
            children = route.routes
            if children:
                found |= routed(children, prefix + route.path)
            else:  # an app without routes (static files): any path below, and the redirect
                found |= {(prefix + route.path, "GET"), (prefix + route.path + "/{path}", "GET")}
        else:
            raise AssertionError(f"a route of a kind this test cannot read: {route!r}")
    return found


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in doc["paths"].items()
        for method in item
        if method in _METHODS
    }


def test_every_route_is_documented_and_nothing_else() -> None:
    # Metrics on: /metrics is a route then. Nothing connects: routes are built eagerly.
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0", metrics=True))
    in_app, in_doc = routed(app.routes), documented(document())
    assert not in_app - in_doc, f"routes missing from the OpenAPI document: {in_app - in_doc}"
    assert not in_doc - in_app, f"documented routes the app lacks: {in_doc - in_app}"


async def test_served_document_is_openapi_3_1(settings: Settings) -> None:
    async with api_client(settings) as http:
        response = await http.get("/openapi.json")
    assert response.status_code == 200
    served = response.json()
    assert served["openapi"] == "3.1.0" and served == document()
    for path, item in served["paths"].items():
        for method, operation in item.items():
            assert operation["responses"], f"{method} {path} documents no response"
            names = set(re.findall(r"\{(\w+)\}", path))
            params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == params, f"{method} {path}: path parameters {names} vs {params}"


def seed_statistics(base_url: str) -> None:
    """Visits in the default site (the document's example ``site``), so the stats routes
    answer with paths, days, referrers and browsers rather than empty lists."""
    chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    for n, path in enumerate(["/", "/blog", "/blog?utm_source=news", "/docs"]):
        agent = chrome + f"Chrome/12{n}.0.0.0 Safari/537.36"
        sent = httpx.get(f"{base_url}/count", params={"p": path, "r": "https://example.org/a",
                         "s": "1280,800,1", "t": path}, headers={"User-Agent": agent})  # fmt: skip
        assert sent.status_code == 200, sent.headers
    agent = chrome + "Chrome/130.0.0.0 Safari/537.36"
    event = httpx.get(f"{base_url}/count", params={"p": "signup", "e": "1"},
                      headers={"User-Agent": agent})  # fmt: skip
    assert event.status_code == 200, event.headers


@pytest.mark.slow
def test_schemathesis_finds_no_5xx_and_no_answer_off_the_document(tmp_path: Path) -> None:
    """A bounded, stateless run against a real server on a Redis of its own."""
    redis = RedisProcess(tmp_path / "redis").start()
    where = ["--redis-url", redis.url]
    unlimited = {"COUNTER_API_LIMIT": "1000000000", "COUNTER_API_COUNT_LIMIT": "1000000000"}
    server = ServeProcess([*where, "--workers", "1", "--metrics"], unlimited, tmp_path).start()
    try:
        created = subprocess.run(
            [sys.executable, "-m", "counter.cli", "token", "create", "--name", "fuzz",
             "--perm", "count,export,read,manage,stats,site-read", "--namespace", "*", *where],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        secret = created.stdout.splitlines()[-1]
        assert httpx.get(f"{server.base_url}/openapi.json").status_code == 200
        seed_statistics(server.base_url)
        run = subprocess.run(
            [str(Path(sys.executable).with_name("st")), "run", f"{server.base_url}/openapi.json",
             "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
             "response_schema_conformance",
             "--phases", "examples,coverage,fuzzing", "--max-examples", "15", "--seed", "14",
             "--no-shrink", "--workers", "1", "--request-timeout", "10",
             "--exclude-path-regex", "^/stream/",  # an event stream never ends
             "--header", f"Authorization: Bearer {secret}"],
            capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks"},
        )  # fmt: skip
    finally:
        server.stop()
        redis.stop()
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
