"""What only a Redis Cluster can show: slots, per-node script caches, node restarts, stats.

The whole suite already runs on the cluster backend; these tests go where the other
backends cannot (a node of their own to flush or restart, keys placed on each primary)
and check the slot discipline on every backend.
"""

from __future__ import annotations

import asyncio
import gzip
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from redis import exceptions as redis_errors
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from starlette.applications import Starlette

from counter import Settings, Store, StoreError, create_app, lifespan
from counter.engine.keys import Keys
from counter.redis.cluster import FreshConnection, ReplyLost, connect_cluster
from tests.apikit import api_client, api_of, bearer, new_token
from tests.cli.test_serve import run_cli
from tests.conftest import delete_prefix
from tests.servers import RedisClusterProcesses, RedisProcess, free_port

COUNTAPI_SCRIPTS = {"create", "hit", "update", "set", "info"}


async def test_every_countapi_route_calls_scripts_within_one_slot(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The suite-wide guard (conftest ``cross_slot_calls``) checks every call's slots; this
    # test makes sure every CountAPI route, and so each of its scripts, passes through it.
    calls: list[tuple[str, list[str]]] = []
    guarded = Store._script

    def recording(self: Store, name: str, batch: list[tuple[list[str], object]]) -> object:
        calls.extend((name, list(keys)) for keys, _ in batch)
        return guarded(self, name, batch)

    monkeypatch.setattr(Store, "_script", recording)
    requests = [
        "/create?namespace=slots.site&key=page&enable_reset=1&update_upperbound=9",
        "/create",  # a UUID key in the default namespace
        "/hit/slots.site/page",
        "/hit/slots.site/new-page",  # creates on hit
        "/hit/lonely-page",
        "/update/slots.site/page?amount=3",
        "/set/slots.site/page?value=7",
        "/info/slots.site/page",
        "/get/slots.site/page",
        "/stats",
    ]
    for url in requests:
        response = await client.get(url)
        assert response.status_code == 200, (url, response.text)
    assert {name for name, _ in calls} == COUNTAPI_SCRIPTS
    for name, keys in calls:
        assert len({key_slot(key.encode()) for key in keys}) == 1, (name, keys)


# --- cluster only ------------------------------------------------------------------------


@pytest.fixture
async def cluster(redis_cluster: RedisClusterProcesses, prefix: str) -> AsyncIterator[RedisCluster]:
    """A client on the session's cluster; this test's keys are deleted on every primary."""
    client = connect_cluster([("127.0.0.1", node.port) for node in redis_cluster.nodes])
    await client.initialize()  # the topology, for tests that place keys on chosen nodes
    yield client
    await delete_prefix(client, prefix)
    await client.aclose()


@pytest.fixture
def cluster_settings(redis_cluster: RedisClusterProcesses, prefix: str, tmp_path: Path) -> Settings:
    return Settings(redis_cluster=redis_cluster.startup_nodes, prefix=prefix, data_dir=tmp_path)


async def http_clients(
    stack: AsyncExitStack, settings: Settings, count: int
) -> list[httpx.AsyncClient]:
    """``count`` independent app instances on one cluster, like N servers behind a balancer."""
    clients = []
    for _ in range(count):
        app: Starlette = create_app(settings)
        await stack.enter_async_context(lifespan(app))
        transport = httpx.ASGITransport(app=app)
        clients.append(
            await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://counter.test")
            )
        )
    return clients


def key_per_primary(cluster: RedisCluster, keys: Keys, namespace: str) -> dict[str, str]:
    """One counter name per primary (node name -> key), found by hashing candidate names."""
    chosen: dict[str, str] = {}
    for number in range(1000):
        name = f"page-{number}"
        node = cluster.get_node_from_key(keys.counter(namespace, name))
        chosen.setdefault(node.name, name)
        if len(chosen) == len(cluster.get_primaries()):
            return chosen
    raise AssertionError("could not place a counter on every primary")


