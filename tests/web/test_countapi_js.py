"""The real countapi-js 1.0.2 client, unmodified, against a running `counter serve`.

Runs both the client package's own mocha suite (``node_modules/countapi-js/test``) and
ours (``tests/js/countapi-client.test.js``); ``tests/js/redirect-fetch.js`` points the
client's hard-coded base URL at the server without editing the package.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import Backend
from tests.servers import ServeProcess

pytestmark = pytest.mark.slow

JS_DIR = Path(__file__).resolve().parent.parent / "js"
MOCHA = JS_DIR / "node_modules" / ".bin" / "mocha"

# Keys the client's own suite assumes exist ("The test assumes that the key 'test' exists
# in the default AND 'test' namespaces"), with the options its assertions imply.
CLIENT_SUITE_KEYS = [
    {"namespace": "default", "key": "test"},  # bounds -1..1: update by 100 is 403
    {"namespace": "test", "key": "test"},
    {"key": "d7b97e5f-69a4-4933-8928-b9ee92f6b6ca"},  # set without enable_reset: 403
    {"key": "c23ce4fa-4b78-4cbb-b53a-da3c2c38bb18", "enable_reset": "1"},  # set: 200
    {"key": "ce420ebf-369c-4a19-92b1-8b02fb6e72ba", "update_upperbound": "100"},  # update 100
]


@pytest.fixture
def server(tmp_path: Path, backend: Backend, prefix: str, redis: Redis) -> Iterator[ServeProcess]:
    process = ServeProcess([*backend.serve_args(), "--prefix", prefix], {}, tmp_path).start()
    yield process
    process.stop()


def test_countapi_js_client_and_its_own_suite(server: ServeProcess) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required: install node and npm"
    assert MOCHA.exists(), "run `npm ci --prefix tests/js` first (the README's test command does)"
    for params in CLIENT_SUITE_KEYS:
        response = httpx.get(f"{server.base_url}/create", params=params)
        assert response.status_code == 200, response.text

    result = subprocess.run(
        [
            node,
            str(MOCHA),
            "--require",
            str(JS_DIR / "redirect-fetch.js"),
            "--reporter",
            "dot",
            str(JS_DIR / "node_modules" / "countapi-js" / "test" / "index.js"),
            str(JS_DIR / "countapi-client.test.js"),
        ],
        cwd=JS_DIR,
        env={"PATH": "/usr/bin:/bin", "COUNTER_BASE_URL": server.base_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    passing = re.search(r"(\d+) passing", result.stdout)
    # the client's own 30 tests plus our 13: a suite that silently ran nothing fails here
    assert passing is not None and int(passing.group(1)) >= 43, result.stdout
    assert " failing" not in result.stdout
