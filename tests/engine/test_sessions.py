"""Session digests are keyed with a daily secret kept in Redis: an export cannot be reversed."""

from __future__ import annotations

import hashlib
import hmac
from ipaddress import IPv4Address

from counter import Store
from counter.engine.hits import parse_hit

DAY = "20260101"
NOW = 1_767_268_800_000  # 2026-01-01T12:00:00Z
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def _hit(ip: str, secrets: dict[str, bytes]) -> str:
    raw = {"path": "/a", "ip": ip, "user_agent": UA}
    return parse_hit(raw, namespace="site.com", no_sessions=False, now=NOW, secrets=secrets).session


async def test_the_daily_secret_is_shared_random_and_expires(store: Store) -> None:
    first = await store.session_secrets([DAY])
    again = await Store(store.redis, keys=store.keys).session_secrets([DAY])  # another worker
    assert first == again and len(first[DAY]) == 64
    other_day = await store.session_secrets(["20260102"])
    assert other_day["20260102"] != first[DAY]
    ttl = await store.redis.pttl(store.keys.session_secret(DAY))
    assert 0 < ttl <= 2 * 86_400_000
    await store.redis.delete(store.keys.session_secret(DAY), store.keys.session_secret("20260102"))


async def test_an_exported_session_digest_does_not_reveal_the_ip(store: Store) -> None:
    secrets = await store.session_secrets([DAY])
    session = _hit("10.7.3.9", secrets)
    assert session == _hit("10.7.3.9", secrets)  # one visitor, one session that day

    def unkeyed(ip: str) -> str:  # the digest before the fix
        material = f"v\0site.com\0{ip}\0{UA}\0{DAY}"
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def keyed(ip: str) -> str:
        material = f"v\0site.com\0{ip}\0{UA}".encode()
        return hmac.new(secrets[DAY], material, hashlib.sha256).hexdigest()[:16]

    candidates = [str(IPv4Address("10.7.0.0") + n) for n in range(65_536)]  # the /16
    assert [ip for ip in candidates if unkeyed(ip) == session] == []
    assert keyed("10.7.3.9") == session  # only the secret (in Redis, for 2 days) links them
    await store.redis.delete(store.keys.session_secret(DAY))
