"""API tokens: the CLI against the server's own Redis, and no secret in Redis, its AOF, or a log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from counter import Store
from counter.cli.main import main
from counter.engine.tokens import TOKEN_PREFIX, authenticate, digest_of
from tests.apikit import new_token
from tests.conftest import Backend
from tests.servers import ServeProcess


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "counter.cli", "token", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def everything_under(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file())


@pytest.mark.slow
def test_cli_and_server_share_the_embedded_redis_and_no_secret_is_stored(tmp_path: Path) -> None:
    data = tmp_path / "d"
    # No server yet: the CLI starts the embedded Redis of that data directory for a moment.
    created = cli("create", "--data-dir", str(data), "--name", "first", "--perm", "count",
                  "--perm", "read", "--namespace", "site.com")  # fmt: skip
    first = created.stdout.splitlines()[-1]
    assert first.startswith(TOKEN_PREFIX) and first not in created.stdout.splitlines()[0]
    assert len(first) - len(TOKEN_PREFIX) >= 27  # >= 160 bits in URL-safe base64

    server = ServeProcess(["--data-dir", str(data)], {"COUNTER_REDIS_URL": ""}, tmp_path).start()
    try:
        # The server runs: the CLI talks to its Redis instead of starting another one.
        second = cli("create", "--data-dir", str(data), "--name", "second", "--perm",
                     "export", "--namespace", "*").stdout.splitlines()[-1]  # fmt: skip
        for secret, name in ((first, "first"), (second, "second")):
            me = httpx.get(f"{server.base_url}/api/v0/me",
                           headers={"Authorization": f"Bearer {secret}"}, timeout=10)  # fmt: skip
            assert (me.status_code, me.json()["name"]) == (200, name)
        listing = cli("list", "--data-dir", str(data)).stdout
        assert "first\tcount,read\tsite.com\t" in listing and "second\texport\t*\t" in listing
        assert first not in listing and second not in listing
        assert cli("revoke", "first", "--data-dir", str(data)).returncode == 0
        revoked = httpx.get(f"{server.base_url}/api/v0/me",
                            headers={"Authorization": f"Bearer {first}"}, timeout=10)  # fmt: skip
        assert revoked.status_code == 401
    finally:
        _, output = server.stop()
    stored = everything_under(data)  # the AOF (flushed on shutdown) and redis.log
    assert digest_of(second).encode() in stored  # the token record is there ...
    for secret in (first, second):  # ... but never the secret itself
        assert secret.encode() not in stored
        assert secret not in output


def test_cli_reports_bad_requests(
    backend: Backend, prefix: str, redis: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    where = [*backend.serve_args(), "--prefix", prefix]

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["token", *args, *where])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run("create", "--name", "dup", "--perm", "count", "--namespace", "site.com")
    assert code == 0 and out.splitlines()[-1].startswith(TOKEN_PREFIX)
    code, _, err = run("create", "--name", "dup", "--perm", "count", "--namespace", "site.com")
    assert code == 1 and "already exists" in err
    code, _, err = run("create", "--name", "p", "--perm", "admin", "--namespace", "site.com")
    assert code == 2 and "unknown permission" in err
    code, _, err = run("create", "--name", "n", "--perm", "count", "--namespace", "{x}")
    assert code == 2 and "invalid namespace" in err
    code, _, err = run("revoke", "nobody")
    assert code == 1 and "no token named" in err
    code, out, _ = run("list")
    assert code == 0 and "dup\tcount\tsite.com" in out


async def test_tokens_are_random_and_stored_as_digests(store: Store) -> None:
    secrets = {await new_token(store, f"t-{n}") for n in range(5)}
    assert len(secrets) == 5
    for secret in secrets:
        record = await store.load_token(digest_of(secret))
        assert record is not None and secret not in str(record)
        assert (await authenticate(store, secret)) is not None
        assert await authenticate(store, secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
