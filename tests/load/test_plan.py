"""What `counter load` sends: requests, key choice, the split across processes."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from counter.errors import ConfigError
from counter.load import LoadPlan, Route
from counter.load.keys import KeyChooser


def test_countapi_requests() -> None:
    route = Route(LoadPlan("http://h:8080/prefix/", route="update?amount=5", namespace="ns"))
    assert route.increment == 5
    assert route.request([42]) == (
        b"GET /prefix/update/ns/key42?amount=5 HTTP/1.1\r\nHost: h:8080\r\n"
        b"User-Agent: counter-load\r\n\r\n"
    )
    single = Route(LoadPlan("http://h", key="hot", headers=(("X-A", "1"),)))
    assert single.request([1]).startswith(b"GET /hit/load/hot HTTP/1.1\r\nHost: h\r\n")
    assert b"X-A: 1\r\n" in single.request([1])
    assert single.read_back("hot").startswith(b"GET /get/load/hot HTTP/1.1\r\n")
    assert Route(LoadPlan("http://h", route="get")).increment == 0
    assert Route(LoadPlan("http://h", route="set?value=1")).increment is None


def test_batch_and_pixel_requests() -> None:
    batch = Route(LoadPlan("http://h", batch=3, token="T", namespace="site"))
    head, _, body = batch.request([1, 2, 2]).partition(b"\r\n\r\n")
    assert head.startswith(b"POST /api/v0/count HTTP/1.1\r\n")
    assert b"Authorization: Bearer T" in head and f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body) == {
        "namespace": "site",
        "no_sessions": True,
        "hits": [{"path": "/key1"}, {"path": "/key2"}, {"path": "/key2"}],
    }
    pixel = Route(LoadPlan("http://h", route="count", count_path="/site/x/count"))
    line = pixel.request([7]).split(b"\r\n")[0].decode()
    assert line.startswith("GET /site/x/count?p=%2Fkey7&rnd=0.") and line.endswith(" HTTP/1.1")
    assert b"User-Agent: Mozilla/5.0" in pixel.request([7])  # bots are not counted


def test_zipf_makes_hot_keys_and_uniform_does_not() -> None:
    zipf = Counter(KeyChooser(100, 1.2, seed=1).take(20_000))
    assert zipf.most_common(1)[0][0] == 1
    assert zipf[1] > 5 * zipf[10] > 0  # 10**1.2 ≈ 16 times rarer
    uniform = Counter(KeyChooser(100, seed=1).take(20_000))
    assert set(uniform) == set(range(1, 101)) and max(uniform.values()) < 2 * 200
    assert KeyChooser(100, single=True).take(5) == [1] * 5


def test_share_splits_connections_rate_and_requests() -> None:
    plan = LoadPlan("http://h", connections=5, rate=300, requests=7, processes=2, seed=3)
    parts = [plan.share(0), plan.share(1)]
    assert [p.connections for p in parts] == [3, 2]
    assert [p.requests for p in parts] == [4, 3]
    assert [p.rate for p in parts] == [150, 150] and [p.seed for p in parts] == [3, 4]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "https://h"}, "URL must be http://"),
        ({"processes": 3, "connections": 2}, "--processes cannot exceed --connections"),
        ({"batch": 501, "token": "t"}, "--batch must be between"),
        ({"route": "a/b"}, "expected a route name"),
        ({"route": "update?amount=x"}, "amount must be an integer"),
        ({"route": "get", "verify": True}, "--verify needs a route"),
    ],
)
def test_bad_plans(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
        LoadPlan(**{"url": "http://h", **fields})  # type: ignore[arg-type]
