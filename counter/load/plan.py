"""What one load run sends: the target, the route, the key choice, the pacing, the limits.

A ``LoadPlan`` is plain data (it crosses into worker processes). ``Route`` turns a key
number into the bytes of one HTTP/1.1 request and says how much that request adds to
the key's counter when the server acknowledges it (the ledger of ``--verify``).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlsplit

from counter.errors import ConfigError

# CountAPI routes whose increment is known, so --verify can check them; others (set,
# create, info...) are loaded but not verified.
_INCREMENTS = {"hit": 1, "get": 0, "info": 0}
USER_AGENT = "counter-load"
# GoatCounter drops pixel hits from bot User-Agents: the pixel route looks like a browser.
BROWSER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@dataclass(frozen=True)
class LoadPlan:
    """Everything a generator process needs to know; the CLI builds it from the options."""

    url: str
    route: str = "hit"
    namespace: str = "load"
    keys: int = 10_000
    zipf: float = 0.0  # > 0: Zipf-distributed key ranks with this exponent
    key: str | None = None  # one fixed key instead of key1..keyN
    batch: int = 0  # > 0: POST /api/v0/count with this many hits per request
    token: str = ""
    count_path: str = "/count"  # the GoatCounter pixel endpoint for --route count
    connections: int = 64
    rate: float = 0.0  # > 0: open loop at this many requests/s in total
    duration: float = 10.0
    requests: int = 0  # > 0: stop after this many requests instead of --duration
    warmup: float = 0.0
    processes: int = 1
    timeout: float = 10.0
    verify: bool = False
    seed: int | None = None
    headers: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        split = urlsplit(self.url)
        if split.scheme != "http" or not split.hostname:
            raise ConfigError(f"URL must be http://HOST[:PORT][/PREFIX], not {self.url!r}")
        if self.connections < 1 or self.processes < 1:
            raise ConfigError("--connections and --processes must be at least 1")
        if self.processes > self.connections:
            raise ConfigError("--processes cannot exceed --connections")
        if self.keys < 1:
            raise ConfigError("--keys must be at least 1")
        if self.zipf < 0:
            raise ConfigError("--zipf must be positive")
        if not 0 <= self.batch <= 500:
            raise ConfigError("--batch must be between 1 and 500 hits")
        if self.batch and not self.token:
            raise ConfigError("--batch needs --token (a token with the count permission)")
        if self.rate < 0 or self.duration <= 0 or self.requests < 0 or self.warmup < 0:
            raise ConfigError("--rate, --duration, --requests and --warmup must be positive")
        route = Route(self)  # validates the route
        if self.verify and not (route.increment or 0) > 0:
            raise ConfigError(
                f"--verify needs a route that adds a known positive amount (hit, "
                f"'update?amount=N', --batch, count), not {self.route!r}"
            )

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    @property
    def prefix(self) -> str:
        """The URL's path, without its trailing slash: routes are appended to it."""
        return urlsplit(self.url).path.rstrip("/")

    @property
    def open_loop(self) -> bool:
        return self.rate > 0

    def key_name(self, n: int) -> str:
        return self.key if self.key is not None else f"key{n}"

    def share(self, index: int) -> LoadPlan:
        """This plan's part for worker process ``index`` of ``processes``."""

        def split(total: int) -> int:
            return total // self.processes + (1 if index < total % self.processes else 0)

        return replace(
            self,
            connections=split(self.connections),
            rate=self.rate / self.processes,
            requests=split(self.requests) if self.requests else 0,
            processes=1,
            seed=None if self.seed is None else self.seed + index,
        )


class Route:
    """Builds requests for one plan: CountAPI ``/<route>/<ns>/<key>``, a batch, or the pixel."""

    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        name, _, query = plan.route.partition("?")
        self.name = name.strip("/")
        self.query = query
        self.kind = "batch" if plan.batch else ("count" if self.name == "count" else "countapi")
        if self.kind == "countapi" and not self.name.replace("_", "").isalnum():
            raise ConfigError(f"--route {plan.route!r}: expected a route name such as hit, get")
        self.increment = self._increment()
        host = f"{plan.host}:{plan.port}" if plan.port != 80 else plan.host
        agent = BROWSER_AGENT if self.kind == "count" else USER_AGENT
        extra = "".join(f"{name}: {value}\r\n" for name, value in plan.headers)
        self._head = f"Host: {host}\r\nUser-Agent: {agent}\r\n{extra}"
        query_part = f"?{self.query}" if self.query else ""
        self._countapi = (
            f"GET {plan.prefix}/{self.name}/{plan.namespace}/".encode(),
            f"{query_part} HTTP/1.1\r\n{self._head}\r\n".encode(),
        )
        self._fixed_key = plan.key.encode() if plan.key is not None else None

    def _increment(self) -> int | None:
        """What one acknowledged request adds to its counter; None when unknown."""
        if self.kind in ("batch", "count"):
            return 1
        if self.name == "update":
            for part in self.query.split("&"):
                field_name, _, value = part.partition("=")
                if field_name == "amount":
                    try:
                        return int(value)
                    except ValueError:
                        raise ConfigError(
                            f"--route {self.plan.route!r}: amount must be an integer"
                        ) from None
            return 1  # CountAPI's default amount
        return _INCREMENTS.get(self.name)

    def request(self, keys: list[int]) -> bytes:
        """One request for ``keys`` (one key, or ``batch`` keys for a batch)."""
        plan = self.plan
        if self.kind == "batch":
            hits = [{"path": f"/{plan.key_name(n)}"} for n in keys]
            body = json.dumps({"namespace": plan.namespace, "no_sessions": True, "hits": hits})
            data = body.encode()
            return (
                f"POST {plan.prefix}/api/v0/count HTTP/1.1\r\n{self._head}"
                f"Authorization: Bearer {plan.token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode() + data
        if self.kind == "countapi":
            # the hot path: two precomputed halves around the key
            before, after = self._countapi
            return before + (self._fixed_key or b"key%d" % keys[0]) + after
        key = plan.key_name(keys[0])
        if self.kind == "count":
            # count.js's GET form; rnd defeats caches as count.js does.
            page = quote(f"/{key}", safe="")
            path = f"{plan.prefix}{plan.count_path}?p={page}&rnd={random.random():.8f}"
        return f"GET {path} HTTP/1.1\r\n{self._head}\r\n".encode()

    def read_back(self, key: str) -> bytes:
        """``GET /get/<ns>/<key>``: how --verify reads a counter (CountAPI's read route)."""
        path = f"{self.plan.prefix}/get/{self.plan.namespace}/{key}"
        return f"GET {path} HTTP/1.1\r\n{self._head}\r\n".encode()

    def keys_per_request(self) -> int:
        return self.plan.batch or 1
