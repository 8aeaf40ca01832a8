"""Hits as ``POST /api/v0/count`` receives them, as the hit log stores them, as CSV exports them.

The CSV is GoatCounter's export format version 2 (the ``2`` glued to the first header
name is its version marker), so GoatCounter's own import and tools can read our exports.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any

from counter.engine.names import key_from_path

CSV_HEADER = (
    "2Path", "Title", "Event", "UserAgent", "Browser", "System", "Session", "Bot", "Referrer",
    "Referrer scheme", "Screen size", "Location", "FirstVisit", "Date",
)  # fmt: skip
# Field names inside a log entry, in the order log_hits.lua receives them.
LOG_FIELDS = ("p", "t", "e", "ua", "s", "b", "r", "sz", "l", "q", "c")

_TEXT_LIMITS = {"path": 2048, "title": 1024, "ref": 2048, "query": 2048, "user_agent": 1024,
                "session": 256, "language": 35}  # fmt: skip
_KNOWN_FIELDS = frozenset({*_TEXT_LIMITS, "event", "size", "bot", "location", "ip", "created_at"})
_LOCATION = re.compile(r"[A-Za-z]{2}(?:-[A-Za-z0-9]{1,3})?")
# C0, DEL and C1 controls: never part of a URL or a title, and a tab or NUL in a path or
# referrer would corrupt the statistics' tab-separated members and the CSV export.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NO_CONTROL = frozenset({"path", "title", "ref"})
_CAMPAIGN = re.compile(r"(?:^|[?&])(?:utm_[a-z]+|ref|src|source)=", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Hit:
    """One validated pageview or event; ``key`` is the counter it increments."""

    path: str
    key: str
    title: str
    event: bool
    user_agent: str
    session: str  # a digest, never what the client sent; '' without sessions
    bot: int
    ref: str
    size: str
    location: str
    query: str
    created_at: int  # ms

    def log_row(self) -> list[str]:
        return [
            self.path, self.title, "1" if self.event else "0", self.user_agent, self.session,
            str(self.bot), self.ref, self.size, self.location, self.query, str(self.created_at),
        ]  # fmt: skip


class HitError(ValueError):
    """Why one hit of a batch was rejected (the message is shown to the client)."""


def hit_day(raw: Any, now: int) -> str:
    """The UTC day (``yyyymmdd``) whose session secret a hit's digest is keyed with."""
    try:
        at = _created_at(raw.get("created_at") if isinstance(raw, dict) else None, now)
    except HitError:
        at = now  # the hit is refused later; any day will do
    return day_of(at)


def day_of(at_ms: int) -> str:
    return time.strftime("%Y%m%d", time.gmtime(at_ms / 1000))


def parse_hit(
    raw: Any, *, namespace: str, no_sessions: bool, now: int, secrets: Mapping[str, bytes]
) -> Hit:
    """Validate one element of ``hits``; raises HitError naming the first problem.

    ``secrets`` maps each ``hit_day`` of the batch to that day's session secret.
    """
    if not isinstance(raw, dict):
        raise HitError("a hit must be a JSON object")
    unknown = sorted(set(raw) - _KNOWN_FIELDS)
    if unknown:
        raise HitError(f"unknown field(s): {', '.join(unknown)}")
    text = {name: _text(raw, name, limit) for name, limit in _TEXT_LIMITS.items()}
    if not text["path"]:
        raise HitError("path is required")
    event = raw.get("event", False)
    if not isinstance(event, bool):
        raise HitError("event must be true or false")
    bot = raw.get("bot", 0)
    if not isinstance(bot, int) or isinstance(bot, bool) or not 0 <= bot <= 255:
        raise HitError("bot must be an integer from 0 to 255")
    location = raw.get("location", "")
    if not isinstance(location, str) or (location and not _LOCATION.fullmatch(location)):
        raise HitError("location must be an ISO 3166-1 alpha-2 code, e.g. NL or US-CA")
    created_at = _created_at(raw.get("created_at"), now)
    secret = secrets[day_of(created_at)]
    session = _session(raw, text, namespace, no_sessions, secret)
    return Hit(
        path=text["path"],
        key=key_from_path(text["path"]),
        title=text["title"],
        event=event,
        user_agent=text["user_agent"],
        session=session,
        bot=bot,
        ref=text["ref"],
        size=_size(raw.get("size")),
        location=location.upper(),
        query=text["query"],
        created_at=created_at,
    )


