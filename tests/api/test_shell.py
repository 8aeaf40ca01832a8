"""GoatCounter's documented shell examples, verbatim, against a real ``counter serve``:
counting with curl, the export loop with curl, jq and gzip, then the ``last_hit_id`` sync.

Only the two placeholders (the token and the API URL) are filled in.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from counter import Settings
from tests.conftest import Backend
from tests.servers import ServeProcess

PRELUDE = r"""#!/bin/sh
token=[your api token]
api=https://[my code].goatcounter.com/api/v0

curl() {
    \command curl \
        -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $token" \
        "$@"
}
"""

COUNT = r"""
curl -X POST "$api/count" \
    --data '{"no_sessions": true, "hits": [{"path": "/one"}, {"path": "/two"}]}'
"""

EXPORT = r"""
# Start a new export, get ID from response object.
id=$(curl -X POST "$api/export" | jq .id)

# The export is started in the background, so we'll need to wait until it's finished.
while :; do
    sleep 1

    finished=$(curl "$api/export/$id" | jq .finished_at)
    if [ "$finished" != "null" ]; then
        # Download the export.
        curl "$api/export/$id/download" | gzip -d

        break
    fi
done
"""

CURSOR = r"""
# Get cursor
start=$(curl "$api/export/$id" | jq .last_hit_id)

# Start new export starting from the cursor.
id=$(curl -X POST "$api/export" --data "{\"start_from_hit_id\":$start}" | jq .id)
"""

# After the cursor export starts, the same documented wait-and-download loop fetches it.
WAIT_AND_DOWNLOAD = EXPORT[EXPORT.index("# The export is started") :]


@pytest.fixture
def server(
    backend: Backend, settings: Settings, tmp_path: Path, redis: Redis
) -> Iterator[ServeProcess]:
    for tool in ("curl", "jq", "gzip"):
        assert shutil.which(tool), f"{tool} is required (.ci/run installs it)"
    env = {**backend.env(), "COUNTER_PREFIX": settings.prefix}
    process = ServeProcess([], env, tmp_path).start()
    yield process
    process.stop()


def token_from_cli(backend: Backend, prefix: str) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "counter.cli", "token", "create", *backend.serve_args(),
         "--prefix", prefix, "--name", "shell", "--perm", "count,export",
         "--namespace", "site.com"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return created.stdout.splitlines()[-1]


def run_sh(script: str, token: str, api: str) -> str:
    filled = script.replace("[your api token]", token).replace(
        "https://[my code].goatcounter.com/api/v0", api
    )
    result = subprocess.run(
        ["sh", "-c", filled], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def csv_paths(output: str) -> list[str]:
    lines = output.strip().splitlines()
    assert lines[0].startswith("2Path,Title,Event,UserAgent,Browser,System,Session,Bot,")
    return [line.split(",")[0] for line in lines[1:]]


@pytest.mark.slow
def test_goatcounter_shell_examples_work_verbatim(
    server: ServeProcess, backend: Backend, settings: Settings
) -> None:
    token = token_from_cli(backend, settings.prefix)
    api = f"{server.base_url}/api/v0"

    assert run_sh(PRELUDE + COUNT, token, api).strip() == "{}"
    assert csv_paths(run_sh(PRELUDE + EXPORT, token, api)) == ["/one", "/two"]

    # One shell session, as a sync job runs: export, new hits arrive, export from the cursor.
    third = COUNT.replace('[{"path": "/one"}, {"path": "/two"}]', '[{"path": "/three"}]')
    output = run_sh(PRELUDE + EXPORT + third + CURSOR + WAIT_AND_DOWNLOAD, token, api)
    full, _, since_cursor = output.partition("{}")  # "{}": the count's answer between them
    assert csv_paths(full) == ["/one", "/two"]
    assert csv_paths(since_cursor) == ["/three"]