async def test_stats_add_up_across_primaries_and_app_instances(
    cluster: RedisCluster, cluster_settings: Settings
) -> None:
    keys = Keys(cluster_settings.prefix)
    placed = key_per_primary(cluster, keys, "spread")
    assert len(placed) == 3
    async with AsyncExitStack() as stack:
        first, second = await http_clients(stack, cluster_settings, 2)
        for name in placed.values():
            assert (await first.get(f"/hit/spread/{name}")).status_code == 200
            assert (await second.get(f"/hit/spread/{name}")).json() == {"value": 2}
        await second.get("/stats")  # flushes the second instance's share
        totals = (await first.get("/stats")).json()
    # 3 counters created and 6 hits on 3 primaries; 3 hits and 1 /stats per instance
    assert (totals["keys_created"], totals["keys_updated"]) == (3, 6)
    assert totals["requests"] == 2 * (3 + 1)
    for node_name, name in placed.items():
        node = cluster.get_node(node_name=node_name)
        value = await cluster.hget(keys.counter("spread", name), "value")
        assert value == b"2"
        assert cluster.get_node_from_key(keys.counter("spread", name)) == node


async def test_script_reloads_after_script_flush_on_the_owning_node(
    cluster: RedisCluster, cluster_settings: Settings
) -> None:
    keys = Keys(cluster_settings.prefix)
    async with AsyncExitStack() as stack:
        (client,) = await http_clients(stack, cluster_settings, 1)
        assert (await client.get("/hit/flushed/page")).json() == {"value": 1}
        runtime = client._transport.app.state.counter_runtime  # type: ignore[attr-defined]
        store: Store = await runtime.store()
        sha = store._scripts["hit"][1].sha
        owner = cluster.get_node_from_key(keys.counter("flushed", "page"))
        await owner.execute_command("SCRIPT", "FLUSH")
        assert await scripts_exist(owner, sha) == [False]
        # the first call after the flush gets NOSCRIPT from that node and reloads there
        assert (await client.get("/hit/flushed/page")).json() == {"value": 2}
        assert await scripts_exist(owner, sha) == [True]


async def scripts_exist(node: ClusterNode, *shas: str) -> list[bool]:
    return [bool(found) for found in await node.execute_command("SCRIPT", "EXISTS", *shas)]


async def test_a_restarted_node_is_used_again_by_the_next_requests(
    cluster: RedisCluster, cluster_settings: Settings, redis_cluster: RedisClusterProcesses
) -> None:
    keys = Keys(cluster_settings.prefix)
    placed = key_per_primary(cluster, keys, "restart")
    # Not the stats key's node: its periodic flush would meet the dead connections first.
    stats_node = cluster.get_node_from_key(keys.stats()).name
    victim_name = next(name for name in sorted(placed) if name != stats_node)
    victim = next(n for n in redis_cluster.nodes if f"127.0.0.1:{n.port}" == victim_name)
    first_then_others = [placed[victim_name], *(k for n, k in placed.items() if n != victim_name)]
    async with AsyncExitStack() as stack:
        (client,) = await http_clients(stack, cluster_settings, 1)
        for name in first_then_others:
            assert (await client.get(f"/hit/restart/{name}")).json() == {"value": 1}
        # The app's event loop keeps running meanwhile, as it would in production.
        await asyncio.to_thread(redis_cluster.restart, victim)
        # Every pooled connection to that node is dead and its script cache is empty;
        # AOF kept the data. The very next request goes there; none may fail, and no hit
        # may be lost or doubled.
        for name in first_then_others:
            response = await client.get(f"/hit/restart/{name}")
            assert (response.status_code, response.json()) == (200, {"value": 2}), name


async def test_api_batch_listing_export_and_stats_span_every_primary(
    cluster: RedisCluster, cluster_settings: Settings
) -> None:
    keys = Keys(cluster_settings.prefix)
    placed = key_per_primary(cluster, keys, "site.com")
    paths = [f"/{name}" for name in placed.values()]
    store = Store(cluster, keys=keys)
    headers = bearer(await new_token(store, perms="count,export,read"))
    for node in cluster.get_primaries():  # every script cache empty: each call reloads its own
        await node.execute_command("SCRIPT", "FLUSH")
    settings = cluster_settings.with_changes(api_count_limit=1000)
    async with api_client(settings) as http:
        hits = [{"path": path} for path in paths * 2]
        batch = await http.post(
            "/api/v0/count", headers=headers, json={"no_sessions": True, "hits": hits}
        )
        assert (batch.status_code, batch.json()) == (202, {})
        listed = await http.get("/api/v0/counters?namespace=site.com", headers=headers)
        assert {(c["key"], c["value"]) for c in listed.json()["counters"]} == {
            (name, 2) for name in placed.values()
        }
        started = await http.post("/api/v0/export", headers=headers, json={})
        await api_of(http).exporter.wait(started.json()["id"])
        job = (await http.get(f"/api/v0/export/{started.json()['id']}", headers=headers)).json()
        assert (job["num_rows"], job["failure"]) == (6, None) and "error" not in job
        download = await http.get(f"/api/v0/export/{job['id']}/download", headers=headers)
        exported = gzip.decompress(download.content).decode().splitlines()[1:]
        assert sorted(row.split(",")[0] for row in exported) == sorted(paths * 2)
        stats = (await http.get("/stats")).json()
    assert (stats["keys_created"], stats["keys_updated"]) == (3, 3)  # one script per counter
    for node_name, name in placed.items():  # the counters really live on three primaries
        assert cluster.get_node_from_key(keys.counter("site.com", name)).name == node_name


