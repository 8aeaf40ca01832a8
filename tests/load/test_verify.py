"""`--verify` proves a server kept every acknowledged increment, and catches one that did not."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.load.conftest import counter_load

pytestmark = pytest.mark.slow


def report(output: str) -> dict:  # type: ignore[type-arg]
    return json.loads(output)


def test_real_server_loses_nothing(real_server: tuple[str, str]) -> None:
    url, token = real_server
    run = counter_load(url, "--route", "hit", "--keys", "20", "-d", "1", "-c", "8", "--zipf",
                       "1.2", "--namespace", "verify-hit", "--verify", "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = report(run.stdout)
    verify = result["verify"]
    assert result["requests"] > 100 and result["errors"] == 0
    assert verify["ok"] and verify["lost"] == 0 and verify["phantom"] == 0
    assert verify["acked"] == verify["stored"] == verify["sent"] >= result["requests"]
    # Zipf: key1 is the hottest key
    per_key = verify["per_key"]
    assert per_key["key1"]["acked"] == max(k["acked"] for k in per_key.values())

    # Batches through /api/v0/count land on the same CountAPI counters and verify too.
    run = counter_load(url, "--batch", "50", "--token", token, "--keys", "30", "-n", "40",
                       "-c", "4", "--namespace", "verify-batch", "--verify", "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    verify = report(run.stdout)["verify"]
    assert verify["ok"] and verify["acked"] == verify["stored"] == 40 * 50


def test_lossy_server_is_caught(fake: Callable[[str], str]) -> None:
    run = counter_load(fake("lossy"), "--keys", "10", "-n", "500", "-c", "4", "-p", "1", "--verify")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "verify    FAILED" in run.stdout
    assert "lost 50," in run.stdout  # every 10th of 500 acknowledged increments
    assert "verification FAILED: 50 acknowledged increments lost" in run.stderr
    assert "Traceback" not in run.stderr


def test_pixel_route_is_counted_and_verified(fake: Callable[[str], str]) -> None:
    # GoatCounter's /count?p=/path protocol, read back through /get/<namespace>/<key>.
    run = counter_load(fake("pixel"), "--route", "count", "--namespace", "default", "--keys",
                       "5", "-n", "200", "-c", "4", "-p", "1", "--verify", "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = report(run.stdout)
    assert result["statuses"] == {"200": 200}
    assert result["verify"]["ok"] and result["verify"]["stored"] == 200


@pytest.mark.parametrize("rate", [None, "400"])
def test_server_closing_every_connection(fake: Callable[[str], str], rate: str | None) -> None:
    # `Connection: close` after each answer: the generator reconnects, nothing is lost.
    pacing = ["--rate", rate] if rate else []
    run = counter_load(fake("closing"), "--keys", "5", "-n", "200", "-c", "4", *pacing,
                       "--verify", "--json")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["statuses"] == {"200": 200} and result["socket_errors"] == {}
    assert result["verify"]["ok"] and result["verify"]["stored"] == 200


@pytest.mark.parametrize(
    ("count_path", "namespace"), [("/count", "default"), ("/site/pixel-site/count", "pixel-site")]
)
def test_pixel_route_on_our_server(
    real_server: tuple[str, str], count_path: str, namespace: str
) -> None:
    # Our GoatCounter /count (the default site, and a site under /site/NS/): every pixel hit
    # lands on the CountAPI counter of its path, and --verify reads it back.
    url, _ = real_server
    run = counter_load(url, "--route", "count", "--count-path", count_path, "--namespace",
                       namespace, "--keys", "10", "-n", "300", "-c", "4", "--verify",
                       "--json")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    result = report(run.stdout)
    assert result["statuses"] == {"200": 300}
    assert result["verify"]["ok"] and result["verify"]["stored"] == 300
