"""Fixtures shared by every tier: a real Jupyter server with Huddle, and protocol clients."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from traitlets.config import Config

from tests.support.parallel import RUN_DIR_ENV, RunLock, run_dir, worker_id
from tests.support.yclient import YClient, room_url

pytest_plugins = ["pytest_jupyter.jupyter_server"]

# Everything a test run writes goes below one folder of its own, removed when the run ends:
# pytest's tmp_path, temp files of the processes tests start (TMPDIR: servers, kernels,
# Chromium profiles), IPython's profile dir. Nothing lands in the real home (no Trash, no
# ~/.ipython) and nothing stays in the system temp dir. Under pytest-xdist (``-n``) that is
# the controller's folder; each worker has its own below it (tests/support/parallel.py).
_WORKER = worker_id()
_RUN_DIR = Path(tempfile.mkdtemp(prefix=f"{_WORKER}-" if _WORKER else "huddle-tests-",
                                 dir=os.environ.get(RUN_DIR_ENV) if _WORKER else None))
# Workers only: the lock that lets the tests marked ``timing`` run alone.
_RUN_LOCK: RunLock | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    global _RUN_LOCK
    if config.option.basetemp is None:
        config.option.basetemp = str(_RUN_DIR / "pytest")
    if _WORKER is None:
        os.environ[RUN_DIR_ENV] = str(_RUN_DIR)  # inherited by the workers started next
    else:
        os.environ.setdefault(RUN_DIR_ENV, str(_RUN_DIR))  # (set by the controller)
        _RUN_LOCK = RunLock(run_dir())
    for name, folder in (("TMPDIR", "tmp"), ("IPYTHONDIR", "ipython")):
        path = _RUN_DIR / folder
        path.mkdir(exist_ok=True)
        os.environ[name] = str(path)
    tempfile.tempdir = None  # read TMPDIR again


# Browser test modules, besides tests/e2e/test_jupyterlab_*, in the second browser group.
BROWSER_JUPYTERLAB = frozenset({"test_webapp_files"})


def _runs_alone(item: pytest.Item | None) -> bool:
    return item is not None and item.get_closest_marker("timing") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The xdist groups (``--dist loadgroup``; tryfirst: xdist reads them in this hook too).

    - ``browser`` and ``browser-jupyterlab``: the tests in Chromium, in two groups, each on
      one worker: at most two browsers at a time (three at once starve each other and their
      servers on two cores), each module's browser and server process started once. The
      second group is the modules that start stock JupyterLab (``BROWSER_JUPYTERLAB``):
      about a third of the browser time, which one worker alone made the suite's longest
      path.
    - one group per module for the tests of a module that share another module-scoped
      fixture, so that it is started once;
    - ``timing``: the other tests marked ``timing``, on one worker one after another.
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        fixtures = getattr(item, "_fixtureinfo", None)
        defs = fixtures.name2fixturedefs.values() if fixtures is not None else ()
        if "browser" in getattr(item, "fixturenames", ()):
            lab = item.path.stem in BROWSER_JUPYTERLAB or item.path.stem.startswith(
                "test_jupyterlab_")
            item.add_marker(pytest.mark.xdist_group("browser-jupyterlab" if lab else "browser"))
        elif any(d[-1].scope in ("module", "package", "class") for d in defs if d):
            item.add_marker(pytest.mark.xdist_group(f"{item.path.parent.name}/{item.path.stem}"))
        elif _runs_alone(item):
            item.add_marker(pytest.mark.xdist_group("timing"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """On an xdist worker: a test marked ``timing`` runs alone (it waits for the tests
    running on other workers, and they wait for it), its setup and teardown included; every
    other test runs alongside others. Outermost, so pytest-timeout does not count the wait."""
    lock = _RUN_LOCK
    if lock is None:
        return (yield)
    alone = _runs_alone(item)
    wanted = "exclusive" if alone else "shared"
    if lock.held != wanted:
        if lock.held is not None:
            lock.release()
        if alone:
            lock.exclusive()
        else:
            lock.shared()
    try:
        return (yield)
    finally:
        # The next timing test of this worker goes on alone without letting others in.
        if not (alone and _runs_alone(nextitem)):
            lock.release()


# What a test run must leave alone in the real home, as it was when the run began.
_GUARDED = (Path.home() / ".local/share/Trash/files", Path.home() / ".ipython")


def _state(path: Path) -> tuple[bool, set[str]]:
    return path.exists(), set(os.listdir(path)) if path.is_dir() else set()


_BEFORE = {path: _state(path) for path in _GUARDED}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if it wrote into the real home (a file sent to the Trash, an IPython
    profile created)."""
    written = []
    for path, (existed, entries) in _BEFORE.items():
        exists, now = _state(path)
        if (exists and not existed) or now - entries:
            written.append(f"{path}: {sorted(now - entries) or 'created'}")
    if written:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"the test run wrote into the real home: {written}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    if _RUN_LOCK is not None:
        _RUN_LOCK.close()
    shutil.rmtree(_RUN_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _huddle_logs_to_root() -> Any:
    """A server under test routes the package's logger to its own; put it back, so log
    assertions (caplog) in later tests see records again."""
    yield
    logging.getLogger("jupyter_huddle").parent = logging.getLogger()


@pytest.fixture(autouse=True)
def _collect_garbage() -> Any:
    """Collect after each test so that leaked subscriptions and tasks show up as errors
    in the test that leaked them, not in a later one."""
    yield
    gc.collect()


@pytest.fixture
def huddle_config() -> dict[str, Any]:
    """Override in a test module (or parametrize) to change HuddleApp settings."""
    return {"save_delay_s": 0.1, "max_save_delay_s": 0.5, "room_cleanup_delay_s": 0.5,
            "save_retry_delay_s": 0.2}


@pytest.fixture
def jp_server_config(huddle_config: dict[str, Any]) -> Config:
    return Config({
        "ServerApp": {
            "jpserver_extensions": {"jupyter_huddle": True, "jupyter_server_fileid": True},
        },
        # Deleted files go away, not to the real user's Trash.
        "FileContentsManager": {"delete_to_trash": False},
        "HuddleApp": huddle_config,
    })


class Huddle:
    """A running in-process server and helpers to talk to it like JupyterLab does."""

    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.port = port
        self.token = app.identity_provider.token
        self.base_url = app.base_url
        self.root = app.root_dir
        self.http_url = f"http://127.0.0.1:{port}{self.base_url}"
        self.ws_url = f"ws://127.0.0.1:{port}{self.base_url}"
        # Jupyter Server names a token-authenticated user anew on every request unless the
        # login cookie it sets comes back: keep it, as a browser would (one user per test).
        self.cookies: dict[str, str] = {}

    @property
    def extension(self) -> Any:
        return next(iter(self.app.extension_manager.extension_apps["jupyter_huddle"]))

    async def request(self, method: str, path: str, body: Any = None,
                      headers: dict[str, str] | None = None, raw_body: bytes | None = None,
                      token: str | None = "default") -> HTTPResponse:
        all_headers = dict(headers or {})
        use_token = self.token if token == "default" else token
        if use_token:
            all_headers["Authorization"] = f"token {use_token}"
            if self.cookies:
                all_headers.setdefault("Cookie", "; ".join(
                    f"{k}={v}" for k, v in self.cookies.items()))
        data = raw_body if raw_body is not None else (
            json.dumps(body).encode() if body is not None else None)
        if method in ("PUT", "POST", "PATCH") and data is None:
            data = b""
        response = await AsyncHTTPClient().fetch(
            self.http_url + path, method=method, body=data, headers=all_headers,
            raise_error=False, request_timeout=30,
        )
        if use_token:
            for header in response.headers.get_list("Set-Cookie"):
                name, _, value = header.split(";", 1)[0].partition("=")
                if name.startswith("username-"):
                    self.cookies[name] = value
        return response

    async def session(self, path: str, fmt: str = "json", doc_type: str = "notebook",
                      **kwargs: Any) -> HTTPResponse:
        return await self.request("PUT", f"api/collaboration/session/{quote(path, safe='')}",
                                  {"format": fmt, "type": doc_type}, **kwargs)

    async def room_id(self, path: str, fmt: str = "json",
                      doc_type: str = "notebook") -> tuple[str, str]:
        response = await self.session(path, fmt, doc_type)
        assert response.code in (200, 201), response.body
        model = json.loads(response.body)
        return f"{model['format']}:{model['type']}:{model['fileId']}", model["sessionId"]

    def client(self, room: str, session_id: str | None, token: str | None = "default",
               **kwargs: Any) -> YClient:
        use_token = self.token if token == "default" else token
        return YClient(room_url(self.ws_url, room, session_id, use_token), **kwargs)

    @asynccontextmanager
    async def open(self, path: str, fmt: str = "json", doc_type: str = "notebook",
                   **kwargs: Any) -> AsyncIterator[YClient]:
        room, session_id = await self.room_id(path, fmt, doc_type)
        async with self.client(room, session_id, **kwargs) as client:
            async with asyncio.timeout(20):
                await client.synced.wait()
            yield client


@pytest.fixture
def huddle(jp_serverapp: Any, jp_http_port: int, http_server: Any) -> Huddle:
    # ``http_server`` is what actually listens: jp_serverapp alone serves nothing.
    return Huddle(jp_serverapp, jp_http_port)


@pytest.fixture
def write_notebook(jp_root_dir: Any) -> Callable[..., str]:
    import nbformat

    def write(path: str, sources: list[str] | None = None, **cell_kwargs: Any) -> str:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src, **cell_kwargs) for src in (sources or ["1+1"])]
        target = jp_root_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(target))
        return path

    return write