async def test_a_node_restart_under_load_costs_503s_only_and_no_count_twice(
    cluster_settings: Settings, redis_cluster: RedisClusterProcesses
) -> None:
    statuses: list[int] = []
    restarted = asyncio.Event()
    async with AsyncExitStack() as stack:
        (client,) = await http_clients(stack, cluster_settings, 1)

        async def hammer(worker: int) -> None:
            streak = 0  # after the restart, run until this worker sees 20 successes in a row
            for number in range(100_000):
                response = await client.get(f"/hit/load/page-{(worker * 7 + number) % 30}")
                statuses.append(response.status_code)
                streak = streak + 1 if response.status_code == 200 else 0
                if restarted.is_set() and streak >= 20:
                    return

        workers = [asyncio.create_task(hammer(worker)) for worker in range(8)]
        await asyncio.to_thread(redis_cluster.restart, redis_cluster.nodes[1])
        restarted.set()
        await asyncio.wait_for(asyncio.gather(*workers), 60)
        values = [(await client.get(f"/get/load/page-{n}")).json()["value"] for n in range(30)]
    assert set(statuses) <= {200, 503}, sorted(set(statuses))  # never a 500
    counted = statuses.count(200)
    # A 503 whose script ran before its reply was lost may have counted; nothing counted twice.
    assert counted <= sum(values) <= counted + statuses.count(503)


async def test_concurrent_first_calls_on_a_fresh_client_all_succeed(
    redis_cluster: RedisClusterProcesses, cluster: RedisCluster, prefix: str
) -> None:
    fresh = connect_cluster([("127.0.0.1", node.port) for node in redis_cluster.nodes])
    try:
        store = Store(fresh, keys=Keys(prefix))
        results = await asyncio.gather(*(store.hit("cold", f"page-{n % 40}") for n in range(200)))
    finally:
        await fresh.aclose()
    assert sum(result.created for result in results) == 40
    assert sorted(result.value for result in results)[-1] == 5


async def test_a_failover_is_followed_by_the_next_requests(tmp_path: Path, prefix: str) -> None:
    processes = RedisClusterProcesses(tmp_path / "cluster", node_timeout_ms=1000).start()
    cluster = connect_cluster([("127.0.0.1", node.port) for node in processes.nodes])
    try:
        await cluster.initialize()
        keys = Keys(prefix)
        placed = key_per_primary(cluster, keys, "failover")
        # Not the stats key's node: its periodic flush would find the new primary first.
        stats_node = cluster.get_node_from_key(keys.stats()).name
        victim_name = next(name for name in sorted(placed) if name != stats_node)
        primary = next(n for n in processes.nodes if f"127.0.0.1:{n.port}" == victim_name)
        replica = await asyncio.to_thread(processes.add_replica, primary)
        first_then_others = [
            placed[victim_name],
            *(k for n, k in placed.items() if n != victim_name),
        ]
        settings = Settings(redis_cluster=processes.startup_nodes, prefix=prefix, data_dir=tmp_path)
        async with AsyncExitStack() as stack:
            (client,) = await http_clients(stack, settings, 1)
            for name in first_then_others:
                assert (await client.get(f"/hit/failover/{name}")).json() == {"value": 1}
            await asyncio.to_thread(processes.crash_and_fail_over, primary, replica)
            # The app still maps the slot to the dead primary: the first request is refused
            # a connection, refreshes the topology and goes to the promoted replica.
            for name in first_then_others:
                response = await client.get(f"/hit/failover/{name}")
                assert (response.status_code, response.json()) == (200, {"value": 2}), name
    finally:
        await cluster.aclose()
        processes.stop()


# INCR, then keep the node busy past the client's read timeout.
INCR_THEN_STALL = """
redis.call('INCR', KEYS[1])
local start = redis.call('TIME')
repeat
  local now = redis.call('TIME')
until (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > tonumber(ARGV[1])
return 1
"""


