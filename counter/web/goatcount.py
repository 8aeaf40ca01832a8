"""``GET|POST /count``: GoatCounter's public counting endpoint, as count.js and ``<img>`` call it.

The answer is always the 1x1 GIF. A bad request is a 400 whose ``X-Goatcounter`` header says
why, with nothing stored. The namespace comes from the Host header (``--site HOST=NS``, else
``--default-site``) or from ``/site/{namespace}/count``. Each client (IP + User-Agent) may send
``count_limit`` requests per ``count_window_s`` (loopback exempt). A visitor's session is a
digest of namespace, IP and User-Agent mapped to a random id for 8 hours, in Redis; the IP
itself is never stored. Accepted hits go through ``ingest.Ingest``, as ``/api/v0/count``'s do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from counter.engine.hits import HitError, hit_day, parse_hit
from counter.engine.names import is_valid_name
from counter.engine.sitehits import clean_path, language_of
from counter.errors import CounterError
from counter.runtime import Runtime
from counter.web.errors import error_text, status_for
from counter.web.ingest import VISIT_WINDOW_MS, Ingest, Pageview
from counter.web.ratelimit import client_ip, rate_headers
from counter.web.vcounter import VisitorCounter

# The smallest transparent 1x1 GIF (GIF89a, one-colour palette, a transparency extension).
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_HEADERS = {
    "Cache-Control": "no-store,no-cache",  # Access-Control-Allow-Origin: web/cors.py, always
    "Cross-Origin-Resource-Policy": "cross-origin",
}
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True", "on", "yes"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False", "off", "no", ""})
_PREFETCH = (b"purpose", b"sec-purpose", b"x-moz", b"x-purpose")
MAX_USER_AGENT = 1024


class _AnyDay(dict[str, bytes]):
    """Validation alone needs no real secret: the digest it computes is thrown away."""

    def __missing__(self, day: str) -> bytes:
        return b""


_ANY_DAY = _AnyDay()


class BadCount(ValueError):
    """A refused /count request; the message goes into ``X-Goatcounter``."""


def gif(
    status: int = 200, reason: str | None = None, extra: dict[str, str] | None = None
) -> Response:
    headers = dict(_HEADERS)
    if reason is not None:
        headers["X-Goatcounter"] = reason.encode("ascii", "replace").decode()[:300]
    headers.update(extra or {})
    return Response(GIF, status, headers, media_type="image/gif")


def site_for(host: str, sites: dict[str, str], default: str) -> str:
    """The namespace of a Host header: its mapping (port ignored), else the default site."""
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:8080
        name = name.partition("]")[0] + "]"
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    return sites.get(name, default)


def parse_bool(value: str, name: str) -> bool:
    """Go's strconv.ParseBool, plus GoatCounter's on/off."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadCount(f"{name}: not a boolean: {value!r}")


def hit_fields(query: dict[str, str]) -> tuple[dict[str, Any], bool]:
    """The API hit fields of /count's parameters, and whether sessions are off (``ns``)."""
    path = query.get("p", "")
    if not path:
        raise BadCount("not valid: p: required")
    event = parse_bool(query.get("e", ""), "e")
    try:
        bot = int(query.get("b", "0") or "0")
    except ValueError:
        raise BadCount(f"error decoding parameters: b: not a number: {query['b']!r}") from None
    if 0 < bot < 150 or not 0 <= bot <= 255:
        raise BadCount(f"wrong value: b={bot}")
    raw: dict[str, Any] = {
        "path": path if event else clean_path(path),
        "title": query.get("t", ""),
        "ref": query.get("r", ""),
        "event": event,
        "query": query.get("q", ""),
        "bot": bot,
    }
    size = query.get("s", "")
    if size:
        raw["size"] = size
    return raw, "ns" in query and query["ns"] not in _FALSE - {""}


