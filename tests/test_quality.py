"""The house rules a reviewer would otherwise check by hand: ruff and strict mypy are clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_lint_and_format() -> None:
    targets = [p for p in ("counter", "tests", "bench") if (ROOT / p).is_dir()]
    lint = run(sys.executable, "-m", "ruff", "check", *targets)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatted = run(sys.executable, "-m", "ruff", "format", "--check", *targets)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_mypy_strict() -> None:
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
