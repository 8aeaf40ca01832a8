"""The RSGI front (`counter serve`'s default granian interface) answers as the ASGI app does.

Every request here goes through a real `counter serve`: granian's RSGI interface next to
`--server granian-asgi` on the same Redis, compared header by header.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from counter.web.rsgi import _address
from tests.servers import RedisProcess, ServeProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def servers(
    embedded_redis: RedisProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServeProcess]]:
    """One server per interface, one Redis and one prefix for both."""
    prefix = "test:rsgi:"
    env = {"COUNTER_REDIS_URL": embedded_redis.url, "COUNTER_PREFIX": prefix}
    started = {}
    try:
        for name in ("granian", "granian-asgi"):
            args = ["--server", name, "--workers", "1"]
            started[name] = ServeProcess(args, env, tmp_path_factory.mktemp(name)).start()
        yield started
    finally:
        for process in started.values():
            process.stop()
        leftover = embedded_redis.command("KEYS", f"{prefix}*")
        assert isinstance(leftover, list)
        if leftover:
            embedded_redis.command("DEL", *leftover)


def answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    # granian's own: the date, and the ASGI interface closes the connection after a HEAD
    # whose app sent a body (RSGI keeps it open).
    headers = [
        (k, "(counts down)" if k in _COUNTDOWN else v)
        for k, v in response.headers.multi_items()
        if k not in _SERVERS_OWN
    ]
    return response.status_code, headers, response.content


_SERVERS_OWN = frozenset({"date", "connection"})
# Both servers charge the same client's /api/v0 budget: what is left differs by design.
_COUNTDOWN = frozenset({"x-rate-limit-remaining", "x-rate-limit-reset"})

READS = [
    ("GET", "/get/rsgi-ns/missing", {}),  # 404 from the hot path
    ("GET", "/get/x", {}),  # malformed name: 400 from the hot path
    ("GET", "/get/:HOST:/page", {"Origin": "https://example.org"}),
    ("GET", "/get/rsgi-ns/missing?callback=cb", {}),  # JSONP: the router, through the bridge
    ("GET", "/get/rsgi-ns/missing?img", {}),  # the pixel
    ("GET", "/nope", {}),
    ("HEAD", "/hit/rsgi-ns/page", {}),  # 405 with Allow, nothing counted
    ("OPTIONS", "/hit/rsgi-ns/page", {"Access-Control-Request-Method": "GET"}),
    ("GET", "/healthz", {}),
    ("GET", "/get/rsgi-ns/page/shield", {}),  # a badge: the router, not the hot path
    ("GET", "/api/v0/me", {}),  # 401 in /api/v0's error format
    ("POST", "/api/v0/count", {"Content-Type": "application/json"}),
]


@pytest.mark.parametrize(("method", "path", "headers"), READS)
def test_reads_are_identical_on_both_interfaces(
    servers: dict[str, ServeProcess], method: str, path: str, headers: dict[str, str]
) -> None:
    rsgi, asgi = (
        httpx.request(method, servers[name].base_url + path, headers=headers, content=b"{}")
        for name in ("granian", "granian-asgi")
    )
    assert answer(rsgi) == answer(asgi)


def test_hits_count_once_with_the_same_headers(servers: dict[str, ServeProcess]) -> None:
    first = httpx.get(servers["granian"].base_url + "/hit/rsgi-ns/hits")
    second = httpx.get(servers["granian-asgi"].base_url + "/hit/rsgi-ns/hits")
    assert (first.json(), second.json()) == ({"value": 1}, {"value": 2})
    assert answer(first)[:2] == answer(second)[:2]
    assert first.headers["access-control-allow-origin"] == "*"
    assert first.headers["x-path"] == "rsgi-ns/hits"


def test_a_streamed_request_body_reaches_the_app(
    servers: dict[str, ServeProcess], embedded_redis: RedisProcess, tmp_path: Path
) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "counter.cli", "token", "create", "--redis-url",
         embedded_redis.url, "--prefix", "test:rsgi:", "--name", "rsgi", "--perm", "count",
         "--namespace", "rsgi-site"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    token = created.stdout.splitlines()[-1]
    hits = [
        {"path": f"/page-{index % 7}"} for index in range(500)
    ]  # the most one request may carry
    body = orjson.dumps({"namespace": "rsgi-site", "no_sessions": True, "hits": hits})

    def chunks() -> Iterator[bytes]:  # sent in pieces, so granian hands over several chunks
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    response = httpx.post(
        servers["granian"].base_url + "/api/v0/count",
        content=chunks(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    values = [
        httpx.get(f"{servers['granian'].base_url}/get/rsgi-site/page-{index}").json()["value"]
        for index in range(7)
    ]
    assert sum(values) == 500


def test_redis_gone_is_a_503_with_retry_after_on_the_hot_path(tmp_path: Path) -> None:
    redis = RedisProcess(tmp_path / "redis").start()
    env = {"COUNTER_REDIS_URL": redis.url, "COUNTER_PREFIX": "test:rsgi-down:"}
    server = ServeProcess(["--workers", "1"], env, tmp_path).start()
    try:
        assert httpx.get(f"{server.base_url}/hit/down-ns/page").json() == {"value": 1}
        redis.stop()
        for path in ("/hit/down-ns/page", "/get/down-ns/page", "/get/down-ns/page?callback=cb"):
            response = httpx.get(server.base_url + path, timeout=15)
            assert response.headers["access-control-allow-origin"] == "*", path
            if "callback" in path:  # JSONP answers 200 and carries the status in the body
                assert response.json is not None and '"status":503' in response.text
                continue
            assert response.status_code == 503, path
            assert response.headers["retry-after"] == "1", path
    finally:
        code, output = server.stop(signal.SIGTERM)
    assert code == 0, output


def test_a_rate_limit_in_front_sees_hot_requests_too(
    embedded_redis: RedisProcess, tmp_path: Path, prefix: str
) -> None:
    env = {
        "COUNTER_REDIS_URL": embedded_redis.url,
        "COUNTER_PREFIX": prefix,
        "COUNTER_PUBLIC_IP_LIMIT": "3",
        "COUNTER_TRUSTED_PROXIES": "127.0.0.1/32",  # so the forwarded address is charged
    }
    server = ServeProcess(["--workers", "1"], env, tmp_path).start()
    try:
        statuses = [
            httpx.get(
                f"{server.base_url}/hit/limited-ns/page",
                headers={"X-Forwarded-For": "203.0.113.7"},
            ).status_code
            for _ in range(5)
        ]
    finally:
        server.stop()
    assert statuses == [200, 200, 200, 429, 429]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("[::1]:443", ("::1", 443)),
        ("", None),
        ("unix-socket", None),
    ],
)
def test_addresses_become_asgi_pairs(text: str, address: tuple[str, int] | None) -> None:
    assert _address(text) == address
