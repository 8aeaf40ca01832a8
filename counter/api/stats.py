"""GoatCounter's read API: ``/sites``, ``/paths`` and ``/stats/...``, in its response shapes.

A namespace is a site. Counts are visits (a session's first hit on a path), as GoatCounter's.
Pages and hours come from the statistics ``record_stats.lua`` keeps at ingest; dimension
pages (browsers, systems, ...) are kept per day, so their ranges are whole UTC days.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from counter.api.io import ApiError, json_response, token_of
from counter.api.statsquery import Query, Span, site_id, span_of, stats_site
from counter.engine.sitehits import UNKNOWN, size_class
from counter.engine.sitestats import CAMPAIGN_REFS, PathInfo, path_digest
from counter.engine.store import Store
from counter.runtime import Runtime

_NO_HOURS = [0] * 24  # shared by every day without visits (never changed)
PAGES = ("browsers", "systems", "locations", "languages", "sizes", "campaigns", "toprefs")
DETAIL_PAGES = ("browsers", "systems", "locations", "sizes", "campaigns", "toprefs")
_DIMENSION = {
    "browsers": "browser", "systems": "system", "locations": "location", "languages": "language",
    "sizes": "size", "campaigns": "campaign", "toprefs": "ref",
}  # fmt: skip


def _group(page: str, member: str) -> tuple[str, str, str, str]:
    """(id, name, detail name, ref_scheme) of a dimension member."""
    if page in ("browsers", "systems"):
        name, _, version = member.partition("\t")
        return name, name, f"{name} {version}".strip(), ""
    if page == "sizes":
        width = int(member) if member.isdigit() else 0
        class_id, class_name = size_class(width)
        return class_id, class_name, str(width) if width else UNKNOWN, ""
    if page == "locations":
        return member.partition("-")[0], member.partition("-")[0], member, ""
    if page == "toprefs":
        scheme, group, detail = [*member.split("\t"), "", ""][:3]
        return group, group, detail, scheme
    return member, member, member, ""  # languages, campaigns


class StatsRoutes:
    def __init__(self, runtime: Runtime, clock: Callable[[], int]) -> None:
        self.runtime = runtime
        self.clock = clock
        self.sites_by_namespace = {ns: host for host, ns in runtime.settings.site_map().items()}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock() / 1000, UTC)

    async def _site(self, store: Store, namespace: str) -> dict[str, Any]:
        meta = await store.site_meta(namespace)
        first = meta.get("first")
        first_at = f"{first[:4]}-{first[4:6]}-{first[6:]}T00:00:00Z" if first else None
        return {
            "id": site_id(namespace), "parent": None, "code": namespace,
            "cname": self.sites_by_namespace.get(namespace), "cname_setup_at": None,
            "link_domain": self.sites_by_namespace.get(namespace, ""),
            "settings": {"public": "private", "allow_counter": True, "data_retention":
                         self.runtime.settings.stats_retention_days, "collect": 0},
            "received_data": bool(meta), "state": "a", "created_at": first_at,
            "updated_at": None, "first_hit_at": first_at,
        }  # fmt: skip

    async def _readable(self, request: Request) -> list[str]:
        token = token_of(request)
        if "site-read" not in token.permissions:
            raise ApiError(403, "this token lacks the 'site-read' permission")
        if "*" in token.namespaces:
            return await (await self.runtime.store()).known_sites()
        return sorted(token.namespaces)

    async def sites(self, request: Request) -> Response:
        store = await self.runtime.settled_store()
        return json_response(
            {"sites": [await self._site(store, ns) for ns in await self._readable(request)]}
        )

    async def site(self, request: Request) -> Response:
        wanted = request.path_params["id"]
        for namespace in await self._readable(request):
            if str(site_id(namespace)) == wanted or namespace == wanted:
                store = await self.runtime.settled_store(namespace)
                return json_response(await self._site(store, namespace))
        raise ApiError(404, "no such site")

    async def paths(self, request: Request) -> Response:
        query = Query(request)
        namespace = stats_site(request, query, "stats")
        limit = query.integer("limit", 20, 1, 200)
        after = query.integer("after", 0, 0)
        store = await self.runtime.settled_store(namespace)
        last = int((await store.site_meta(namespace)).get("seq", 0))
        infos = await store.path_infos(namespace, range(after + 1, min(last, after + limit) + 1))
        return json_response(
            {"paths": [_path(info) for info in infos], "more": after + limit < last}
        )

    async def total(self, request: Request) -> Response:
        query = Query(request)
        namespace = stats_site(request, query, "stats")
        span = span_of(query, self._now())
        store = await self.runtime.settled_store(namespace)
        include = await self._include(store, namespace, query)
        if include is not None:
            hourly = await store.hourly(namespace, [info.digest for info in include], span.days)
            visits = sum(_in_span(span, days)[0] for days in hourly.values())
            events = sum(_in_span(span, hourly[info.digest])[0] for info in include if info.event)
        else:
            totals = await store.month_totals(namespace, span.days)
            visits = _site_sum(span, totals, "v")
            events = _site_sum(span, totals, "e")
        return json_response({"total": visits, "total_events": events, "total_utc": visits})

    async def hits(self, request: Request) -> Response:
        query = Query(request)
        namespace = stats_site(request, query, "stats")
        span = span_of(query, self._now())
        limit = query.integer("limit", 20, 1, 100)
        daily = query.boolean("daily")
        store = await self.runtime.settled_store(namespace)
        include = await self._include(store, namespace, query)
        exclude = {
            info.id for info in await self._paths_named(store, namespace, query, "exclude_paths")
        }
        ranked = await store.path_ranking(namespace, span.days)
        ids = await store.path_ids(namespace, [digest for digest, _ in ranked])
        wanted = [ids[d] for d, _ in ranked if d in ids and ids[d] not in exclude]
        if include is not None:
            allowed = {info.id for info in include}
            wanted = [path_id for path_id in wanted if path_id in allowed]
        infos = await store.path_infos(namespace, wanted[:limit])
        hourly = await store.hourly(namespace, [info.digest for info in infos], span.days)
        names = span.day_names
        hits = [_hit_list(info, span, hourly[info.digest], daily, names) for info in infos]
        hits.sort(key=lambda hit: (-hit["count"], hit["path_id"]))
        if include is None:
            total = _site_sum(span, await store.month_totals(namespace, span.days), "v")
        else:
            every = await store.hourly(namespace, [info.digest for info in include], span.days)
            total = sum(_in_span(span, days)[0] for days in every.values())
        return json_response({"hits": hits, "total": total, "more": len(wanted) > limit})

    async def refs(self, request: Request) -> Response:
        query = Query(request)
        namespace = stats_site(request, query, "stats")
        span = span_of(query, self._now())
        limit = query.integer("limit", 20, 1, 100)
        offset = query.integer("offset", 0, 0)
        raw_id = request.path_params["path_id"]
        if not raw_id.isdigit():
            raise ApiError(400, errors={"path_id": ["must be an integer"]})
        store = await self.runtime.settled_store(namespace)
        infos = await store.path_infos(namespace, [int(raw_id)])
        if not infos:
            raise ApiError(404, "no such path")
        ranked = await store.ranked(namespace, span.days, f"r:{infos[0].digest}:", None)
        refs = []
        for member, count in ranked[offset : offset + limit]:
            scheme, _, name = member.partition("\t")
            refs.append({"name": name, "count": count, "ref_scheme": scheme or None})
        return json_response({"refs": refs, "more": len(ranked) > offset + limit})

    async def page(self, request: Request) -> Response:
        return await self._page(request, request.path_params["page"], None)

    async def detail(self, request: Request) -> Response:
        page = request.path_params["page"]
        if page not in DETAIL_PAGES:
            raise ApiError(400, errors={"page": [f"must be one of {', '.join(DETAIL_PAGES)}"]})
        return await self._page(request, page, request.path_params["id"])

    async def _page(self, request: Request, page: str, detail: str | None) -> Response:
        if page not in PAGES:
            raise ApiError(400, errors={"page": [f"must be one of {', '.join(PAGES)}"]})
        query = Query(request)
        namespace = stats_site(request, query, "stats")
        if query.strings("include_paths") and page != "toprefs":
            # Only referrers are also kept per path (r:<digest>:<day>); the other dimensions
            # are one sorted set per site and day, so a path filter has nothing to read.
            raise ApiError(
                400,
                errors={"include_paths": [
                    f"{page} are counted per site and day, not per path: only toprefs "
                    "can be filtered by path"
                ]},
            )  # fmt: skip
        span = span_of(query, self._now())
        limit = query.integer("limit", 20, 1, 100)
        offset = query.integer("offset", 0, 0)
        store = await self.runtime.settled_store(namespace)
        include = await self._include(store, namespace, query)
        if include is not None:
            ranked = await _path_refs(store, namespace, include, span)
        else:
            dim = CAMPAIGN_REFS if page == "campaigns" and detail is not None else _DIMENSION[page]
            ranked = await store.ranked(namespace, span.days, f"d:{dim}:", f"dm:{dim}:")
        counts: dict[tuple[str, str, str], int] = {}
        for member, count in ranked:
            if page == "campaigns" and detail is not None:
                campaign, source = orjson.loads(member)
                group_id, detail_name, scheme = campaign, source, ""
            else:
                group_id, name, detail_name, scheme = _group(page, member)
            if detail is None:
                key = (group_id, name, scheme)
            elif group_id == detail:
                key = ("", detail_name, scheme)
            else:
                continue
            counts[key] = counts.get(key, 0) + count
        if page == "toprefs" and detail is None:
            # GoatCounter's empty referrer (its dashboard's "(no data)"): the visits of these
            # whole days that named none are those the referrer counts do not hold.
            direct = await _visits(store, namespace, include, span) - sum(c for _, c in ranked)
            if direct > 0:
                counts[("", "", "")] = direct
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0][1]))
        stats = []
        for (group_id, name, scheme), count in ordered[offset : offset + limit]:
            item: dict[str, Any] = {"id": group_id, "name": name, "count": count}
            if detail is not None:
                del item["id"]  # GoatCounter: "not present in the detail view"
            if page == "toprefs":
                item["ref_scheme"] = scheme or None
            stats.append(item)
        return json_response({"stats": stats, "more": len(ordered) > offset + limit})

    async def _include(self, store: Store, namespace: str, query: Query) -> list[PathInfo] | None:
        if not query.values.get("include_paths"):
            return None
        return await self._paths_named(store, namespace, query, "include_paths")

    async def _paths_named(
        self, store: Store, namespace: str, query: Query, name: str
    ) -> list[PathInfo]:
        """Paths listed by id, or by path with ``path_by_name`` (GoatCounter's option)."""
        if query.boolean("path_by_name"):
            found = await store.path_ids(namespace, [path_digest(p) for p in query.strings(name)])
            return await store.path_infos(namespace, found.values())
        return await store.path_infos(namespace, query.ids(name))


def _path(info: PathInfo) -> dict[str, Any]:
    return {"id": info.id, "path": info.path, "title": info.title, "event": info.event}


def _in_span(span: Span, days: dict[date, list[int]]) -> tuple[int, list[tuple[date, list[int]]]]:
    """(visits inside the span, each day of the span with its hours outside it zeroed)."""
    total, out, edges = 0, [], span.edges
    for day in span.days:
        counts = days.get(day)
        if counts is None:
            out.append((day, _NO_HOURS))
            continue
        inside = edges.get(day)
        if inside is not None:
            counts = [n if hour in inside else 0 for hour, n in enumerate(counts)]
        total += sum(counts)
        out.append((day, counts))
    return total, out


def _hit_list(
    info: PathInfo, span: Span, days: dict[date, list[int]], daily: bool, names: dict[date, str]
) -> dict[str, Any]:
    count, per_day = _in_span(span, days)
    stats = [
        {"day": names[day], "hourly": hours, "daily": sum(hours) if hours is not _NO_HOURS else 0}
        for day, hours in per_day
    ]
    peak = max(
        (sum(hours) if daily else max(hours) for _, hours in per_day if hours is not _NO_HOURS),
        default=0,
    )
    return {
        "path_id": info.id, "path": info.path, "title": info.title, "event": info.event,
        "count": count, "max": peak, "stats": stats,
    }  # fmt: skip


async def _path_refs(
    store: Store, namespace: str, include: list[PathInfo], span: Span
) -> list[tuple[str, int]]:
    """The referrers of the listed paths, as the site's ``ref`` members (scheme, group, detail)."""
    counts: dict[str, int] = {}
    for info in include:
        for member, count in await store.ranked(namespace, span.days, f"r:{info.digest}:", None):
            scheme, _, detail = member.partition("\t")
            group = detail.partition("/")[0] if scheme == "h" else detail
            full = f"{scheme}\t{group}\t{detail}"
            counts[full] = counts.get(full, 0) + count
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


async def _visits(store: Store, namespace: str, include: list[PathInfo] | None, span: Span) -> int:
    """Visits of the span's whole days: the site's, or the listed paths'."""
    if include is None:
        totals = await store.month_totals(namespace, span.days)
        return sum(sum(fields.get("v", ())) for fields in totals.values())
    hourly = await store.hourly(namespace, [info.digest for info in include], span.days)
    return sum(sum(hours) for days in hourly.values() for hours in days.values())


def _site_sum(span: Span, totals: dict[date, dict[str, list[int]]], kind: str) -> int:
    """The site's ``v`` (visits) or ``e`` (event visits) inside the span."""
    total, edges = 0, span.edges
    for day, fields in totals.items():
        hours = fields.get(kind)
        if hours:
            inside = edges.get(day)
            total += sum(hours) if inside is None else sum(hours[h] for h in inside)
    return total
