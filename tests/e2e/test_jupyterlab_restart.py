"""Stock JupyterLab, its notebook tab open while the server restarts without its update
store (issue 12): the history is rebuilt from the file, so the tab's copy belongs to an
earlier history. Nothing may be duplicated in the file or in a freshly opened page; the tab
gets one clear prompt and no reconnect storm (before: about ten attempts a second and one
"Session expired" dialog per attempt); what it typed meanwhile is kept, and the prompt says
where. (After its prompt, JupyterLab's docprovider disposes the tab's shared model: what is
typed there after "Continue" never reaches a document, so the prompt says so.)
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .conftest import (
    SERVER_STOP_TIMEOUT_S,
    Users,
    lab_process,
    module_artifacts,
    start_lab,
)
from .test_jupyterlab_rtc import (
    NOTEBOOK,
    NOTEBOOK_ROOM,
    SOURCES,
    disk_sources,
    editor,
    notebook,
    open_notebook,
    type_at_end,
    wait_for,
    write_notebook,
)

pytestmark = pytest.mark.timeout(180)

RETRY_S = 4.0
WATCH_S = 15.0


class Restartable:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.server = start_lab(lab_process(base, f"--HuddleApp.stale_tab_retry_s={RETRY_S}"))

    def stop_and_delete_store(self) -> None:
        self.server.stop(timeout=SERVER_STOP_TIMEOUT_S)
        store = self.base / "home" / "data" / "huddle" / "store.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(str(store) + suffix).unlink(missing_ok=True)

    def start_again(self) -> None:
        self.server = start_lab(lab_process(self.base, f"--HuddleApp.stale_tab_retry_s={RETRY_S}",
                                            port=self.server.port, token=self.server.token))


@pytest.fixture
def lab(tmp_path: Path, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Restartable]:
    server = Restartable(tmp_path / "lab")
    try:
        yield server
    finally:
        server.server.stop(timeout=SERVER_STOP_TIMEOUT_S)
        shutil.copyfile(server.server.log_path,
                        module_artifacts(request.module, artifacts) / "server.log")


def room_attempts(page_ws_urls: list[tuple[float, str]], since: float) -> int:
    return sum(1 for stamp, url in page_ws_urls if stamp >= since and NOTEBOOK_ROOM in url)


def watch_closing_connection_errors(page: Any, seconds: float) -> None:
    """Watch the page for ``seconds``, closing JupyterLab's own "Server Connection Error"
    dialog as a person would. Whether Lab shows it depends on whether one of its polls fell
    into the time the server was down; while it is open, Lab queues every later dialog
    behind it, the docprovider's prompt included."""
    close = (page.locator(".jp-Dialog")
             .filter(has_text="connection to the Jupyter server could not be established")
             .get_by_role("button", name="Close"))
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if close.count():
            close.first.click()
        page.wait_for_timeout(min(250.0, left * 1000))


@pytest.mark.timing
def test_a_tab_open_across_a_rebuilt_history_duplicates_nothing_and_does_not_storm(
        lab: Restartable, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(lab.server.root)
    stale = users.new("stale")
    attempts: list[float] = []
    opened: list[float] = []  # room sockets the server upgraded (they received a frame)

    def on_websocket(ws: Any) -> None:
        if NOTEBOOK_ROOM not in ws.url:
            return
        attempts.append(time.monotonic())
        first: list[bool] = []

        def received(_payload: Any) -> None:
            if not first:
                first.append(True)
                opened.append(time.monotonic())
        ws.on("framereceived", received)

    stale.page.on("websocket", on_websocket)
    open_notebook(lab.server, users, stale)
    type_at_end(stale, 0, "  # before")
    wait_for(stale.page, lambda: (disk_sources(path) or [""])[0] == SOURCES[0] + "  # before",
             20, "the edit to be saved")

    lab.stop_and_delete_store()
    type_at_end(stale, 1, "  # while down")  # unsaved: the server is not there
    lab.start_again()
    restarted = time.monotonic()
    watch_closing_connection_errors(stale.page, WATCH_S)  # watch the tab: what does it do?
    users.screenshot(stale, "02-after-restart")
    tries = sum(1 for stamp in attempts if stamp >= restarted)
    upgraded = sum(1 for stamp in opened if stamp >= restarted)
    dialogs = [d for d in stale.ui_records()["dialogs"] if "Reload" in d]
    # before: ~9 attempts a second, each one upgraded, each one a dialog. Now the tab is
    # refused before the upgrade and backs off (y-websocket: up to 2.5 s apart), and one
    # attempt per retry window goes through (a dialog only if it brought new typing).
    assert tries <= 2 * WATCH_S, f"{tries} attempts to reconnect in {WATCH_S} s"
    assert upgraded <= WATCH_S / RETRY_S + 2, (tries, upgraded)
    assert len(dialogs) == 1, dialogs

    # what the tab typed while the server was down is kept, and the dialog says where
    (kept,) = path.parent.glob("*.recovered-*.ipynb")
    assert nbformat.read(str(kept), 4).cells[1].source == SOURCES[1] + "  # while down"
    assert f"Edits kept in {kept.name}" in dialogs[0], dialogs

    # the file and a fresh page hold every cell once, and nothing of the old copy
    fresh = users.new("fresh")
    fresh.page.goto(f"{lab.server.http_url}lab/tree/{NOTEBOOK}?token={lab.server.token}")
    expect(notebook(fresh)).to_be_visible(timeout=30_000)
    expect(notebook(fresh).locator(".jp-Cell")).to_have_count(len(SOURCES))
    expect(editor(fresh, 0)).to_have_text(SOURCES[0] + "  # before")
    expect(editor(fresh, 1)).to_have_text(SOURCES[1])
    users.screenshot(fresh, "03-fresh")
    assert disk_sources(path) == [SOURCES[0] + "  # before", *SOURCES[1:]]
