"""The house rules CI can check: mypy strict on the package, ruff on everything."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

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


def test_a_kernel_comes_with_the_package():
    """`pip install . && jupyter huddle` must run a cell with nothing else installed: the
    python3 kernel is a runtime dependency, not a test extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {Requirement(spec).name for spec in project["dependencies"]}
    assert "ipykernel" in names
