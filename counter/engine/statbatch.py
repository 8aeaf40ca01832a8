"""A batch of hits as ``record_stats.lua`` takes it: summed per key and field, flat ARGV.

A batch of a hundred hits shares a few days and hours, browsers, systems, sizes and
locations: each (key, field) or (key, member) increment is sent once with its summed
amount, in the order of its first hit, so the script does O(distinct increments) work
instead of O(hits), and decodes no JSON. The result is the same as sending the hits one
by one (``tests/engine/test_stat_batch.py``): capped sets admit newcomers in the order of
their first hit, a path is created by its first hit, and its title is the one of its last
visit with a title.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from counter.errors import InvalidInput

HOUR_MS = 3_600_000
SITE = 0  # an increment that does not depend on a path having an id
# What a ranking key is: a sorted set, one whose newcomers are capped, or a hash of counts.
# The path rankings are hashes: the one reader (``SiteStatsStore.path_ranking``) sums whole
# keys and sorts in Python anyway, and a hash field costs Redis a fraction of a skiplist
# update in a set of thousands of paths, most with equal scores.
PLAIN, CAPPED, COUNTS = 0, 1, 2
PATH_DAY, PATH_MONTH = "pd:", "pm:"  # + yyyymmdd / yyyymm: hashes, path digest -> visits
# Earlier releases kept the path rankings as sorted sets under these names; they are read
# (and summed with the hashes) until the retention has expired them.
SORTED_PATH_DAY, SORTED_PATH_MONTH = "td:", "tm:"
META = 4  # the site meta hash's index in KEYS


def path_digest(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class StatHit:
    """One hit as the statistics see it (see ``sitehits.stat_hit``)."""

    path: str
    title: str
    event: bool
    visit: bool  # the first time its session saw this path
    bot: bool
    at: int  # ms
    dims: dict[str, str]  # dimension -> member ('' or missing: not counted)
    ref: str  # the referrer as the path's referrer list shows it ('' none)


@dataclass(frozen=True, slots=True)
class StatLimits:
    retention_ms: int
    member_cap: int
    max_paths: int


@dataclass(frozen=True, slots=True)
class _Hour:
    """What the statistics need of one UTC hour (shared by every hit in it)."""

    day: str  # yyyymmdd
    month: str  # yyyymm
    year: int
    mmdd: str
    dd: str
    hour: int
    day_end: int  # ms
    month_end: int
    year_end: int


def _hour(hour_ms: int) -> _Hour:
    moment = datetime.fromtimestamp(hour_ms / 1000, UTC)
    day = moment.strftime("%Y%m%d")
    midnight = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    following = (midnight.replace(day=1) + timedelta(days=32)).replace(day=1)
    return _Hour(
        day=day,
        month=day[:6],
        year=moment.year,
        mmdd=day[4:],
        dd=day[6:],
        hour=moment.hour,
        day_end=int((midnight + timedelta(days=1)).timestamp() * 1000),
        month_end=int(following.timestamp() * 1000),
        year_end=int(datetime(moment.year + 1, 1, 1, tzinfo=UTC).timestamp() * 1000),
    )


@dataclass(slots=True)
class _Path:
    number: int  # 1-based, order of first hit
    digest: str
    path: str
    title: str  # its first hit's
    event: bool
    first_day: str
    newer_title: str = ""  # of its last visit with a title
    visits: int = 0


@dataclass(slots=True)
class _Hash:
    path: int  # SITE, or the path whose id the whole key needs (its year hash)
    fields: dict[str, int | dict[int, int]]  # field -> amount, or hour -> amount


@dataclass(slots=True)
class _Zset:
    kind: int  # PLAIN, CAPPED (sorted sets) or COUNTS (a hash: the path rankings)
    members: dict[str, list[int]]  # member -> [path (SITE: none), amount]


class StatBatch:
    """Collects hits; ``keys_and_args`` gives the script's KEYS and ARGV."""

    def __init__(self, name: Callable[[str], str], limits: StatLimits) -> None:
        self._name = name  # statistic name -> full key
        self._limits = limits
        self._keys: dict[str, int] = {}  # full key -> index in KEYS (5..)
        self._expire: list[int] = []  # aligned with _keys
        self._paths: dict[str, _Path] = {}
        self._hashes: dict[int, _Hash] = {}  # key index -> increments, in order of first hit
        self._zsets: dict[int, _Zset] = {}
        self._first_day = ""
        self._hours: dict[int, _Hour] = {}
        self._short: dict[str, int] = {}  # name without the namespace's prefix -> index
        self._hour_keys: dict[int, tuple[int, int, int]] = {}
        self._dims: dict[tuple[str, str], tuple[int, int]] = {}

    def _key(self, name: str, ends: int) -> int:
        index = self._short.get(name)
        if index is None:
            index = self._short[name] = self._keys[self._name(name)] = len(self._keys) + 5
            self._expire.append(ends + self._limits.retention_ms)
        return index

    def _site_keys(self, hour_ms: int, when: _Hour) -> tuple[int, int, int]:
        """The hour's month, day-ranking and month-ranking keys (most hits share them)."""
        found = self._hour_keys.get(hour_ms)
        if found is None:
            found = self._hour_keys[hour_ms] = (
                self._key(f"m:{when.month}", when.month_end),
                self._key(f"{PATH_DAY}{when.day}", when.day_end),
                self._key(f"{PATH_MONTH}{when.month}", when.month_end),
            )
        return found

    def _dim_keys(self, when: _Hour, dim: str) -> tuple[int, int]:
        found = self._dims.get((when.day, dim))
        if found is None:
            found = self._dims[(when.day, dim)] = (
                self._key(f"d:{dim}:{when.day}", when.day_end),
                self._key(f"dm:{dim}:{when.month}", when.month_end),
            )
        return found

    def _count(self, key: int, field: str, path: int = SITE) -> None:
        fields = self._hash(key, path)
        amount = fields.get(field, 0)
        assert isinstance(amount, int)
        fields[field] = amount + 1

    def _count_hour(self, key: int, field: str, hour: int, path: int = SITE) -> None:
        hours = self._hash(key, path).setdefault(field, {})
        assert isinstance(hours, dict)
        hours[hour] = hours.get(hour, 0) + 1

    def _hash(self, key: int, path: int) -> dict[str, int | dict[int, int]]:
        found = self._hashes.get(key)
        if found is None:
            found = self._hashes[key] = _Hash(path, {})
        return found.fields

    def _rank(self, key: int, member: str, path: int, *, kind: int) -> None:
        found = self._zsets.get(key)
        if found is None:
            found = self._zsets[key] = _Zset(kind, {})
        slot = found.members.get(member)
        if slot is None:
            found.members[member] = [path, 1]
        else:
            slot[1] += 1

    @staticmethod
    def check(hit: StatHit) -> None:
        """Refuse a hit the script would refuse, before anything of it is queued or sent."""
        if "\t" in hit.path or "\t" in hit.title:  # the script's path record is tab-separated
            raise InvalidInput("invalid argument to record_stats: hits")

    def add(self, hit: StatHit) -> None:
        self.check(hit)
        hour_ms = hit.at - hit.at % HOUR_MS
        when = self._hours.get(hour_ms)
        if when is None:
            when = self._hours[hour_ms] = _hour(hour_ms)
        if not self._first_day or when.day < self._first_day:
            self._first_day = when.day
        month, top_day, top_month = self._site_keys(hour_ms, when)
        if hit.bot:  # bots are kept apart: counted, never shown as pageviews
            self._count(META, "bots")
            self._count(month, when.dd + "b")
            return
        self._count(META, "pageviews")
        self._count(month, when.dd + "p")
        digest = path_digest(hit.path)
        path = self._paths.get(digest)
        if path is None:
            path = _Path(len(self._paths) + 1, digest, hit.path, hit.title, hit.event, when.day)
            self._paths[digest] = path
        p = path.number
        year = self._key(f"y:{digest}:{when.year}", when.year_end)
        self._count(year, when.mmdd + "p", p)
        if not hit.visit:
            return
        if hit.title:
            path.newer_title = hit.title
        path.visits += 1
        self._count(META, "visits")
        self._count_hour(month, when.dd + "v", when.hour)
        if hit.event:
            self._count_hour(month, when.dd + "e", when.hour)
        self._count_hour(year, when.mmdd, when.hour, p)
        self._rank(top_day, digest, p, kind=COUNTS)
        self._rank(top_month, digest, p, kind=COUNTS)
        if hit.ref:
            self._rank(self._key(f"r:{digest}:{when.day}", when.day_end), hit.ref, p, kind=CAPPED)
        for dim, member in hit.dims.items():
            if member:
                by_day, by_month = self._dim_keys(when, dim)
                self._rank(by_day, member, SITE, kind=CAPPED)
                self._rank(by_month, member, SITE, kind=CAPPED)

    def keys_and_args(
        self, fixed: Sequence[str], expiry_set: set[str]
    ) -> tuple[list[str], list[str | int]]:
        """KEYS (``fixed``: pid, pinfo, ptot, meta; then the buckets) and ARGV.

        A bucket's expire-at never changes: it is sent once per key and process
        (``expiry_set`` holds the keys already done; 0 tells the script to leave it).
        """
        args: list[str | int] = [
            self._limits.member_cap,
            self._limits.max_paths,
            self._first_day,
            len(self._paths),
            len(self._hashes),
            len(self._zsets),
        ]
        args += [
            0 if key in expiry_set else at for key, at in zip(self._keys, self._expire, strict=True)
        ]
        for path in self._paths.values():
            info = "\t".join((f"{int(path.event)}{path.first_day}", path.path,
                              path.newer_title or path.title, path.newer_title))  # fmt: skip
            args += [path.digest, path.visits, info]
        for key, group in self._hashes.items():
            args += [key, group.path, len(group.fields)]
            for field, amount in group.fields.items():
                spec = (
                    f"+{amount}"
                    if isinstance(amount, int)
                    else "".join(f"@{hour}:{n}" for hour, n in amount.items())
                )
                args += [field, spec]
        for key, zset in self._zsets.items():
            args += [key, zset.kind, len(zset.members)]
            for member, (path_number, amount) in zset.members.items():
                args += [path_number, member, amount]
        return [*fixed, *self._keys], args

    @property
    def bucket_keys(self) -> list[str]:
        return list(self._keys)