async def test_a_script_whose_reply_is_lost_is_not_sent_again(
    redis_cluster: RedisClusterProcesses, cluster: RedisCluster, prefix: str
) -> None:
    impatient = connect_cluster(
        [("127.0.0.1", node.port) for node in redis_cluster.nodes], socket_timeout=0.1
    )
    key = f"{prefix}{{lost}}"
    try:
        script = impatient.register_script(INCR_THEN_STALL)
        await script(keys=[key], args=[0])
        with pytest.raises(redis_errors.RedisError) as lost:  # the script ran, its reply timed out
            await script(keys=[key], args=[300_000])
        # This read waits for the stalled script; a resent call would be queued before it.
        assert await cluster.get(key) == b"2"
        assert isinstance(lost.value, ReplyLost)  # hence a 503 from the Store, never a resend
    finally:
        await impatient.aclose()


async def test_a_cross_slot_script_call_is_refused_before_it_is_sent(
    cluster: RedisCluster, prefix: str, cross_slot_calls: list[tuple[str, list[str]]]
) -> None:
    store = Store(cluster, keys=Keys(prefix))
    keys = [f"{prefix}{{a/b}}", f"{prefix}{{c/d}}:d", f"{prefix}{{a/b}}:h:20260101"]
    assert key_slot(keys[0].encode()) != key_slot(keys[1].encode())
    with pytest.raises(StoreError):
        await store._eval("hit", keys, [1, 1, "20260101", "00", 1])
    assert [k async for k in cluster.scan_iter(match=f"{prefix}*")] == []
    assert cross_slot_calls == [("hit", keys)]  # the suite-wide guard saw it too
    cross_slot_calls.clear()  # made on purpose here


async def test_every_node_connection_checks_for_staleness(
    cluster: RedisCluster, prefix: str
) -> None:
    # redis-py's async cluster takes no connection class: connect_cluster sets it where
    # its nodes are built (see counter/cluster.py); a redis-py change would show here.
    for number in range(30):  # keys on every primary
        await cluster.set(f"{prefix}{{k{number}}}", 1)
    connections = [c for node in cluster.get_nodes() for c in node._connections]
    assert {type(c) for c in connections} == {FreshConnection}
    assert len({c.port for c in connections}) == 3


async def test_startup_nodes_lead_to_the_whole_cluster(
    redis_cluster: RedisClusterProcesses, prefix: str
) -> None:
    first = redis_cluster.nodes[0]
    client = connect_cluster([("127.0.0.1", first.port)])
    try:
        await client.initialize()
        assert {node.port for node in client.get_primaries()} == {
            node.port for node in redis_cluster.nodes
        }
        assert isinstance(client.get_default_node(), ClusterNode)
    finally:
        await client.aclose()


# --- configuration ------------------------------------------------------------------------


def test_cluster_settings_parse_and_travel_to_workers() -> None:
    settings = Settings.from_env(
        {"COUNTER_REDIS_CLUSTER": "10.0.0.1:7000, redis-b:7001,[::1]:7002"}
    )
    assert settings.cluster_nodes == [("10.0.0.1", 7000), ("redis-b", 7001), ("::1", 7002)]
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings().cluster_nodes == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--redis-cluster", "redis-a"], "must list host:port[,host:port...]"),
        (["--redis-cluster", "a:1,b:"], "must list host:port[,host:port...]"),
        (["--redis-cluster", "a:99999"], "must list host:port[,host:port...]"),
        (["--redis-cluster", "a:1", "--redis-url", "redis://a"], "cannot be combined with"),
    ],
)
def test_malformed_cluster_configuration_is_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli(tmp_path, "serve", *args)
    assert_one_line_error(result, f"COUNTER_REDIS_CLUSTER (--redis-cluster) {message}")


def test_unreachable_cluster_fails_at_start_with_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", "--redis-cluster", f"127.0.0.1:{free_port()}")
    assert_one_line_error(result, "no usable cluster")


def test_a_standalone_redis_is_not_taken_for_a_cluster(
    tmp_path: Path, embedded_redis: RedisProcess
) -> None:
    result = run_cli(tmp_path, "serve", "--redis-cluster", f"127.0.0.1:{embedded_redis.port}")
    assert_one_line_error(result, "no usable cluster")


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("counter: error: ") and message in lines[0], lines[0]
