"""Fixtures for the browser end-to-end tier: a real ``jupyter lab`` subprocess with Huddle,
and headless Debian Chromium driven by Playwright's sync API.

Everything started here is stopped here, also when a test fails. On failure the server
log, the browser console errors and any JupyterLab dialogs/toasts are attached to the
test report; they are also always written to ``tests/artifacts/e2e/``.

The tier is skipped when its tools are missing (Playwright, JupyterLab, the docprovider
frontend, ``/usr/bin/chromium``), unless ``HUDDLE_E2E_REQUIRED=1`` is set, in which case
missing tools are a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.parallel import clear_once
from tests.support.server_process import ServerProcess

CHROMIUM = os.environ.get("HUDDLE_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "e2e"
SERVER_START_TIMEOUT_S = 45.0
SERVER_STOP_TIMEOUT_S = 15.0

# Records every JupyterLab dialog and toast the moment it is attached, so that one which
# appears and is dismissed (or appears after a check) is still seen.
WATCH_UI_SCRIPT = """
(() => {
  window.__huddleDialogs = [];
  window.__huddleToasts = [];
  const seen = new WeakSet();
  const record = (el) => {
    if (seen.has(el)) return;
    seen.add(el);
    const text = (el.innerText || el.textContent || '').trim().slice(0, 500);
    if (el.matches('.jp-Dialog')) window.__huddleDialogs.push(text);
    else window.__huddleToasts.push(text);
  };
  const scan = (node) => {
    if (!(node instanceof Element)) return;
    const sel = '.jp-Dialog, .Toastify__toast';
    if (node.matches(sel)) record(node);
    node.querySelectorAll(sel).forEach(record);
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) m.addedNodes.forEach(scan);
  }).observe(document, { childList: true, subtree: true });
})();
"""


def _missing_tools() -> list[str]:
    missing = []
    for module in ("playwright", "jupyterlab", "jupyter_docprovider", "nbformat"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"python module {module}")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(CHROMIUM)
    return missing


@pytest.fixture(scope="session", autouse=True)
def _e2e_tools() -> None:
    missing = _missing_tools()
    if missing:
        message = "browser e2e tools missing: " + ", ".join(missing)
        if os.environ.get("HUDDLE_E2E_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """Replace pytest-jupyter's autouse loop fixture for this tier.

    Its version adopts the current event loop and closes it after each test; here that
    loop is Playwright's (the sync API runs one for the module-scoped browser), which
    then cannot be closed. The tests in this tier run no in-process server."""
    return


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """Replace pytest-jupyter's autouse in-process server cleanup (none runs here)."""
    return


@pytest.fixture(scope="session")
def artifacts() -> Path:
    # No stale screenshots from a past run: emptied once per run, by whichever xdist worker
    # comes first (another may already be writing its own into it).
    clear_once(ARTIFACTS)
    return ARTIFACTS


def module_artifacts(module: Any, artifacts: Path) -> Path:
    """Where a test module's artifacts go: ``tests/artifacts/e2e/``, or a folder of it named
    by the module's ``ARTIFACTS_SUBDIR`` (so that two modules' logs do not overwrite each
    other's)."""
    subdir = getattr(module, "ARTIFACTS_SUBDIR", None)
    path = artifacts / subdir if subdir else artifacts
    path.mkdir(parents=True, exist_ok=True)  # again: another run may have emptied it
    return path


@contextmanager
def huddle_app_server(base: Path, artifacts_dir: Path, *args: str) -> Iterator[ServerProcess]:
    """``jupyter huddle`` for the web-app tests: quick saves, an in-memory store (unless
    ``args`` name another), no token in the environment (the pages get it from the URL);
    its log kept as an artifact."""
    root = base / "root"
    root.mkdir()
    store = [] if any(a.startswith("--HuddleApp.store_path=") for a in args) else [
        "--HuddleApp.store_path=:memory:"]
    server = ServerProcess(root, base / "home", "--HuddleApp.save_delay_s=0.2",
                           "--HuddleApp.max_save_delay_s=1", *store, *args)
    server.env.pop("JUPYTER_TOKEN", None)
    try:
        server.start(timeout=SERVER_START_TIMEOUT_S)
        yield server
    finally:
        server.stop(timeout=SERVER_STOP_TIMEOUT_S)
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server.log_path, artifacts_dir / "server.log")