class GoatCount:
    """The /count endpoint, bound to the app's runtime and its one ``Ingest``."""

    def __init__(self, runtime: Runtime, ingest: Ingest, clock: Callable[[], int]) -> None:
        self.runtime = runtime
        self.ingest = ingest
        self.clock = clock
        settings = runtime.settings
        self.sites = settings.site_map()
        self.default_site = settings.default_site
        self.trusted = settings.trusted_networks()

    def namespace(self, request: Request) -> str:
        named = request.path_params.get("namespace")
        if named is not None:
            if not is_valid_name(named):
                raise BadCount(f"not valid: site must be a namespace name, got {named!r}")
            return str(named)
        return site_for(request.headers.get("host", ""), self.sites, self.default_site)

    async def count(self, request: Request) -> Response:
        if any(request.headers.get(name.decode(), "").lower() == "prefetch" for name in _PREFETCH):
            return gif()  # the browser guessing ahead is not a visit
        try:
            namespace = self.namespace(request)
            raw, no_sessions = hit_fields(dict(request.query_params))
        except BadCount as error:
            return gif(400, str(error))
        user_agent = request.headers.get("user-agent", "")[:MAX_USER_AGENT]
        raw["user_agent"] = user_agent
        try:  # every field checked before anything (a session, the limit) is written
            parse_hit(
                raw, namespace=namespace, no_sessions=True, now=self.clock(), secrets=_ANY_DAY
            )
        except HitError as error:
            return gif(400, f"not valid: {error}")
        address = client_ip(request.scope, self.trusted)
        ip = address.compressed if address is not None else ""
        try:
            limited = await self._charge(
                ip, user_agent, address is not None and address.is_loopback
            )
            if limited is not None:
                return limited
            store = await self.runtime.store()
            raw["location"] = self.ingest.geoip.location(ip)
            now = self.clock()
            day_secrets = await store.session_secrets([hit_day(raw, now)])
            if not no_sessions and ip:
                # Keyed with the day's secret, as the hit log's digests are: the key names
                # in Redis cannot be brute-forced back to an IP.
                visitor = f"{namespace}\0{ip}\0{user_agent}".encode()
                digest = hmac.new(day_secrets[hit_day(raw, now)], visitor, "sha256").hexdigest()
                [session] = await store.resolve_sessions(
                    namespace, [(digest, secrets.token_hex(12))], VISIT_WINDOW_MS
                )
                raw["session"] = session
            try:
                hit = parse_hit(
                    raw, namespace=namespace, no_sessions=True, now=now, secrets=day_secrets
                )
            except HitError as error:
                return gif(400, f"not valid: {error}")
            language = language_of(request.headers.get("accept-language", ""))
            refusals = await self.ingest.record_pageview(Pageview(namespace, hit, language, now))
        except CounterError as error:
            status = status_for(error)
            return gif(status, error_text(error, status))
        if refusals:
            return gif(400, f"not valid: {refusals[0]}")
        return gif()

    async def _charge(self, ip: str, user_agent: str, loopback: bool) -> Response | None:
        """GoatCounter's per-client ``count`` limit: a 429 GIF once it is spent."""
        settings = self.runtime.settings
        if settings.count_limit == 0 or loopback:
            return None
        client = hashlib.sha256(f"{ip}\0{user_agent}".encode()).hexdigest()[:24]
        store = await self.runtime.store()
        window = await store.take_request(
            f"count:{client}",
            limit=settings.count_limit,
            window_ms=settings.count_window_s * 1000,
            now=None,
        )
        if window.allowed:
            return None
        headers = {name.decode(): value.decode() for name, value in rate_headers(window)}
        return gif(429, "rate limited: too many requests", headers)


class CountScript:
    """``/count.js``: our count.js, cached long by browsers and revalidated by its ETag."""

    def __init__(self) -> None:
        self.body = (Path(__file__).parent / "static" / "count.js").read_bytes()
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'

    async def serve(self, request: Request) -> Response:
        headers = {
            "ETag": self.etag,
            "Cache-Control": "public, max-age=86400, stale-while-revalidate=604800",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(b"", 304, headers)
        return Response(self.body, 200, headers, media_type="text/javascript; charset=utf-8")


def goatcounter_routes(count: GoatCount, counter: VisitorCounter) -> list[Route]:
    """/count, /count.js and the visitor counter, also under /site/{namespace}/."""
    script = CountScript()
    methods = ["GET", "POST"]
    return [
        Route("/count", count.count, methods=methods),
        Route("/site/{namespace}/count", count.count, methods=methods),
        Route("/count.js", script.serve, methods=["GET"]),
        Route("/counter/{rest:path}", counter.counter, methods=["GET"]),
        Route("/site/{namespace}/counter/{rest:path}", counter.counter, methods=["GET"]),
    ]
