"""One frozen ``Settings`` object, read from ``COUNTER_*`` variables and CLI flags.

Invalid values raise ``ConfigError`` with one line naming the variable, so a bad
deployment fails at start-up rather than on the first request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from dataclasses import field as dataclass_field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from counter.engine.base import DEFAULT_TTL_MS
from counter.engine.names import is_valid_name
from counter.errors import ConfigError
from counter.redis.embedded import maxmemory_bytes

SERVERS = ("granian", "granian-asgi", "uvicorn", "hypercorn")
REDIS_CLIENTS = ("resp", "redis-py")


def default_workers() -> int:
    """One worker per core: a worker is one event loop, so it uses one core at most."""
    return max(1, min(os.cpu_count() or 1, 64))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable; field ``name`` is read from ``COUNTER_NAME``."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = dataclass_field(default_factory=default_workers)
    server: str = "granian"
    redis_client: str = "resp"
    data_dir: Path = Path("counter-data")
    redis_url: str | None = None
    redis_cluster: str | None = None  # "host:port,host:port": startup nodes of a Redis Cluster
    prefix: str = "cnt:"
    ttl_ms: int = DEFAULT_TTL_MS
    stats_flush_ms: int = 1000
    redis_max_connections: int = 64
    # The embedded Redis's memory ceiling: auto (a quarter of the machine), 0 (none), 512mb...
    redis_maxmemory: str = "auto"
    # HTTP connections: open connections per worker (0: from the open-files limit), and
    # seconds a connection may take to send a request's headers, idle ones included.
    max_connections: int = 0
    header_timeout_s: int = 5
    # /api/v0 (GoatCounter-style); limits are requests per window, per token.
    api_count_limit: int = 60
    api_count_window_s: int = 120
    api_limit: int = 300
    api_window_s: int = 60
    api_max_body_bytes: int = 1_048_576
    snapshot_max_body_bytes: int = 67_108_864
    hit_log_max_entries: int = 10_000_000
    hit_log_max_age_days: int = 400
    export_retention_s: int = 86_400
    export_lease_ms: int = 30_000
    export_page_size: int = 1000
    # Per-client-IP limit on the public CountAPI routes: 0 (the default) turns it off.
    public_ip_limit: int = 0
    public_ip_window_s: int = 60
    # Comma-separated proxy addresses or networks whose X-Forwarded-For is believed.
    trusted_proxies: str = ""
    # Live updates (/stream): 0 streams per process turns streams and change feeds off.
    stream_max_per_process: int = 10_000
    stream_max_per_ip: int = 32
    stream_heartbeat_ms: int = 15_000
    stream_send_timeout_ms: int = 10_000
    live_interval_ms: int = 100  # at most one event per counter per interval
    live_refresh_ms: int = 10_000  # watch leases are renewed (and read back) this often
    # Prometheus metrics: off by default; on, GET /metrics answers (or, with a port, a
    # separate listener that `counter serve` runs, so /metrics stays off the public port).
    metrics: bool = False
    metrics_port: int = 0
    # GoatCounter for the web: /count finds its namespace from the Host header.
    sites: str = ""  # "host=namespace,host=namespace"
    default_site: str = "default"
    count_limit: int = 4  # /count requests per client (IP + User-Agent) and window; 0: off
    count_window_s: int = 1
    stats_retention_days: int = 400
    stats_member_cap: int = 1000  # members per day of a dimension (referrers, sizes, ...)
    stats_max_paths: int = 100_000  # paths per namespace with statistics of their own
    # Site statistics are folded per process and written at most this late; 0: each batch
    # is written before its hits are answered (engine/statfold.py).
    site_stats_flush_ms: int = 500
    counter_cache_ms: int = 10_000  # the visitor counter's in-process cache; 0: off
    geoip_db: Path | None = None  # a MaxMind database (GeoLite2-City/Country) for locations

    def __post_init__(self) -> None:
        _check(1 <= self.port <= 65535, "port", "must be between 1 and 65535", self.port)
        _check(1 <= self.workers <= 64, "workers", "must be between 1 and 64", self.workers)
        _check(
            self.server in SERVERS, "server", f"must be one of {', '.join(SERVERS)}", self.server
        )
        _check(
            self.redis_client in REDIS_CLIENTS,
            "redis_client",
            f"must be one of {', '.join(REDIS_CLIENTS)}",
            self.redis_client,
        )
        _check(self.ttl_ms > 0, "ttl_ms", "must be a positive number of milliseconds", self.ttl_ms)
        _check(
            0 < self.stats_flush_ms <= 1000,
            "stats_flush_ms",
            "must be between 1 and 1000",
            self.stats_flush_ms,
        )
        _check(
            0 <= self.site_stats_flush_ms <= 1000,
            "site_stats_flush_ms",
            "must be between 0 (write before answering) and 1000",
            self.site_stats_flush_ms,
        )
        _check(
            1 <= self.redis_max_connections <= 10_000,
            "redis_max_connections",
            "must be between 1 and 10000",
            self.redis_max_connections,
        )
        maxmemory_bytes(self.redis_maxmemory)  # ConfigError names the setting
        _check(
            0 <= self.max_connections <= 1_000_000,
            "max_connections",
            "must be 0 (from the open-files limit) or a number of connections",
            self.max_connections,
        )
        _check(
            1 <= self.header_timeout_s <= 3600,
            "header_timeout_s",
            "must be between 1 and 3600 seconds",
            self.header_timeout_s,
        )
        for name in (*_POSITIVE_API_SETTINGS, *_POSITIVE_LIVE_SETTINGS):
            value = getattr(self, name)
            _check(value > 0, name, "must be a positive integer", value)
        _check(
            self.stream_max_per_process >= 0,
            "stream_max_per_process",
            "must be 0 (streams off) or more",
            self.stream_max_per_process,
        )
        _check(
            self.public_ip_limit >= 0,
            "public_ip_limit",
            "must be 0 (off) or more",
            self.public_ip_limit,
        )
        _check(
            self.public_ip_window_s > 0,
            "public_ip_window_s",
            "must be positive",
            self.public_ip_window_s,
        )
        _check(
            0 <= self.metrics_port <= 65535,
            "metrics_port",
            "must be 0 (serve /metrics on the main port) or a TCP port",
            self.metrics_port,
        )
        _check(self.count_limit >= 0, "count_limit", "must be 0 (off) or more", self.count_limit)
        _check(
            self.counter_cache_ms >= 0,
            "counter_cache_ms",
            "must be 0 or more",
            self.counter_cache_ms,
        )
        _check(
            is_valid_name(self.default_site),
            "default_site",
            "must be a valid namespace name",
            self.default_site,
        )
        try:
            self.site_map()
        except ValueError as error:
            raise ConfigError(f"COUNTER_SITES (--site): {error}") from None
        try:
            self.trusted_networks()
        except ValueError as error:
            raise ConfigError(f"COUNTER_TRUSTED_PROXIES (--trusted-proxies): {error}") from None
        _check(
            "{" not in self.prefix and "}" not in self.prefix,
            "prefix",
            "must not contain { or } (it would change the Redis Cluster hash slot)",
            self.prefix,
        )
        if self.redis_url is not None:
            scheme = urlsplit(self.redis_url).scheme
            _check(
                scheme in {"redis", "rediss", "unix"},
                "redis_url",
                "must start with redis://, rediss:// or unix://",
                self.redis_url,
            )
        if self.redis_cluster is not None:
            _check(
                self.redis_url is None,
                "redis_cluster",
                "cannot be combined with COUNTER_REDIS_URL (--redis-url)",
                self.redis_cluster,
            )
            _check(
                _parse_nodes(self.redis_cluster) is not None,
                "redis_cluster",
                "must list host:port[,host:port...] with ports between 1 and 65535",
                self.redis_cluster,
            )

    @property
    def cluster_nodes(self) -> list[tuple[str, int]]:
        """The startup nodes of ``redis_cluster`` (empty when not on a cluster)."""
        if self.redis_cluster is None:
            return []
        return _parse_nodes(self.redis_cluster) or []

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``COUNTER_*`` variables; keyword overrides (CLI flags) win when not None."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = environ.get(f"COUNTER_{field.name.upper()}")
            if raw is not None and raw != "":
                values[field.name] = _convert(field.name, raw)
        values.update({name: value for name, value in overrides.items() if value is not None})
        return cls(**values)

    def trusted_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """The proxies whose ``X-Forwarded-For`` is believed (none by default)."""
        parts = (part.strip() for part in self.trusted_proxies.split(","))
        return tuple(ip_network(part, strict=False) for part in parts if part)

    def site_map(self) -> dict[str, str]:
        """``sites`` as host (lower case, no port) -> namespace."""
        mapping = {}
        for entry in (part.strip() for part in self.sites.split(",")):
            if not entry:
                continue
            host, equals, namespace = entry.partition("=")
            host, namespace = host.strip().lower(), namespace.strip()
            if not equals or not host or not is_valid_name(namespace):
                raise ValueError(f"{entry!r} is not HOST=NAMESPACE with a valid namespace")
            mapping[host] = namespace
        return mapping

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The ``COUNTER_*`` variables that recreate these settings in a worker process."""
        env = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None:
                env[f"COUNTER_{field.name.upper()}"] = str(value)
        return env