def lab_process(base: Path, *args: str, port: int | None = None,
                token: str | None = None) -> ServerProcess:
    """Stock ``jupyter lab`` with Huddle as its collaboration backend (not started yet).
    The same ``base``, ``port`` and ``token`` make it the same server again after a stop."""
    root = base / "root"
    root.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(
        root, base / "home",
        "--ServerApp.jpserver_extensions", "jupyter_huddle=True",
        "--ServerApp.jpserver_extensions", "jupyter_server_fileid=True",
        "--HuddleApp.save_delay_s=0.2", "--HuddleApp.max_save_delay_s=1",
        "--ServerApp.log_level=DEBUG", "--allow-root", *args,
        command=[sys.executable, "-m", "jupyterlab"], port=port, token=token,
    )
    # Lab user settings live under JUPYTER_CONFIG_DIR: no news/update toasts in the tests.
    settings = (Path(server.env["JUPYTER_CONFIG_DIR"]) / "lab" / "user-settings"
                / "@jupyterlab" / "apputils-extension")
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    server.env.pop("JUPYTER_TOKEN", None)
    return server


def start_lab(server: ServerProcess) -> ServerProcess:
    server.start(timeout=SERVER_START_TIMEOUT_S)
    extensions = server.log()
    missing = [name for name in ("jupyter_huddle", "jupyter_server_fileid", "jupyterlab")
               if f"{name} | extension was successfully loaded" not in extensions]
    if missing:  # stopped here: the caller never gets a server to stop
        server.stop(timeout=SERVER_STOP_TIMEOUT_S)
        raise AssertionError(f"extensions not loaded: {missing}\n{extensions}")
    return server


