"""API tokens: random secrets shown once, kept in Redis only as their SHA-256 digest.

A token is 240 random bits (more than the 160 the design asks for) in URL-safe base64
behind a ``cnt_`` prefix, so it can be recognised in a leaked config file. Redis holds
the digest, the name, the permissions and the namespaces; the secret itself never
leaves the process that created it except on the creator's stdout.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from counter.engine.base import StoreBase, as_text, driver_errors
from counter.engine.names import is_valid_name
from counter.errors import InvalidInput, TokenNameTaken

# GoatCounter's names for reading statistics (`stats`) and the sites list (`site-read`).
PERMISSIONS = ("count", "export", "read", "manage", "stats", "site-read")
ALL_NAMESPACES = "*"
TOKEN_PREFIX = "cnt_"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True, slots=True)
class Token:
    """What a token may do; never holds the secret."""

    name: str
    digest: str
    permissions: frozenset[str]
    namespaces: frozenset[str]  # {"*"} for every namespace
    created: int

    def allows_namespace(self, namespace: str) -> bool:
        return ALL_NAMESPACES in self.namespaces or namespace in self.namespaces

    @property
    def only_namespace(self) -> str | None:
        """The namespace a request may leave out, when the token names exactly one."""
        if len(self.namespaces) == 1 and ALL_NAMESPACES not in self.namespaces:
            return next(iter(self.namespaces))
        return None

    def permission_list(self) -> list[str]:
        return sorted(self.permissions, key=PERMISSIONS.index)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "permissions": self.permission_list(),
            "namespaces": sorted(self.namespaces),
            "created": self.created,
        }


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(30)


def parse_permissions(values: Iterable[str]) -> frozenset[str]:
    chosen = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = chosen - set(PERMISSIONS)
    if unknown:
        names, known = ", ".join(sorted(unknown)), ", ".join(PERMISSIONS)
        raise InvalidInput(f"unknown permission(s) {names}; choose from {known}")
    if not chosen:
        raise InvalidInput("a token needs at least one permission")
    return frozenset(chosen)


def parse_namespaces(values: Iterable[str]) -> frozenset[str]:
    chosen = {value.strip() for value in values if value.strip()}
    if not chosen:
        raise InvalidInput("a token needs --namespace NAME (repeatable) or --namespace '*'")
    for namespace in chosen:
        if namespace != ALL_NAMESPACES and not is_valid_name(namespace):
            raise InvalidInput(f"invalid namespace {namespace!r}")
    return frozenset(chosen)


def _check_name(name: str) -> str:
    if not 1 <= len(name) <= 64 or not set(name) <= _NAME_CHARS:
        raise InvalidInput("token names are 1-64 letters, digits, '_', '-' or '.'")
    return name


async def create_token(
    store: TokenStore,
    name: str,
    permissions: frozenset[str],
    namespaces: frozenset[str],
    *,
    now: int,
) -> tuple[str, Token]:
    """Make and store a token; returns the secret (shown once) and what it may do."""
    secret = new_secret()
    token = Token(_check_name(name), digest_of(secret), permissions, namespaces, now)
    await store.save_token(
        token.name,
        token.digest,
        {
            "name": token.name,
            "digest": token.digest,
            "permissions": ",".join(sorted(permissions)),
            "namespaces": ",".join(sorted(namespaces)),
            "created": str(now),
        },
    )
    return secret, token


def _from_record(record: dict[str, str]) -> Token:
    return Token(
        name=record["name"],
        digest=record["digest"],
        permissions=frozenset(record["permissions"].split(",")),
        namespaces=frozenset(record["namespaces"].split(",")),
        created=int(record.get("created", "0")),
    )


async def authenticate(store: TokenStore, secret: str) -> Token | None:
    """The token a presented secret belongs to, or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
        return None
    digest = digest_of(secret)
    record = await store.load_token(digest)
    # The lookup is by digest already; the constant-time check guards against a record
    # stored under the wrong key ever matching.
    if record is None or not hmac.compare_digest(record.get("digest", ""), digest):
        return None
    return _from_record(record)


async def list_tokens(store: TokenStore) -> list[Token]:
    return sorted(
        (_from_record(record) for record in await store.list_tokens()), key=lambda token: token.name
    )


async def revoke_token(store: TokenStore, name: str) -> bool:
    return await store.delete_token(name)


class TokenStore(StoreBase):
    """Token records under their SHA-256 digest, and the name -> digest index."""

    async def save_token(self, name: str, digest: str, fields: dict[str, str]) -> None:
        """Store a token's metadata under its digest; the name must be new."""
        async with driver_errors():
            if not await self.redis.hsetnx(self.keys.token_names(), name, digest):
                raise TokenNameTaken(f"a token named {name!r} already exists")
            pairs: list[str] = [part for pair in fields.items() for part in pair]
            await self.redis.hset(self.keys.token(digest), items=pairs)

    async def load_token(self, digest: str) -> dict[str, str] | None:
        async with driver_errors():
            raw = await self.redis.hgetall(self.keys.token(digest))
        return {as_text(name): as_text(value) for name, value in raw.items()} or None

    async def list_tokens(self) -> list[dict[str, str]]:
        async with driver_errors():
            names = await self.redis.hgetall(self.keys.token_names())
            records = [await self.load_token(as_text(digest)) for digest in names.values()]
        return [record for record in records if record is not None]

    async def delete_token(self, name: str) -> bool:
        async with driver_errors():
            digest = await self.redis.hget(self.keys.token_names(), name)
            if digest is None:
                return False
            await self.redis.delete(self.keys.token(as_text(digest)))
            await self.redis.hdel(self.keys.token_names(), name)
        return True