_POSITIVE_LIVE_SETTINGS = (
    "stream_max_per_ip",
    "stream_heartbeat_ms",
    "stream_send_timeout_ms",
    "live_interval_ms",
    "live_refresh_ms",
)

_POSITIVE_API_SETTINGS = (
    "api_count_limit",
    "api_count_window_s",
    "api_limit",
    "api_window_s",
    "api_max_body_bytes",
    "snapshot_max_body_bytes",
    "hit_log_max_entries",
    "hit_log_max_age_days",
    "export_retention_s",
    "export_lease_ms",
    "export_page_size",
    "count_window_s",
    "stats_retention_days",
    "stats_member_cap",
    "stats_max_paths",
)


def _check(ok: bool, name: str, rule: str, value: object) -> None:
    if not ok:
        raise ConfigError(
            f"COUNTER_{name.upper()} (--{name.replace('_', '-')}) {rule}, got {value!r}"
        )


def _parse_nodes(text: str) -> list[tuple[str, int]] | None:
    """``host:port,host:port`` as pairs, or None when any entry is malformed."""
    nodes = []
    for entry in text.split(","):
        host, colon, port = entry.strip().rpartition(":")
        if (
            not colon
            or not host
            or not (port.isascii() and port.isdigit())
            or not 1 <= int(port) <= 65535
        ):
            return None
        nodes.append((host.strip("[]"), int(port)))  # [::1]:7000 is an IPv6 node
    return nodes


