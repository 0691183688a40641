"""The house rules CI can check: mypy strict on the package, ruff on everything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_mypy_strict_on_the_package():
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_clean():
    result = run("ruff", "check", "jupyter_huddle", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr
