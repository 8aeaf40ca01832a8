"""Site statistics in Redis: what GoatCounter's dashboard and stats API show, kept at ingest.

A namespace is a site. ``record_stats.lua`` adds each batch atomically; every key is in the
namespace's slot ``{ns}`` and every time bucket expires ``retention`` after its span ends:

- ``pid``/``pinfo``/``ptot``: path digest -> id, id -> [path, title, event, digest, first day],
  digest -> all-time visits (at most ``max_paths`` paths; later ones count in the site totals);
- ``meta``: last path id, first day, all-time visits, pageviews and bots;
- ``y:<digest>:<yyyy>``: a path's year, ``mmdd`` = 24 hourly visit counts, ``mmddp`` pageviews;
- ``m:<yyyymm>``: the site's month, fields ``<dd>v``/``<dd>e`` 24 hourly visits/event visits,
  ``<dd>p`` pageviews and ``<dd>b`` bots per day;
- ``pd:<day>``/``pm:<month>``: hashes, visits per path digest (the ranking; earlier releases
  wrote sorted sets ``td:``/``tm:``, which ``path_ranking`` adds in until they expire);
- ``d:<dim>:<day>``/``dm:<dim>:<month>``: visits per browser, system, size, location, language,
  campaign, referrer and campaign+referrer (``cref``), at most ``member_cap`` members each;
- ``r:<digest>:<day>``: a path's referrers.
A range reads whole months from the month keys and the days at its edges from the day keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from counter.engine.base import StoreBase, as_text, driver_errors
from counter.engine.statbatch import (
    PATH_DAY,
    PATH_MONTH,
    SORTED_PATH_DAY,
    SORTED_PATH_MONTH,
    StatBatch,
    StatHit,
    StatLimits,
    path_digest,
)

__all__ = ["CAMPAIGN_REFS", "DIMENSIONS", "PathInfo", "SiteStatsStore", "StatHit", "StatLimits",
           "path_digest"]  # fmt: skip

# "cref": a campaign's referrers, members JSON [campaign, referrer] (GoatCounter's campaign detail).
CAMPAIGN_REFS = "cref"
DIMENSIONS = ("browser", "system", "size", "location", "language", "campaign", "ref", CAMPAIGN_REFS)
DAY_MS = 86_400_000
_EXPIRY_SET: set[str] = set()  # bucket keys whose expiry this process has set


@dataclass(frozen=True, slots=True)
class PathInfo:
    id: int
    path: str
    title: str
    event: bool
    digest: str
    first_day: str


def _month_end(day: date) -> datetime:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return datetime(following.year, following.month, 1, tzinfo=UTC)


class SiteStatsStore(StoreBase):
    """Writes and reads of the site statistics."""

    def _stat(self, namespace: str, name: str) -> str:
        return self.keys.site_stat(namespace, name)

    async def record_site_stats(
        self, namespace: str, hits: Sequence[StatHit], limits: StatLimits
    ) -> int:
        """Add hits to the statistics in one script; returns how many new paths it made."""
        if not hits:
            return 0
        batch = StatBatch(lambda name: self._stat(namespace, name), limits)
        for hit in hits:
            batch.add(hit)
        done = _EXPIRY_SET
        if len(done) > 200_000:
            done.clear()
        fixed = [self._stat(namespace, name) for name in ("pid", "pinfo", "ptot", "meta")]
        keys, args = batch.keys_and_args(fixed, done)
        reply = await self._eval("record_stats", keys, args)
        done.update(batch.bucket_keys)
        return int(reply[1])

    async def add_site(self, namespace: str) -> None:
        async with driver_errors():
            await self.redis.sadd(self.keys.site_index(), namespace)

    async def known_sites(self) -> list[str]:
        async with driver_errors():
            members = await self.redis.smembers(self.keys.site_index())
        return sorted(as_text(member) for member in members)

    async def resolve_sessions(
        self, namespace: str, offers: Sequence[tuple[str, str]], lifetime_ms: int
    ) -> list[str]:
        """For each (visitor digest, fresh random id): the session id that digest has now."""
        reply = await self._eval(
            "resolve_sessions",
            [self.keys.session(namespace, digest) for digest, _ in offers],
            [lifetime_ms, *(offered for _, offered in offers)],
        )
        return [as_text(value) for value in reply[1:]]

    # Reads -------------------------------------------------------------------------------

    async def site_meta(self, namespace: str) -> dict[str, str]:
        async with driver_errors():
            raw = await self.redis.hgetall(self._stat(namespace, "meta"))
        return {as_text(k): as_text(v) for k, v in raw.items()}

    async def path_infos(self, namespace: str, ids: Iterable[int]) -> list[PathInfo]:
        wanted = list(ids)
        if not wanted:
            return []
        async with driver_errors():
            raw = await self.redis.hmget(self._stat(namespace, "pinfo"), wanted)
        infos = []
        for path_id, value in zip(wanted, raw, strict=True):
            if value is not None:
                path, title, event, digest, first = orjson.loads(value)
                infos.append(PathInfo(path_id, path, title, bool(event), digest, first))
        return infos

    async def path_ids(self, namespace: str, digests: Sequence[str]) -> dict[str, int]:
        if not digests:
            return {}
        async with driver_errors():
            raw = await self.redis.hmget(self._stat(namespace, "pid"), list(digests))
        return {d: int(v) for d, v in zip(digests, raw, strict=True) if v is not None}

    async def path_total(self, namespace: str, digest: str) -> int:
        async with driver_errors():
            value = await self.redis.hget(self._stat(namespace, "ptot"), digest)
        return int(value or 0)

    async def ranked(
        self, namespace: str, days: Sequence[date], day_prefix: str, month_prefix: str | None
    ) -> list[tuple[str, int]]:
        """Members of day (and month) sorted sets summed over ``days``, most first."""
        return _sorted(await self._ranked_sets(namespace, days, day_prefix, month_prefix))

    async def path_ranking(self, namespace: str, days: Sequence[date]) -> list[tuple[str, int]]:
        """Path digests by visits over ``days``, most first: the day and month hashes
        (``record_stats`` writes) summed with the sorted sets earlier releases wrote."""
        counts = await self._ranked_sets(namespace, days, SORTED_PATH_DAY, SORTED_PATH_MONTH)
        names = [self._stat(namespace, name) for name in _cover(days, PATH_DAY, PATH_MONTH)]
        for fields in await self._hashes(names):
            for member, value in fields.items():
                digest = as_text(member)
                counts[digest] = counts.get(digest, 0) + int(value)
        return _sorted(counts)

    async def _hashes(self, names: Sequence[str]) -> list[dict[Any, Any]]:
        """HGETALL of each key, in one pipelined round trip (none for no keys)."""
        if not names:
            return []
        async with driver_errors():
            pipe = self.redis.pipeline(transaction=False)
            for name in names:
                pipe.hgetall(name)
            return list(await pipe.execute())

    async def _ranked_sets(
        self, namespace: str, days: Sequence[date], day_prefix: str, month_prefix: str | None
    ) -> dict[str, int]:
        if month_prefix is None:
            covered = [f"{day_prefix}{day.strftime('%Y%m%d')}" for day in days]
        else:
            covered = _cover(days, day_prefix, month_prefix)
        names = [self._stat(namespace, name) for name in covered]
        if not names:
            return {}
        async with driver_errors():
            reply = await self.redis.execute_command("ZUNION", len(names), *names, "WITHSCORES")
        if reply and isinstance(reply[0], list | tuple):  # redis-py pairs WITHSCORES replies
            flat = [item for pair in reply for item in pair]
        else:
            flat = list(reply or [])
        return {as_text(flat[i]): int(float(flat[i + 1])) for i in range(0, len(flat), 2)}

    async def hourly(
        self, namespace: str, digests: Sequence[str], days: Sequence[date]
    ) -> dict[str, dict[date, list[int]]]:
        """Each path's 24 hourly visit counts for each of ``days`` that has any."""
        years = sorted({day.year for day in days})
        wanted = {day for day in days}
        out: dict[str, dict[date, list[int]]] = {digest: {} for digest in digests}
        replies = await self._hashes(
            [self._stat(namespace, f"y:{digest}:{year}") for digest in digests for year in years]
        )
        at = 0
        found: list[tuple[str, date]] = []
        raws: list[bytes] = []
        for digest in digests:
            for year in years:
                for field, value in replies[at].items():
                    name = field if isinstance(field, bytes) else field.encode()
                    if len(name) != 4:
                        continue  # mmddp: pageviews
                    day = date(year, int(name[:2]), int(name[2:]))
                    if day in wanted:
                        found.append((digest, day))
                        raws.append(value if isinstance(value, bytes) else value.encode())
                at += 1
        # Every day's 24 numbers in one orjson call: far faster than int() on each, or a call
        # per day, for a year of many paths.
        for (digest, day), counts in zip(
            found, orjson.loads(b"[[" + b"],[".join(raws) + b"]]") if raws else [], strict=True
        ):
            out[digest][day] = counts
        return out

    async def month_totals(
        self, namespace: str, days: Sequence[date]
    ) -> dict[date, dict[str, list[int]]]:
        """The site's days: ``v``/``e`` hourly (event) visits, ``p``/``b`` [pageviews]/[bots]."""
        months = sorted({(day.year, day.month) for day in days})
        wanted = set(days)
        replies = await self._hashes(
            [self._stat(namespace, f"m:{year:04d}{month:02d}") for year, month in months]
        )
        out: dict[date, dict[str, list[int]]] = {}
        for (year, month), fields in zip(months, replies, strict=True):
            for field, value in fields.items():
                name = field if isinstance(field, bytes) else field.encode()
                day = date(year, month, int(name[:2]))
                if day in wanted:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    out.setdefault(day, {})[name[2:].decode()] = orjson.loads(b"[" + raw + b"]")
        return out


def _sorted(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


def _cover(days: Sequence[date], day_prefix: str, month_prefix: str) -> list[str]:
    """Key names covering ``days``: a month key for each whole month, day keys for the rest."""
    by_month: dict[tuple[int, int], list[date]] = {}
    for day in days:
        by_month.setdefault((day.year, day.month), []).append(day)
    names = []
    for (year, month), members in sorted(by_month.items()):
        length = (_month_end(date(year, month, 1)).date() - date(year, month, 1)).days
        if len(members) == length:
            names.append(f"{month_prefix}{year:04d}{month:02d}")
        else:
            names.extend(f"{day_prefix}{day.strftime('%Y%m%d')}" for day in members)
    return names
