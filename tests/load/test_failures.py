"""Clean failures: a clear message and a (partial) report, never a traceback."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from counter.cli.main import main
from tests.load.conftest import ROOT, counter_load
from tests.servers import free_port

pytestmark = pytest.mark.slow


def clean(run: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr


def test_unreachable_url() -> None:
    run = counter_load(f"http://127.0.0.1:{free_port()}", "-d", "1")
    clean(run)
    assert run.returncode == 1
    assert re.search(r"error: cannot reach http://127\.0\.0\.1:\d+: ECONNREFUSED", run.stderr)
    assert "requests  0 in" in run.stdout  # the (empty) report is still printed


def test_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    for args, message in (
        (["ftp://x"], "URL must be http://"),
        (["http://127.0.0.1:1", "--keys", "0"], "--keys must be at least 1"),
        (["http://127.0.0.1:1", "--batch", "5"], "--batch needs --token"),
        (["http://127.0.0.1:1", "--plot", "x.gif"], "--plot x.gif: use one of"),
        (["http://127.0.0.1:1", "--tool", "wrk", "--verify"], "--tool wrk cannot do --verify"),
        (["http://127.0.0.1:1", "--header", "nocolon"], "expected 'Name: value'"),
    ):
        assert main(["load", *args]) == 2, args
        assert message in capsys.readouterr().err, args


def test_server_that_never_answers(fake: Callable[[str], str]) -> None:
    run = counter_load(fake("silent"), "-d", "1", "-c", "2", "-p", "1", "--timeout", "0.3")
    clean(run)
    assert run.returncode == 1
    assert re.search(r"socket    timeout: \d+", run.stdout)
    assert "error: the server answered nothing (timeout: " in run.stderr


def test_wrong_token(real_server: tuple[str, str]) -> None:
    url, _ = real_server
    run = counter_load(url, "--batch", "10", "--token", "not-a-token", "-d", "1")
    clean(run)
    assert run.returncode == 1
    assert "the server refused the token (HTTP 401" in run.stderr and "check --token" in run.stderr


def test_server_errors_are_counted_by_status(fake: Callable[[str], str]) -> None:
    run = counter_load(fake("error"), "-n", "50", "-c", "2", "-p", "1")
    clean(run)
    assert run.returncode == 1
    assert "status    503: 50" in run.stdout and "errors    50" in run.stdout
    assert "the server answered 5xx to 50 requests" in run.stderr

    # --verify cannot even read the counters: it says so before loading anything
    run = counter_load(fake("error"), "-n", "50", "-p", "1", "--keys", "3", "--verify")
    clean(run)
    assert run.returncode == 1
    assert "--verify before the run: reading counter 'key1' back: HTTP 503" in run.stderr


@pytest.mark.parametrize("processes", ["1", "2"])
def test_ctrl_c_prints_the_partial_report(fake: Callable[[str], str], processes: str) -> None:
    url = fake("lossy")
    process = subprocess.Popen(
        [sys.executable, "-m", "counter.cli", "load", url, "-d", "60", "-c", "4",
         "-p", processes, "--keys", "10"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(2.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=15)
    assert "Traceback" not in stdout + stderr, stdout + stderr
    assert process.returncode == 130, stdout + stderr
    assert "INTERRUPTED: partial results" in stdout
    measured = re.search(r"requests  ([\d,]+) in ([\d.]+) s", stdout)
    assert measured and int(measured[1].replace(",", "")) > 0, stdout
    assert float(measured[2]) < 10
    assert "interrupted; the report above covers the run until then" in stderr
