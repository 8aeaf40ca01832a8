"""``/metrics`` (prometheus_client, one app and across granian workers) and ``/readyz``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.env import wait_until
from counter import Settings, Store, create_app, lifespan
from tests.apikit import bearer, new_token
from tests.servers import RedisProcess, ServeProcess, free_port


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape by (name, sorted labels), parsed by prometheus_client itself."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def hit_requests(scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    labels = (("method", "GET"), ("route", "/hit"), ("status", "200"))
    return scrape.get(("counter_http_requests_total", labels), 0)


async def test_metrics_count_requests_hits_and_scripts(settings: Settings, store: Store) -> None:
    app = create_app(settings.with_changes(metrics=True))
    async with lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            for _ in range(3):
                assert (await http.get("/hit/site.com/home")).status_code == 200
            assert (await http.get("/hit/site.com/home?callback=cb")).status_code == 200
            assert (await http.get("/api/v0/counters/site.com/home")).status_code == 401
            secret = await new_token(store)
            started = await http.post("/api/v0/export", headers=bearer(secret), json={})
            assert started.status_code == 202
            await app.state.counter_api.exporter.wait(started.json()["id"])
            response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    scrape = samples(response.text)
    assert hit_requests(scrape) == 4  # the hot path's 3 and the router's 1
    unauthorised = (("method", "GET"), ("route", "/api/v0/counters"), ("status", "401"))
    assert scrape[("counter_http_requests_total", unauthorised)] == 1
    export = (("method", "POST"), ("route", "/api/v0/export"), ("status", "202"))
    assert scrape[("counter_http_requests_total", export)] == 1
    assert scrape[("counter_http_request_duration_seconds_count", (("route", "/hit"),))] == 4
    assert scrape[("counter_hits_total", (("script", "hit"),))] == 4
    assert scrape[("counter_redis_script_calls_total", (("script", "hit"),))] == 4
    assert scrape[("counter_redis_round_trip_seconds_count", ())] >= 4
    assert scrape[("counter_export_jobs_started_total", ())] == 1
    assert scrape[("counter_export_jobs_running", ())] == 0
    assert ("counter_stream_subscribers", ()) in scrape
    # No namespace or key ever becomes a label.
    assert "site.com" not in response.text and "home" not in response.text


async def test_metrics_are_off_by_default(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 404


@pytest.mark.slow
async def test_hits_sent_together_count_once_each(settings: Settings) -> None:
    """Hits on different counters in one tick leave as one hit_many call: still one hit each."""
    app = create_app(settings.with_changes(metrics=True))
    async with lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            replies = await asyncio.gather(*(http.get(f"/hit/site.com/page{n}") for n in range(10)))
            assert [reply.status_code for reply in replies] == [200] * 10
            scrape = samples((await http.get("/metrics")).text)
    hits = {
        labels: value for (name, labels), value in scrape.items() if name == "counter_hits_total"
    }
    assert sum(hits.values()) == 10
    together = (("script", "hit_many"),)
    calls = scrape.get(("counter_redis_script_calls_total", together), 0)
    assert calls == hits.get(together, 0)  # hit_many counts one call per counter it carried


def test_metrics_sum_granian_workers_on_a_separate_port(
    embedded_redis: RedisProcess, prefix: str, tmp_path: Path
) -> None:
    # One Redis is enough for the process wiring; the app test above runs on every backend.
    port = free_port()
    args = ["--redis-url", embedded_redis.url, "--prefix", prefix, "--workers", "2",
            "--metrics", "--metrics-port", str(port)]  # fmt: skip
    server = ServeProcess(args, {}, tmp_path).start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            for _ in range(40):  # new connections: both workers take some
                assert httpx.get(f"{server.base_url}/hit/site.com/home").status_code == 200
            assert http.get("/metrics").status_code == 404  # not on the public port
        scrapes = []

        def flushed() -> bool:  # each worker writes its tally once a second
            scrapes.append(samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text))
            return hit_requests(scrapes[-1]) >= 40

        wait_until(flushed, 10, "both workers' samples in the scrape")
        scrape = scrapes[-1]
    finally:
        server.stop()
        for key in embedded_redis.command("KEYS", f"{prefix}*") or []:  # type: ignore[union-attr]
            embedded_redis.command("DEL", key)
    assert hit_requests(scrape) == 40
    assert scrape[("counter_hits_total", (("script", "hit"),))] == 40


async def test_readyz_fails_without_scripts_or_redis(tmp_path: Path) -> None:
    redis = RedisProcess(tmp_path / "redis").start()  # its own: SCRIPT FLUSH touches no one
    try:
        app = create_app(Settings(redis_url=redis.url))
        async with lifespan(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                ready = await http.get("/readyz")
                assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
                redis.command("SCRIPT", "FLUSH")
                flushed = await http.get("/readyz")
                assert flushed.status_code == 503 and flushed.json()["status"] == "loading"
                assert (await http.get("/readyz")).status_code == 200  # it loaded them
                redis.stop()
                down = await http.get("/readyz")
                assert down.status_code == 503 and down.json()["status"] == "unavailable"
                assert (await http.get("/healthz")).status_code == 503
    finally:
        redis.stop()


async def test_with_the_per_ip_limit_the_middleware_records_the_hot_path(
    settings: Settings,
) -> None:
    # The limit answers before the hot path (429): then the middleware must see every request.
    limited = settings.with_changes(metrics=True, public_ip_limit=2)
    app = create_app(limited)
    async with lifespan(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))  # not loopback
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            statuses = [(await http.get("/hit/site.com/home")).status_code for _ in range(3)]
            scrape = samples((await http.get("/metrics")).text)
    assert statuses == [200, 200, 429]
    assert hit_requests(scrape) == 2
    refused = (("method", "GET"), ("route", "/hit"), ("status", "429"))
    assert scrape[("counter_http_requests_total", refused)] == 1


async def test_scripts_load_and_are_found_on_every_backend(store: Store) -> None:
    await store.load_scripts()  # on a cluster: into every primary
    assert await store.scripts_loaded()


async def test_metrics_show_site_statistics_pending_and_dropped(
    settings: Settings, store: Store
) -> None:
    app = create_app(settings.with_changes(metrics=True, site_stats_flush_ms=1000))
    async with lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            headers = bearer(await new_token(store, perms="count"))
            body = {"no_sessions": True, "hits": [{"path": "/one"}, {"path": "/two"}]}
            assert (await http.post("/api/v0/count", headers=headers, json=body)).status_code == 202
            scrape = samples((await http.get("/metrics")).text)
            assert scrape[("counter_site_stats_pending_hits", ())] == 2  # folded, not written
            assert scrape[("counter_site_stats_dropped_hits_total", ())] == 0
            await app.state.counter_runtime.settled_store("site.com")
            app.state.counter_runtime.site_stats.dropped = 3  # as after a long outage
            scrape = samples((await http.get("/metrics")).text)
            assert scrape[("counter_site_stats_pending_hits", ())] == 0
            assert scrape[("counter_site_stats_dropped_hits_total", ())] == 3