@pytest.fixture(scope="module")
def lab_server(
    tmp_path_factory: pytest.TempPathFactory, artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[ServerProcess]:
    """Stock ``jupyter lab`` with Huddle as its collaboration backend."""
    server = lab_process(tmp_path_factory.mktemp("lab"))
    try:
        yield start_lab(server)
    finally:
        server.stop(timeout=SERVER_STOP_TIMEOUT_S)
        shutil.copyfile(server.log_path,
                        module_artifacts(request.module, artifacts) / "server.log")


# Stock JupyterLab logs this when the kernel answers or closes a comm that another page
# opened: with ipywidgets installed, each page's jupyterlab_widgets opens a
# "jupyter.widget.control" comm, and the kernel's messages on it go out on iopub to every
# page. Two Lab tabs on one kernel do the same without Huddle.
FOREIGN_COMM = re.compile(r"^\[error\] Comm not found for comm id ([0-9a-f-]+)$")


def console_errors(user: UserPage) -> list[str]:
    """The page's console errors, but stock JupyterLab's about a comm it does not know
    (``FOREIGN_COMM``; which page opened it is not always in the captured frames). Tests
    about comms (test_jupyterlab_widgets) check those themselves."""
    return [line for line in user.errors if not FOREIGN_COMM.match(line)]


@pytest.fixture(scope="module")
def browser(artifacts: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class UserPage:
    """One user: its own browser context (own cookie, so its own Jupyter identity)."""

    name: str
    context: Any
    page: Any
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # (time.time(), "sent"|"received", websocket url, payload)
    ws_frames: list[tuple[float, str, str, bytes]] = field(default_factory=list)
    ws_closed: list[str] = field(default_factory=list)
    # (time.time(), method, url, request body or None, response status or None if it failed)
    http: list[tuple[float, str, str, str | None, int | None]] = field(default_factory=list)

    def ui_records(self) -> dict[str, list[str]]:
        try:
            return dict(self.page.evaluate(
                "() => ({dialogs: window.__huddleDialogs || [],"
                " toasts: window.__huddleToasts || []})"))
        except Exception as exc:  # page crashed or closed
            return {"dialogs": [f"<unavailable: {exc}>"], "toasts": []}

    def frames(self, direction: str, url_part: str) -> list[bytes]:
        """Payloads of websocket frames in ``direction`` on sockets whose URL has
        ``url_part``."""
        return [payload for _t, d, url, payload in list(self.ws_frames)
                if d == direction and url_part in url]

    def raw_messages(self, direction: str) -> list[bytes]:
        """Jupyter RAW (type 2) frames on document rooms, in the given direction."""
        return [payload for payload in self.frames(direction, "/api/collaboration/room/")
                if payload[:1] == b"\x02"]


class Users:
    def __init__(self, browser: Any, artifacts: Path) -> None:
        self.browser = browser
        self.artifacts = artifacts
        self.users: list[UserPage] = []

    def new(self, name: str) -> UserPage:
        context = self.browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(20_000)
        context.add_init_script(WATCH_UI_SCRIPT)
        user = UserPage(name, context, None)
        self.users.append(user)
        self._attach(user, context.new_page())
        return user

    def reopen(self, user: UserPage) -> UserPage:
        """A new page (tab) in the user's context, in place of its closed one: same
        identity; console, websocket and HTTP capture go on in the same lists."""
        self._attach(user, user.context.new_page())
        return user

    def _attach(self, user: UserPage, page: Any) -> None:
        user.page = page

        def on_console(msg: Any) -> None:
            line = f"[{msg.type}] {msg.text}"
            user.console.append(line)
            if msg.type == "error":
                user.errors.append(line)

        def on_websocket(ws: Any) -> None:
            url = ws.url

            def frame(direction: str) -> Callable[[Any], None]:
                def record(payload: str | bytes) -> None:
                    data = payload.encode() if isinstance(payload, str) else bytes(payload)
                    user.ws_frames.append((time.time(), direction, url, data))
                return record

            ws.on("framesent", frame("sent"))
            ws.on("framereceived", frame("received"))
            ws.on("close", lambda _ws: user.ws_closed.append(url))

        def body(request: Any) -> str | None:
            try:
                return request.post_data
            except UnicodeDecodeError:  # a binary body
                return "<binary>"

        def on_response(response: Any) -> None:
            request = response.request
            user.http.append((time.time(), request.method, request.url, body(request),
                              response.status))

        def on_request_failed(request: Any) -> None:
            user.http.append((time.time(), request.method, request.url, body(request), None))

        page.on("console", on_console)
        page.on("pageerror", lambda exc: user.errors.append(f"[pageerror] {exc}"))
        page.on("websocket", on_websocket)
        page.on("response", on_response)
        page.on("requestfailed", on_request_failed)

    def screenshot(self, user: UserPage, step: str) -> Path:
        path = self.artifacts / f"{step}-{user.name}.png"
        user.page.screenshot(path=str(path))
        return path

    def report(self) -> str:
        parts = []
        for user in self.users:
            records = user.ui_records()
            parts.append(f"===== {user.name}: console errors =====\n" + "\n".join(user.errors))
            parts.append(f"===== {user.name}: dialogs =====\n" + "\n".join(records["dialogs"]))
            parts.append(f"===== {user.name}: toasts =====\n" + "\n".join(records["toasts"]))
            parts.append(f"===== {user.name}: closed websockets =====\n"
                         + "\n".join(user.ws_closed))
        return "\n".join(parts)

    def close(self) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        for user in self.users:
            (self.artifacts / f"console-{user.name}.log").write_text("\n".join(user.console))
            (self.artifacts / f"websocket-{user.name}.log").write_text("\n".join(
                f"{stamp:.3f} {direction:8} {url.rsplit('/', 1)[-1][:60]} "
                f"{len(payload)}B {payload[:48]!r}"
                for stamp, direction, url, payload in list(user.ws_frames)))
            (self.artifacts / f"http-{user.name}.log").write_text("\n".join(
                f"{stamp:.3f} {status} {method} {url} {body or ''}"[:400]
                for stamp, method, url, body, status in list(user.http)))
            try:
                user.context.close()
            except Exception as exc:
                print(f"closing browser context {user.name} failed: {exc}")


@pytest.fixture
def users(browser: Any, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Users]:
    folder = module_artifacts(request.module, artifacts)
    created = Users(browser, folder)
    try:
        yield created
    finally:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.txt").write_text(created.report())
        created.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        funcargs = getattr(item, "funcargs", {})
        if "users" in funcargs:
            report.sections.append(("browser", funcargs["users"].report()))
        if "lab_server" in funcargs:
            report.sections.append(("jupyter lab server log", funcargs["lab_server"].log()))
    return report
