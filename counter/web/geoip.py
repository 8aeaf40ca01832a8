"""Locations from a MaxMind database the operator points to (``--geoip-db``), never fetched.

Without a database every hit's location is what it says itself (``location`` in the API) or
unknown. With one, ``geoip2`` (the optional extra ``counter[geoip]``) reads country and
first subdivision, as GoatCounter does: ``US-CA``, or ``NL`` without a region.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from counter.errors import ConfigError


class GeoIp:
    def __init__(self, database: Path | None) -> None:
        self._reader: Any = None
        if database is None:
            return
        try:
            import geoip2.database
        except ImportError:
            raise ConfigError(
                "COUNTER_GEOIP_DB needs the geoip2 package: pip install 'counter[geoip]'"
            ) from None
        try:
            self._reader = geoip2.database.Reader(str(database))
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"COUNTER_GEOIP_DB (--geoip-db): cannot read {database}: {error}"
            ) from None
        self._type = self._reader.metadata().database_type
        self.location = lru_cache(maxsize=4096)(self._lookup)  # type: ignore[method-assign]

    def location(self, ip: str) -> str:
        """``CC`` or ``CC-REGION`` of an address; '' when unknown or without a database."""
        return ""

    def _lookup(self, ip: str) -> str:
        if not ip:
            return ""
        try:
            if "City" in self._type:
                found = self._reader.city(ip)
                region = found.subdivisions.most_specific.iso_code if found.subdivisions else None
            else:
                found = self._reader.country(ip)
                region = None
        except Exception:  # not in the database, or a private address: unknown, not an error
            return ""
        country = found.country.iso_code or ""
        return f"{country}-{region}" if country and region else country
