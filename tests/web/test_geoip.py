"""Locations from a MaxMind database the operator points to: a City database written here with
mmdb-writer (MaxMind's format), read by the geoip2 library as ``--geoip-db`` reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from redis.asyncio import Redis

from counter import ConfigError, Settings, Store
from counter.web.geoip import GeoIp
from tests.apikit import api_client, bearer, new_token

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}


@pytest.fixture
def city_db(tmp_path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(
        IPSet(["203.0.113.0/24"]),
        {"country": {"iso_code": "US"}, "subdivisions": [{"iso_code": "CA"}]},
    )
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "NL"}})
    path = tmp_path / "city.mmdb"
    writer.to_db_file(str(path))
    return path


def test_lookups(city_db: Path) -> None:
    geoip = GeoIp(city_db)
    assert geoip.location("203.0.113.9") == "US-CA"
    assert geoip.location("198.51.100.1") == "NL"
    assert geoip.location("192.0.2.1") == ""  # not in the database: unknown, no error
    assert GeoIp(None).location("203.0.113.9") == ""
    with pytest.raises(ConfigError, match="COUNTER_GEOIP_DB"):
        GeoIp(city_db.parent / "missing.mmdb")


async def test_count_takes_the_location_from_the_database(
    settings: Settings, store: Store, redis: Redis, city_db: Path
) -> None:
    async with api_client(
        settings.with_changes(geoip_db=city_db), client=("203.0.113.9", 1)
    ) as http:
        assert (await http.get("/count?p=/x", headers=BROWSER)).status_code == 200
    [(_, entry)] = await store.read_hit_log("default", after=0, until=9, count=9)
    assert entry["l"] == "US-CA" and "203.0.113.9" not in str(entry)


async def test_api_hits_take_their_location_from_their_ip(
    settings: Settings, store: Store, redis: Redis, city_db: Path
) -> None:
    secret = await new_token(store)
    hits = [
        {"path": "/a", "ip": "198.51.100.7", "user_agent": BROWSER["User-Agent"]},
        {"path": "/b", "ip": "198.51.100.7", "location": "DE", "user_agent": "x"},
    ]
    async with api_client(settings.with_changes(geoip_db=city_db), headers=bearer(secret)) as http:
        response = await http.post("/api/v0/count", json={"hits": hits})
        assert response.status_code == 202
    entries = await store.read_hit_log("site.com", after=0, until=9, count=9)
    assert [entry["l"] for _, entry in entries] == ["NL", "DE"]
