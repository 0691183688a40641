"""Hatch build hook: builds the web app (``frontend/``) into ``jupyter_huddle/static/``,
and the JupyterLab extension (``labextension/``) into ``jupyter_huddle/labextension/``,
which the wheel installs as data into ``share/jupyter/labextensions/jupyter-huddle-lab/``.

Runs for wheels and editable installs (``pip install .``, ``pip install -e .``): for each,
``npm ci`` when its ``node_modules`` is missing or older than ``package-lock.json``, then
``npm run build``. The labextension's build runs ``jupyter-builder`` (the Python package
``jupyter-builder``, a build requirement in pyproject.toml). Set
``HUDDLE_SKIP_FRONTEND_BUILD=1`` to skip both (the server then serves a page that says how
to build the app; JupyterLab runs without Huddle's plugin). Source distributions carry
both sources and build them when their wheel is built.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SKIP_ENV = "HUDDLE_SKIP_FRONTEND_BUILD"
# The labextension's name (labextension/package.json) and where JupyterLab looks for it.
LABEXTENSION = "jupyter-huddle-lab"
LABEXTENSION_DATA = f"share/jupyter/labextensions/{LABEXTENSION}"


class FrontendBuildError(RuntimeError):
    pass


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        static = root / "jupyter_huddle" / "static"
        # The bundle is git-ignored; hatch leaves ignored files out unless told otherwise.
        build_data.setdefault("artifacts", []).append("jupyter_huddle/static/")
        if os.environ.get(SKIP_ENV) == "1":
            self.app.display_warning(f"{SKIP_ENV}=1: not building the web app")
            return
        frontend = root / "frontend"
        if not (frontend / "package.json").is_file():
            if (static / "index.html").is_file():
                return  # an unpacked wheel-like tree that already has the bundle
            raise FrontendBuildError(f"no frontend/package.json under {root}")
        npm = shutil.which("npm")
        if npm is None:
            raise FrontendBuildError(
                "building jupyter-huddle needs npm (Node.js 20 or later) to bundle its web "
                "app: install Node.js, or set HUDDLE_SKIP_FRONTEND_BUILD=1 to build without "
                "the web app."
            )
        self._npm_build(npm, frontend)
        if not (static / "app.js").is_file():
            raise FrontendBuildError(f"the frontend build did not produce {static / 'app.js'}")
        self._build_labextension(npm, root, build_data)

    def _build_labextension(self, npm: str, root: Path, build_data: dict[str, Any]) -> None:
        """Build labextension/ and have the wheel (editable too) install it as data."""
        source, output = root / "labextension", root / "jupyter_huddle" / "labextension"
        # A clean output: the builder names files by content hash and leaves old ones.
        shutil.rmtree(output, ignore_errors=True)
        self._npm_build(npm, source)
        if not (output / "package.json").is_file():
            raise FrontendBuildError(f"the labextension build did not produce {output}")
        shared = build_data.setdefault("shared_data", {})
        shared[str(output)] = LABEXTENSION_DATA
        shared[str(source / "install.json")] = f"{LABEXTENSION_DATA}/install.json"

    def _npm_build(self, npm: str, folder: Path) -> None:
        if self._needs_install(folder):
            self._run([npm, "ci", "--no-audit", "--no-fund"], folder)
        self._run([npm, "run", "build"], folder)

    @staticmethod
    def _needs_install(frontend: Path) -> bool:
        marker = frontend / "node_modules" / ".package-lock.json"
        lock = frontend / "package-lock.json"
        return not marker.is_file() or marker.stat().st_mtime < lock.stat().st_mtime

    def _run(self, argv: list[str], cwd: Path) -> None:
        self.app.display_info(f"{' '.join(argv[1:])} in {cwd}")
        result = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, check=False)
        if result.returncode != 0:
            raise FrontendBuildError(f"`npm {' '.join(argv[1:])}` failed with exit code "
                                     f"{result.returncode} (in {cwd})")
