"""From a validated hit to what the site statistics count: GoatCounter's derivations.

Paths lose tracking parameters; the query's ``utm_source``/``ref``/``src``/``source`` become
the referrer (scheme ``c``) and ``utm_campaign``/``campaign`` the campaign; screen widths,
browsers, systems, locations and languages become dimension members.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson

from counter.engine.agents import parse_agent
from counter.engine.hits import Hit
from counter.engine.sitestats import CAMPAIGN_REFS, StatHit

UNKNOWN = "(unknown)"
# Parameters that say how a visitor arrived, not which page they saw (GoatCounter drops these).
_TRACKING = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|gclsrc|dclid|msclkid|mc_cid|mc_eid|yclid|_ga|_gl|igshid|"
    r"twclid|ttclid|wbraid|gbraid|_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|vero_id)$",
    re.IGNORECASE,
)
_SOURCE_PARAMS = ("utm_source", "ref", "src", "source")
_CAMPAIGN_PARAMS = ("utm_campaign", "campaign")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LANGUAGE = re.compile(r"^\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*\s*(?:;|,|$)")

# GoatCounter's screen size classes, by the screen's CSS width.
SIZE_CLASSES = (
    ("phone", "Phones", 415),
    ("largephone", "Large phones, small tablets", 1000),
    ("tablet", "Tablets and small laptops", 1280),
    ("desktop", "Computer monitors", 1920),
    ("desktophd", "Computer monitors larger than HD", 1 << 62),
)


def clean_path(path: str) -> str:
    """A pageview's path with a leading ``/`` and without tracking parameters or fragment."""
    path = path.partition("#")[0]
    base, mark, query = path.partition("?")
    if mark:
        kept = [
            (k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _TRACKING.match(k)
        ]
        path = base + ("?" + urlencode(kept) if kept else "")
    if not path.startswith("/"):
        path = "/" + path
    return path


def size_class(width: int) -> tuple[str, str]:
    """(id, name) of a screen width's class; width 0 is unknown."""
    if width <= 0:
        return "unknown", UNKNOWN
    for class_id, name, below in SIZE_CLASSES:
        if width < below:
            return class_id, name
    return "unknown", UNKNOWN  # unreachable: the last class has no upper bound


def language_of(accept_language: str) -> str:
    """The first language of an Accept-Language header, as its lowercase base code."""
    found = _LANGUAGE.match(accept_language or "")
    return found.group(1).lower() if found and found.group(1) != "*" else ""


def _query_value(query: str, names: tuple[str, ...]) -> str:
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=False)
    lowered = {k.lower(): v for k, v in pairs}
    value = next((lowered[name][:200] for name in names if lowered.get(name)), "")
    # A decoded %00 or %09 would corrupt the tab-separated members: such a value is not kept.
    return "" if _CONTROL.search(value) else value


def referrer(ref: str, query: str) -> tuple[str, str, str]:
    """(scheme, group, detail): ``c`` a campaign source, ``h`` a link, ``o`` other, '' none."""
    source = _query_value(query, _SOURCE_PARAMS)
    if source:
        return "c", source, source
    ref = ref.strip()
    if not ref:
        return "", "", ""
    if ref.startswith(("http://", "https://")):
        parts = urlsplit(ref)
        host = (parts.hostname or "").removeprefix("www.")
        if host:
            return "h", host, host + (parts.path if parts.path != "/" else "")
    return "o", ref[:200], ref[:200]


def stat_hit(hit: Hit, *, visit: bool, language: str) -> StatHit:
    agent = parse_agent(hit.user_agent)
    bot = hit.bot > 0 or agent.bot > 0
    scheme, group, detail = referrer(hit.ref, hit.query)
    width = 0
    if hit.size:
        try:
            width = int(float(hit.size.split(",")[0]))
        except ValueError:
            width = 0
    campaign = _query_value(hit.query, _CAMPAIGN_PARAMS)
    dims = {
        "browser": f"{agent.browser or UNKNOWN}\t{agent.browser_version}",
        "system": f"{agent.system or UNKNOWN}\t{agent.system_version}",
        "size": str(width),
        "location": hit.location or UNKNOWN,
        "language": language,
        "campaign": campaign,
        "ref": f"{scheme}\t{group}\t{detail}" if scheme else "",
        # JSON: a campaign or a referrer may hold any character, a tab included.
        CAMPAIGN_REFS: orjson.dumps([campaign, detail]).decode() if campaign else "",
    }
    return StatHit(
        path=hit.path,
        title=hit.title,
        event=hit.event,
        visit=visit,
        bot=bot,
        at=hit.created_at,
        dims=dims,
        ref=f"{scheme}\t{detail}" if scheme else "",
    )
