"""First run (issue 12): the README's install alone runs a cell.

A fresh virtual environment (no ``--system-site-packages``) gets ``pip install <checkout>``
and nothing else; its own ``jupyter huddle`` then starts the notebook's kernel through the
sessions API and runs a cell through Huddle's execute route. The kernel must be the
``python3`` kernelspec of the venv's own ipykernel (a runtime dependency of the package).

Takes about half a minute (most of it ``pip install``). Set ``HUDDLE_SKIP_FIRST_RUN=1`` to
skip it, on purpose and visibly: it is never skipped otherwise, and a failed install fails.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import pytest

from tests.support.server_process import ServerProcess, isolated_env
from tests.support.waiting import eventually
from tests.support.yclient import YClient, room_url

SKIP_ENV = "HUDDLE_SKIP_FIRST_RUN"
REPO = Path(__file__).resolve().parents[2]
# What the cell prints: where its interpreter and its ipykernel live, its pid (to make sure
# the kernel is gone after the server stops), and a sum.
SOURCE = ("import os, sys, ipykernel\n"
          "print(sys.prefix)\n"
          "print(ipykernel.__file__)\n"
          "print(os.getpid())\n"
          "print(6 * 7)")

pytestmark = [
    pytest.mark.skipif(os.environ.get(SKIP_ENV) == "1",
                       reason=f"{SKIP_ENV}=1: the fresh-venv install test was skipped on purpose"),
    # pip install (~20 s here) plus a server and a kernel; generous for a slow index.
    pytest.mark.timeout(600),
]


def venv_env(venv: Path, home: Path) -> dict[str, str]:
    """The environment of a shell with ``venv`` activated: a home and Jupyter dirs of the
    test's own, and nothing that would let the outer environment's packages in."""
    env = isolated_env(home)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE",
                 "VIRTUAL_ENV", "CONDA_PREFIX", "PIP_USER", "PIP_TARGET", "PIP_PREFIX"):
        env.pop(name, None)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONNOUSERSITE"] = "1"  # no ~/.local packages either (the home is ours anyway)
    tmp = home / "tmp"
    tmp.mkdir(exist_ok=True)
    env["TMPDIR"] = str(tmp)  # pip's build dirs and the kernels' temp files stay in tmp_path
    return env


def run(argv: list[str], env: dict[str, str], cwd: Path,
        timeout: float) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, (
        f"{' '.join(argv)} exited with {result.returncode}:\n{result.stdout[-4000:]}\n"
        f"{result.stderr[-4000:]}")
    return result


@pytest.fixture
def fresh_venv(tmp_path: Path) -> Path:
    """A new venv with the checkout installed the README's way, and only that."""
    venv, home = tmp_path / "venv", tmp_path / "home"
    env = venv_env(venv, home)
    run([sys.executable, "-m", "venv", str(venv)], env, tmp_path, timeout=120)
    env["HUDDLE_SKIP_FRONTEND_BUILD"] = "1"  # see the install below
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the build imports hatch_build.py from the checkout
    # The README's `pip install .`, from the checkout. The web app's npm build is skipped
    # (HUDDLE_SKIP_FRONTEND_BUILD=1) to keep this test near half a minute: the build is
    # covered by scripts/test.sh's editable install and the e2e tier, and this test needs
    # only the server and a kernel. --no-cache-dir: pip writes nothing outside tmp_path (no
    # cache in the real home); --no-compile: no .pyc pass over every installed package.
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir",
         "--no-compile", "--progress-bar=off", str(REPO)], env, tmp_path, timeout=480)
    return venv


def in_venv(path: str, venv: Path) -> bool:
    return Path(path).resolve().is_relative_to(venv.resolve())


def venv_sees_only_itself(venv: Path, env: dict[str, str], cwd: Path) -> None:
    """The venv's interpreter has no path into the outer environment's site-packages."""
    probe = ("import json, sys, importlib.util\n"
             "print(json.dumps({'path': sys.path,"
             " 'pytest': importlib.util.find_spec('pytest') is not None}))")
    out = json.loads(run([str(venv / "bin" / "python"), "-c", probe], env, cwd, 60).stdout)
    outside = [p for p in out["path"] if "-packages" in p and not in_venv(p, venv)]
    assert outside == [], f"the venv sees outer packages: {outside}"
    assert out["pytest"] is False, "pytest (installed only outside) is importable in the venv"


