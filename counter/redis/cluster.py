"""The Redis Cluster client: redis-py's async ``RedisCluster``, tuned to count exactly once.

The Store runs the same scripts on it as on a single Redis; only connecting differs.
What this module adds to redis-py's cluster client, and why:

- A pooled connection whose node has restarted is replaced before a command is sent
  (the standalone pool checks each connection as it leaves the pool; cluster nodes do not).
- The client may retry a command to follow the cluster to a new primary (failover), but
  only when the command certainly did not run: a failure while connecting or sending is
  retried, a failure while waiting for the reply is not (a retried script could count
  twice), so that one surfaces as ``StoreUnavailable``.
- Requests wait for a free connection instead of failing when the pool is exhausted.
- The topology is discovered before the first command is routed, and a connection the
  client closes under a sending task fails as a (retryable) ConnectionError: both are
  races redis-py's cluster client shows under concurrent requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from counter.errors import ConfigError

# Attempts to reach a slot's owner after a refused connection or CLUSTERDOWN (each one
# refreshes the topology first); MOVED and ASK redirections are followed on top of these.
ROUTING_RETRIES = 3


class ReplyLost(redis_errors.ConnectionError):
    """The connection failed after the command was sent: it may have run.

    A subclass so the cluster client's ``execute_command`` (which retries only the exact
    types it lists) never resends it, while every ``except ConnectionError`` still treats
    it as an outage. Cluster *pipelines* retry subclasses too, so the Store sends scripts
    as single commands, never through a cluster pipeline.
    """


class FreshConnection(Connection):
    """A cluster node connection that reconnects when the server has closed it."""

    _sending = False

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        # Same check as redis-py's standalone ConnectionPool.ensure_connection: a socket
        # at EOF (the node restarted) or holding unread bytes is not safe to reuse. Not
        # while connecting: the handshake sends its own commands through here.
        if self._sending:
            await super().send_packed_command(command, check_health)
            return
        if self.is_connected:
            try:
                stale = await self.can_read()
            except (redis_errors.ConnectionError, OSError):
                stale = True
            if stale:
                await self.disconnect()
        self._sending = True
        try:
            await super().send_packed_command(command, check_health)
        except AttributeError as error:
            # The cluster client disconnects a node's idle connections after an error while
            # other tasks may be taking them; the writer is gone and nothing was sent.
            raise redis_errors.ConnectionError("connection closed while in use") from error
        finally:
            self._sending = False

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as error:
            raise ReplyLost(str(error)) from error


class BoundedRedisCluster(RedisCluster):
    """A cluster client whose requests wait for a free connection instead of failing.

    redis-py's cluster nodes raise MaxConnectionsError when their pool is exhausted; the
    standalone client waits (BlockingConnectionPool). A semaphore over commands gives the
    cluster the same behaviour: at most ``max_connections`` commands in flight, later ones
    wait up to ``wait_timeout`` seconds.
    """

    def __init__(self, *args: Any, wait_timeout: float = 5.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_flight = asyncio.Semaphore(kwargs.get("max_connections", 100))
        self._wait_timeout = wait_timeout

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            async with asyncio.timeout(self._wait_timeout):
                await self._in_flight.acquire()
        except TimeoutError:
            raise redis_errors.MaxConnectionsError("no free Redis Cluster connection") from None
        try:
            # Discover the topology before routing: redis-py routes some commands before
            # its own lazy discovery, and concurrent first commands then break each other.
            await self.initialize()
            return await super().execute_command(*args, **kwargs)
        finally:
            self._in_flight.release()

    async def aclose(self) -> None:
        await super().aclose()
        # redis-py skips closing once a connection error has marked the topology for a
        # refresh, which would leave every node's connections open: close them regardless.
        await self.nodes_manager.aclose()
        await self.nodes_manager.aclose("startup_nodes")


def connect_cluster(
    nodes: Sequence[tuple[str, int]], *, max_connections: int = 64, socket_timeout: float = 10
) -> BoundedRedisCluster:
    """A cluster client from startup nodes; the rest of the topology is discovered."""
    if not nodes:
        raise ConfigError("COUNTER_REDIS_CLUSTER needs at least one host:port")
    client = BoundedRedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        max_connections=max_connections,
        retry=Retry(NoBackoff(), ROUTING_RETRIES),
        socket_connect_timeout=2,
        socket_timeout=socket_timeout,
    )
    # The async RedisCluster takes no connection_class argument. Its connection kwargs are
    # the dict its NodesManager builds every discovered node from, so setting the class
    # there (and on the not yet connected startup nodes) reaches every node's connections.
    client.connection_kwargs["connection_class"] = FreshConnection
    for node in client.startup_nodes:
        node.connection_class = FreshConnection
    return client


async def check_cluster(client: RedisCluster, nodes_text: str) -> None:
    """Discover the topology now; raise ConfigError with one clear line if that fails."""
    try:
        await client.initialize()
        info = await client.cluster_info(target_nodes=RedisCluster.RANDOM)
    except (redis_errors.RedisError, redis_errors.RedisClusterException, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(
            f"COUNTER_REDIS_CLUSTER (--redis-cluster) {nodes_text!r}: no usable cluster ({reason})"
        ) from None
    state = info.get("cluster_state")
    if state != "ok":
        raise ConfigError(
            f"COUNTER_REDIS_CLUSTER (--redis-cluster) {nodes_text!r}: cluster_state is {state}"
        )
