"""``counter get|hit|set|info|list|export|snapshot|restore|import-countapi`` on every backend."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from counter import Settings, Store
from counter.cli.main import main
from counter.errors import CounterNotFound
from tests.apikit import api_client, bearer, new_token
from tests.conftest import Backend

Run = tuple[int, str, str]


@pytest.fixture
def run(backend: Backend, prefix: str, redis: object, capsys: pytest.CaptureFixture[str]) -> object:
    """``counter <args> --redis-... --prefix <test prefix>`` in this process: (code, out, err)."""
    where = [*backend.serve_args(), "--prefix", prefix]

    def call(*args: str) -> Run:
        code = main([*args, *where])
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_one_counter_commands_and_their_exit_codes(run: object) -> None:
    cli = run  # type: ignore[assignment]
    assert cli("hit", "site.com/home") == (0, "1\n", "")
    assert cli("hit", "site.com/home")[:2] == (0, "2\n")
    assert cli("get", "site.com/home")[:2] == (0, "2\n")
    assert cli("set", "site.com/about", "-9223372036854775808")[:2] == (0, "-9223372036854775808\n")
    assert cli("hit", "plain")[:2] == (0, "1\n")  # no slash: namespace 'default'
    code, out, _ = cli("info", "default/plain")
    assert code == 0 and orjson.loads(out)["value"] == 1
    code, out, _ = cli("list", "site.com")
    assert (code, out) == (0, "about\t-9223372036854775808\nhome\t2\n")
    code, out, _ = cli("list", "site.com", "--json")
    assert [orjson.loads(line)["key"] for line in out.splitlines()] == ["about", "home"]

    code, out, err = cli("get", "site.com/missing")
    assert (code, out) == (1, "") and err == "counter: error: not found: site.com/missing\n"
    assert cli("get", "site.com/a b")[0] == 2  # malformed name: refused before connecting
    code, _, err = cli("set", "site.com/home", "9223372036854775808")
    assert code == 2 and "64-bit" in err
    assert cli("get", "site.com/home")[1] == "2\n"  # the refused set wrote nothing
    assert cli("set", "site.com/top", "9223372036854775807")[0] == 0
    code, _, err = cli("hit", "site.com/top")
    assert code == 1 and err.startswith("counter: error: refused: Overflow")


def test_unreachable_redis_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["get", "site.com/home", "--redis-url", "redis://127.0.0.1:1/0"])
    assert code == 3 and "unavailable" in capsys.readouterr().err


async def test_snapshot_restore_round_trip_interchanges_with_the_http_api(
    settings: Settings, store: Store, run: object, tmp_path: Path
) -> None:
    cli = run  # type: ignore[assignment]
    for _ in range(3):
        await store.hit("site.com", "home")
    await store.put("site.com", "big", 2**63 - 1, now=store.clock(), enable_reset=True)
    path = tmp_path / "site.jsonl"
    code, _, err = await asyncio.to_thread(cli, "snapshot", "site.com", "--out", str(path))
    assert code == 0 and "wrote 2 counter(s)" in err
    async with api_client(settings) as http:
        secret = await new_token(store, namespaces="site.com,copy.ns")
        served = await http.get("/api/v0/snapshot/site.com", headers=bearer(secret))
        # The same lines as the API's snapshot, but for the TTL, which ticks down.
        assert _without_ttl(path.read_bytes()) == _without_ttl(served.content)

        code, _, err = await asyncio.to_thread(cli, "restore", "copy.ns", str(path))
        assert code == 0 and "restored 2 counter(s) into copy.ns" in err
        copy = (await http.get("/api/v0/counters/copy.ns/big", headers=bearer(secret))).json()
        assert (copy["value"], copy["enable_reset"]) == (2**63 - 1, True)
        home = await http.get("/api/v0/counters/copy.ns/home", headers=bearer(secret))
        assert sum(home.json()["daily"].values()) == 3

    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"key": "fine", "value": 1}\n{"key": "x", "value": 2}\n')
    code, _, err = await asyncio.to_thread(cli, "restore", "copy.ns", str(bad))
    assert code == 2 and "line 2" in err
    with pytest.raises(CounterNotFound):  # line 1 was not written either
        await store.info("copy.ns", "fine")


def _without_ttl(jsonl: bytes) -> list[dict[str, object]]:
    lines = [orjson.loads(line) for line in jsonl.splitlines()]
    return [{k: v for k, v in line.items() if k != "ttl"} for line in lines]


async def test_export_writes_the_hit_log_as_goatcounter_csv(
    settings: Settings, store: Store, run: object, tmp_path: Path
) -> None:
    cli = run  # type: ignore[assignment]
    hits = [{"path": f"/page-{n}", "title": f"Page {n}"} for n in range(25)]
    async with api_client(settings) as http:
        secret = await new_token(store)
        sent = await http.post(
            "/api/v0/count", headers=bearer(secret), json={"no_sessions": True, "hits": hits}
        )
        assert sent.status_code == 202
    out = tmp_path / "hits.csv.gz"
    code, _, err = await asyncio.to_thread(cli, "export", "site.com", "--out", str(out))
    assert code == 0 and "wrote 25 hit(s)" in err
    rows = list(csv.reader(io.StringIO(gzip.decompress(out.read_bytes()).decode())))
    assert rows[0][0] == "2Path" and [row[0] for row in rows[1:]] == [h["path"] for h in hits]


def test_import_countapi_is_idempotent_with_a_dry_run(run: object, tmp_path: Path) -> None:
    cli = run  # type: ignore[assignment]
    saved = tmp_path / "countapi.json"
    saved.write_bytes(orjson.dumps([
        {"namespace": "site.com", "key": "visits", "value": 1234, "ttl": 99, "enable_reset": True},
        {"key": "legacy", "value": 7},
    ]))  # fmt: skip
    as_csv = tmp_path / "countapi.csv"
    as_csv.write_text("namespace,key,value,update_upperbound\nsite.com,visits,1300,5\n")
    assert cli("hit", "site.com/visits")[0] == 0

    code, out, _ = cli("import-countapi", str(saved), "--dry-run")
    assert code == 0 and out.splitlines() == [
        "would update site.com/visits 1 -> 1234 (enable_reset)",
        "would create default/legacy = 7",
        "would create 1, would update 1, unchanged 0",
    ]
    assert cli("get", "site.com/visits")[1] == "1\n" and cli("get", "legacy")[0] == 1
    assert (
        cli("import-countapi", str(saved))[1].splitlines()[-1] == "create 1, update 1, unchanged 0"
    )
    assert cli("import-countapi", str(saved))[1] == "create 0, update 0, unchanged 2\n"
    info = orjson.loads(cli("info", "site.com/visits")[1])
    assert (info["value"], info["enable_reset"]) == (1234, True)
    code, out, _ = cli("import-countapi", str(as_csv))
    assert (
        code == 0
        and out.splitlines()[0] == "update site.com/visits 1234 -> 1300 (update_upperbound)"
    )

    broken = tmp_path / "broken.csv"
    broken.write_text("namespace,key,value\nsite.com,visits,12\nsite.com,other,twelve\n")
    code, _, err = cli("import-countapi", str(broken))
    assert code == 2 and "line 3" in err and "64-bit" in err
    assert cli("get", "site.com/visits")[1] == "1300\n"  # nothing from the broken file


def test_progress_bar_on_request(
    backend: Backend, prefix: str, redis: object, tmp_path: Path
) -> None:
    where = [*backend.serve_args(), "--prefix", prefix]
    assert main(["set", "site.com/home", "5", *where]) == 0
    result = subprocess.run(
        [sys.executable, "-m", "counter.cli", "snapshot", "site.com", "--out", "-", "--progress",
         *where],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["value"] == 5  # stdout holds the snapshot alone
    assert "snapshot site.com" in result.stderr and "1/1" in result.stderr
