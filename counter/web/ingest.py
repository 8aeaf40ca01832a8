"""The one way a GoatCounter hit is stored, whether it came from ``/count`` or the API.

Hits group by counter and hour, one ``count_hits`` script per group (each counter is its own
hash slot); then one ``log_hits`` script appends every counted hit to the namespace's log (one
stream entry for the batch) and says which were first visits; then one ``record_stats`` script
adds them to the namespace's statistics, summed per key and field (``engine/statbatch.py``).
Each step is atomic; a crash between two loses the later ones for this batch and never counts
a hit twice. A hit a counter refuses (bounds, overflow) is reported, and neither logged nor
counted in the statistics. A bot (the client's hint, or a User-Agent ``agents`` recognises)
counts in no counter: it goes to the log (exports show it) and to the bot tally only.

``/count`` brings one pageview per request; ``record_pageview`` lets the pageviews one worker
receives meanwhile go through ``record`` together (``engine/tickbatch.py``), one batch per
site: concurrent visitors of a site share its ``log_hits`` and ``record_stats`` calls, which
cost Redis per call far more than per hit. Each pageview still gets its own answer.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from counter.engine.agents import parse_agent
from counter.engine.hits import Hit
from counter.engine.records import LogLimits
from counter.engine.sitehits import stat_hit
from counter.engine.store import Store
from counter.engine.tickbatch import TickBatcher, run_groups
from counter.errors import OutOfBounds, Overflow
from counter.runtime import Runtime
from counter.web.geoip import GeoIp

VISIT_WINDOW_MS = 8 * 3_600_000  # GoatCounter's session lifetime


@dataclass(frozen=True, slots=True)
class Pageview:
    """One ``/count`` request's hit, as ``record_pageview`` queues it."""

    namespace: str
    hit: Hit
    language: str
    now: int


class Ingest:
    """Counters, hit log and statistics for a batch of one namespace's hits."""

    def __init__(self, runtime: Runtime, clock: Callable[[], int]) -> None:
        self.runtime = runtime
        self.clock = clock
        settings = runtime.settings
        self.log_limits = LogLimits(
            max_entries=settings.hit_log_max_entries,
            max_age_ms=settings.hit_log_max_age_days * 86_400_000,
            visit_window_ms=VISIT_WINDOW_MS,
        )
        self._known_sites: set[str] = set()
        self.geoip = GeoIp(settings.geoip_db)  # locations of hits that bring no location
        self._pageviews: TickBatcher[Pageview, list[str]] = TickBatcher(self._record_pageviews)

    async def record_pageview(self, pageview: Pageview) -> list[str]:
        """Store one pageview with the others of the moment; its refusals ([] if counted)."""
        [refusals] = await self._pageviews.submit([pageview])
        return refusals

    async def _record_pageviews(self, pageviews: list[Pageview]) -> list[list[str] | Exception]:
        """One ``record`` per site, in arrival order; a site whose batch failed fails alone."""
        by_site: dict[str, list[int]] = defaultdict(list)
        for position, pageview in enumerate(pageviews):
            by_site[pageview.namespace].append(position)

        async def site(positions: Sequence[int]) -> list[list[str]]:
            batch = [pageviews[position] for position in positions]
            errors: dict[str, list[str]] = {}
            await self.record(
                batch[0].namespace,
                {index: pageview.hit for index, pageview in enumerate(batch)},
                errors,
                now=max(pageview.now for pageview in batch),
                languages={index: pageview.language for index, pageview in enumerate(batch)},
            )
            return [errors.get(str(index), []) for index in range(len(batch))]

        return await run_groups(list(by_site.values()), site, len(pageviews))

    async def record(
        self,
        namespace: str,
        hits: Mapping[int, Hit],
        errors: dict[str, list[str]],
        *,
        now: int,
        languages: Mapping[int, str] | None = None,
    ) -> list[int]:
        """Store ``hits`` (index -> hit); refusals go into ``errors``. The indexes stored."""
        store = await self.runtime.store()
        hits = {index: _with_bot(hit) for index, hit in hits.items()}
        people = {index: hit for index, hit in hits.items() if not hit.bot}
        counted = await self._count_into_counters(store, namespace, people, errors, now)
        counted = sorted([*counted, *(index for index, hit in hits.items() if hit.bot)])
        if not counted:
            return counted
        _, _, visits = await store.log_hits_with_visits(
            namespace, [hits[i].log_row() for i in counted], now=now, limits=self.log_limits
        )
        languages = languages or {}
        stats = [
            stat_hit(hits[i], visit=visit, language=languages.get(i, ""))
            for i, visit in zip(counted, visits, strict=True)
        ]
        # Folded with the site's other hits of the moment, or written now (flush interval 0).
        await self.runtime.site_stats.add(namespace, stats)
        if namespace not in self._known_sites:  # the sites list; once per process and site
            await store.add_site(namespace)
            self._known_sites.add(namespace)
        return counted

    async def _count_into_counters(
        self,
        store: Store,
        namespace: str,
        hits: Mapping[int, Hit],
        errors: dict[str, list[str]],
        now: int,
    ) -> list[int]:
        """One script per (counter, hour), pipelined; returns the indexes counted, in order."""
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for index, hit in hits.items():
            groups[(hit.key, hit.created_at - hit.created_at % 3_600_000)].append(index)
        if not groups:
            return []
        batch = [(key, len(indexes), hour) for (key, hour), indexes in groups.items()]
        results = await store.count_batch(namespace, batch, now=now)
        counted: list[int] = []
        for (key, _), indexes, result in zip(groups, groups.values(), results, strict=True):
            if isinstance(result, OutOfBounds | Overflow):
                reason = (
                    "counter does not accept hits (update_upperbound below 1)"
                    if isinstance(result, OutOfBounds)
                    else "counter would overflow a signed 64-bit integer"
                )
                for index in indexes:
                    errors[str(index)] = [f"{namespace}/{key}: {reason}"]
                continue
            self.runtime.stats.count("keys_updated")
            if result.created:
                self.runtime.stats.count("keys_created")
            counted.extend(indexes)
        return sorted(counted)


def _with_bot(hit: Hit) -> Hit:
    """The hit with the server's bot verdict when it has one (GoatCounter prefers it)."""
    detected = parse_agent(hit.user_agent).bot
    return dataclasses.replace(hit, bot=detected) if detected and not hit.bot else hit