def python3_kernelspec_dir(venv: Path, env: dict[str, str], cwd: Path) -> str:
    listed = run([str(venv / "bin" / "jupyter"), "kernelspec", "list", "--json"], env, cwd, 60)
    specs = json.loads(listed.stdout)["kernelspecs"]
    assert "python3" in specs, f"no python3 kernel after the install alone: {listed.stderr}"
    return str(specs["python3"]["resource_dir"])


def call(server: ServerProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One API request with the server's token: (status, parsed JSON body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        server.http_url + path, data=data, method=method,
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw = int(response.status), response.read()
    except urllib.error.HTTPError as err:
        status, raw = int(err.code), err.read()
    return status, (json.loads(raw) if raw.strip() else None)


async def api(server: ServerProcess, method: str, path: str, body: Any = None,
              expect: tuple[int, ...] = (200,)) -> Any:
    status, answer = await asyncio.to_thread(call, server, method, path, body)
    assert status in expect, f"{method} {path}: {status} {answer}\n{server.log()[-4000:]}"
    return answer


def stream_text(cell: dict[str, Any]) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def run_first_cell(server: ServerProcess, path: str) -> dict[str, Any]:
    """Start the notebook's kernel as JupyterLab does, run its first cell through Huddle's
    execute route, and return the cell as every collaborator sees it when it is done."""
    session = await api(server, "POST", "api/sessions", {
        "path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"}},
        expect=(201,))
    kernel_id = session["kernel"]["id"]
    model = await api(server, "PUT", f"api/collaboration/session/{quote(path, safe='')}",
                      {"format": "json", "type": "notebook"}, expect=(200, 201))
    document_id = f"{model['format']}:{model['type']}:{model['fileId']}"
    url = room_url(server.ws_url, document_id, model["sessionId"], server.token)
    async with YClient(url) as client:
        async with asyncio.timeout(30):
            await client.synced.wait()
        cell_id = client.cells[0]["id"]
        assert str(client.source(0)) == SOURCE
        accepted = await api(server, "POST", f"api/kernels/{kernel_id}/execute", {
            "document_id": document_id,
            "cells": [{"cell_id": cell_id,
                       "source_hash": hashlib.sha256(SOURCE.encode()).hexdigest()}]},
            expect=(202,))
        assert len(accepted["requests"]) == 1
        # The kernel's first start imports everything once, without .pyc files: be patient.
        await client.wait_for(lambda: client.cells[0].get("execution_state") == "idle"
                              and client.cells[0].get("execution_count") is not None,
                              timeout=120)
        return dict(client.cells[0].to_py())


async def test_readme_install_alone_runs_a_cell(fresh_venv: Path, tmp_path: Path) -> None:
    venv, home, root = fresh_venv, tmp_path / "home", tmp_path / "root"
    root.mkdir()
    env = venv_env(venv, home)
    venv_sees_only_itself(venv, env, root)
    assert in_venv(python3_kernelspec_dir(venv, env, root), venv)

    # The README's `jupyter huddle`, as the venv installed it (its script runs the venv's
    # python); ServerProcess adds the port, token, root and --no-browser.
    server = ServerProcess(root, home, command=[str(venv / "bin" / "jupyter"), "huddle"])
    server.env = env
    kernel_pid: int | None = None
    try:
        await asyncio.to_thread(server.start, 120)
        specs = await api(server, "GET", "api/kernelspecs")
        assert specs["default"] == "python3"
        assert "python3" in specs["kernelspecs"]
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(SOURCE)]
        await api(server, "PUT", "api/contents/first.ipynb",
                  {"type": "notebook", "format": "json", "content": notebook}, expect=(201,))

        cell = await run_first_cell(server, "first.ipynb")
        prefix, ipykernel_file, pid, answer = stream_text(cell).splitlines()
        kernel_pid = int(pid)
        assert in_venv(prefix, venv), f"the kernel runs {prefix}, not the venv's python"
        assert in_venv(ipykernel_file, venv), f"the kernel imported {ipykernel_file}"
        assert answer == "42"
        assert cell["execution_count"] == 1

        def saved_output() -> bool:
            saved = nbformat.read(str(root / "first.ipynb"), as_version=4)
            return stream_text(saved.cells[0]).endswith("42\n")

        async def saved() -> bool:
            return await asyncio.to_thread(saved_output)

        await eventually(saved, timeout=30, what="the output in the saved notebook")
    finally:
        code = await asyncio.to_thread(server.stop)
        kernel_left = kernel_pid is not None and pid_alive(kernel_pid)
        if kernel_pid is not None and kernel_left:
            os.kill(kernel_pid, signal.SIGKILL)  # never leave it running, then fail
    assert code == 0, server.log()[-4000:]
    assert not kernel_left, "the kernel outlived the server"
