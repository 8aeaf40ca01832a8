"""`counter load` from a clean `pip install` of the wheel, as a user gets it.

The wheel is built from this checkout and installed with its dependencies into a fresh
virtual environment (no extras): the load, the report and --verify work there; --plot
names the extra it needs instead of failing with an ImportError.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.load.conftest import ROOT

pytestmark = pytest.mark.slow


def test_installed_wheel_runs_counter_load(real_server: tuple[str, str], tmp_path: Path) -> None:
    url, _ = real_server
    dist, venv = tmp_path / "dist", tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    [wheel] = dist.glob("counter-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [venv / "bin" / "pip", "install", "-q", str(wheel)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    counter = str(venv / "bin" / "counter")

    run = subprocess.run(
        [counter, "load", url, "-n", "300", "-c", "4", "--keys", "10", "--namespace",
         "wheel-load", "--verify", "--json"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["requests"] == 300 and result["statuses"] == {"200": 300}
    assert result["verify"]["ok"] and result["verify"]["stored"] == 300

    run = subprocess.run(
        [counter, "load", url, "-n", "10", "--plot", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2
    assert "--plot needs matplotlib: pip install 'counter[load]'" in run.stderr
    assert "Traceback" not in run.stderr