def _text(raw: dict[str, Any], name: str, limit: int) -> str:
    value = raw.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise HitError(f"{name} must be a string")
    if len(value) > limit:
        raise HitError(f"{name} is longer than {limit} characters")
    if name in _NO_CONTROL and _CONTROL.search(value):
        raise HitError(f"{name} must not contain control characters")
    return value


def _created_at(value: Any, now: int) -> int:
    if value is None or value == "":
        return now
    if not isinstance(value, str):
        raise HitError("created_at must be an RFC 3339 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HitError("created_at must be an RFC 3339 date-time string") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    at = int(moment.timestamp() * 1000)
    if at > now:
        raise HitError("created_at is in the future")
    if at < 0:
        raise HitError("created_at is before 1970")
    return at


def _size(value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    parts: list[Any]
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, list):
        parts = value
    else:
        raise HitError("size must be an array of numbers, or 'width,height,scale'")
    if len(parts) > 3:
        raise HitError("size has at most 3 numbers: width, height, scale")
    numbers = []
    for part in parts:
        try:
            number = float(part) if not isinstance(part, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or not 0 <= number <= 100_000:
            raise HitError("size must hold numbers from 0 to 100000")
        numbers.append(f"{number:g}")
    return ",".join(numbers)


def _session(
    raw: dict[str, Any],
    text: dict[str, str],
    namespace: str,
    no_sessions: bool,
    secret: bytes,
) -> str:
    """A digest grouping one visitor's hits; neither the IP nor the session id is stored.

    Keyed with the day's secret (HMAC-SHA256): without it, a digest of an IP could be
    reversed by trying every address (a /16 took 0.07 s). The secret lives in Redis
    for two days and is then gone, as GoatCounter rotates its salts, so no one (an
    export reader, an operator, whoever copies the data) can reverse old digests.
    """
    ip = raw.get("ip", "")
    if ip:
        try:
            ip = ip_address(ip).compressed if isinstance(ip, str) else None
        except ValueError:
            ip = None
        if ip is None:
            raise HitError("ip must be an IPv4 or IPv6 address")
    if text["session"]:
        material = f"s\0{namespace}\0{text['session']}"
    elif ip and text["user_agent"]:
        material = f"v\0{namespace}\0{ip}\0{text['user_agent']}"  # visitors regroup daily
    elif no_sessions:
        return ""
    else:
        raise HitError("needs session, or user_agent and ip, unless no_sessions is set")
    return hmac.new(secret, material.encode(), hashlib.sha256).hexdigest()[:16]


def csv_row(entry: dict[str, str]) -> list[str]:
    """One export row (GoatCounter version 2 columns) from a log entry."""
    user_agent, ref, query = entry.get("ua", ""), entry.get("r", ""), entry.get("q", "")
    browser, system = describe_user_agent(user_agent)
    created = datetime.fromtimestamp(int(entry.get("c", "0")) / 1000, UTC)
    return [
        entry.get("p", ""),
        entry.get("t", ""),
        "true" if entry.get("e") == "1" else "false",
        user_agent,
        browser,
        system,
        entry.get("s", ""),
        entry.get("b", "0"),
        ref,
        _referrer_scheme(ref, query),
        entry.get("sz", ""),
        entry.get("l", ""),
        "true" if entry.get("fv") == "1" else "false",
        created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ]


def _referrer_scheme(ref: str, query: str) -> str:
    """GoatCounter's codes: h (an http link), c (a campaign), o (other), '' (none)."""
    if _CAMPAIGN.search(query):
        return "c"
    if not ref:
        return ""
    return "h" if ref.startswith(("http://", "https://")) else "o"


_BROWSERS = (
    ("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
    ("Version/", "Safari"),
)  # fmt: skip
_SYSTEMS = (
    ("Windows NT", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"),
    ("Mac OS X", "macOS"), ("CrOS", "Chrome OS"), ("Linux", "Linux"),
)  # fmt: skip


def describe_user_agent(user_agent: str) -> tuple[str, str]:
    """Browser (with major version) and system from a User-Agent; '' when unknown."""
    browser = ""
    for marker, name in _BROWSERS:
        found = user_agent.find(marker)
        if found >= 0:
            version = re.match(r"[0-9]+", user_agent[found + len(marker) :])
            browser = f"{name} {version.group()}" if version else name
            break
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), "")
    return browser, system