def _integer(name: str, raw: str) -> int:
    # ASCII digits only: int() also takes "١٢" and "1_000"
    if re.fullmatch(r"-?[0-9]+", raw.strip(), re.ASCII) is None:
        raise ConfigError(f"COUNTER_{name.upper()} must be an integer, got {raw!r}")
    return int(raw)


def _boolean(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"COUNTER_{name.upper()} must be 1 or 0 (true or false), got {raw!r}")


_CONVERTERS: dict[str, Callable[[str, str], Any]] = {
    "port": _integer,
    "workers": _integer,
    "ttl_ms": _integer,
    "stats_flush_ms": _integer,
    "site_stats_flush_ms": _integer,
    "redis_max_connections": _integer,
    "max_connections": _integer,
    "header_timeout_s": _integer,
    **{
        name: _integer
        for name in (
            *_POSITIVE_API_SETTINGS,
            *_POSITIVE_LIVE_SETTINGS,
            "stream_max_per_process",
            "public_ip_limit",
            "public_ip_window_s",
            "count_limit",
            "counter_cache_ms",
        )
    },
    "data_dir": lambda _name, raw: Path(raw),
    "metrics": _boolean,
    "metrics_port": _integer,
    "geoip_db": lambda _name, raw: Path(raw),
}


def _convert(name: str, raw: str) -> Any:
    converter = _CONVERTERS.get(name)
    return raw if converter is None else converter(name, raw)
