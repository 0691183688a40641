"""Server-side execution seen from stock JupyterLab 4 (+ jupyter-docprovider), two users.

Huddle sets the page config ``serverSideExecution``, so JupyterLab's cell executor is the
docprovider's ``NotebookCellServerExecutor``: Shift+Enter POSTs
``api/kernels/{kernel_id}/execute`` with ``{cell_id, document_id}`` and Huddle runs the
cell on the notebook's kernel, writing outputs, ``execution_count`` and
``execution_state`` into the shared document, so every collaborator sees them, and a run
goes on when a collaborator closes their page.

Screenshots of each step, the server log, each page's console, websocket and HTTP traffic
go to ``tests/artifacts/e2e/execution/``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.support.server_process import ServerProcess

from .conftest import UserPage, Users, console_errors
from .test_jupyterlab_rtc import (
    cell,
    editor,
    notebook,
    save_replies,
    username,
    wait_for,
    wait_until_quiet,
)

pytestmark = pytest.mark.timeout(120)

ARTIFACTS_SUBDIR = "execution"
NOTEBOOK = "huddle-exec.ipynb"
HELLO, SLOW, ERROR = 0, 1, 2
# The slow cell runs until the test creates this file (beside the notebook, the kernel's
# working directory): it is still running whatever the test checks meanwhile. (One line:
# the editors' text, which the test compares with the source, has no line breaks.)
GO = "huddle-exec.go"
SOURCES = {
    HELLO: "print('hello from the server')",
    SLOW: "import itertools, os, time; "
          f"any(os.path.exists({GO!r}) or time.sleep(0.05) for _ in itertools.count()); "
          "print('slow')",
    ERROR: "1/0",
}
KERNEL_IDLE = "Python 3 (ipykernel) | Idle"


def write_notebook(root: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    # A kernelspec, so JupyterLab starts the kernel instead of asking which one.
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(SOURCES[i]) for i in sorted(SOURCES)]
    path = root / NOTEBOOK
    nbformat.write(nb, str(path))
    return path


def prompt(user: UserPage, index: int) -> Any:
    return cell(user, index).locator(".jp-InputArea-prompt")


def outputs(user: UserPage, index: int) -> Any:
    return cell(user, index).locator(".jp-OutputArea-output")


def kernel_status(user: UserPage) -> Any:
    """The status bar's kernel item: "No Kernel | Initializing" until the page's session is
    connected to its kernel, then "Python 3 (ipykernel) | Idle" (or Busy). (The toolbar's
    execution indicator says "idle" before any kernel is there, so it cannot tell.)"""
    return user.page.locator("#jp-main-statusbar .jp-StatusBar-TextItem",
                             has_text="Python 3 (ipykernel) |")


def open_notebook(server: ServerProcess, users: Users, user: UserPage, step: str) -> None:
    """Open the notebook and wait until its kernel (one session, shared) is idle."""
    from playwright.sync_api import expect

    user.page.goto(f"{server.http_url}lab/tree/{NOTEBOOK}?token={server.token}")
    expect(notebook(user)).to_be_visible(timeout=30_000)
    expect(notebook(user).locator(".jp-Cell")).to_have_count(len(SOURCES))
    for index, source in SOURCES.items():
        expect(editor(user, index)).to_have_text(source)
    expect(kernel_status(user)).to_have_text(KERNEL_IDLE, timeout=30_000)
    users.screenshot(user, step)


def run_cell(user: UserPage, index: int) -> None:
    """Shift+Enter in the cell's editor, as a user does."""
    editor(user, index).click()
    user.page.keyboard.press("Shift+Enter")


def execute_posts(user: UserPage) -> list[tuple[str, dict[str, Any], int | None]]:
    """The page's ``POST api/kernels/<id>/execute`` requests: (url, body, status)."""
    posts = []
    for _t, method, url, body, status in list(user.http):
        url = url.split("?", 1)[0]  # JupyterLab adds a cache-busting query
        if method == "POST" and "/api/kernels/" in url and url.endswith("/execute"):
            posts.append((url, json.loads(body or "null"), status))
    return posts


def history(server: ServerProcess, document_id: str) -> list[dict[str, Any]]:
    status, body = server.get(f"api/huddle/queue/{document_id}")
    assert status == 200, body
    return list(json.loads(body)["history"])


def session_kernel(server: ServerProcess) -> str:
    status, body = server.get("api/sessions")
    assert status == 200, body
    # With the docprovider the session's path is the file's id; its name is the file name.
    sessions = [s for s in json.loads(body) if NOTEBOOK in (s["name"], s["path"])]
    assert len(sessions) == 1, sessions
    return str(sessions[0]["kernel"]["id"])


def disk_state(path: Path) -> tuple[str, Any] | None:
    """The saved file's raw text and its notebook, or None while it is not readable."""
    try:
        text = path.read_text()
        return text, nbformat.reads(text, as_version=4)
    except Exception:  # partially written
        return None


def saved_as_expected(path: Path) -> bool:
    state = disk_state(path)
    if state is None:
        return False
    _text, nb = state
    if len(nb.cells) != len(SOURCES) + 1:
        return False
    counts = [c.get("execution_count") for c in nb.cells]
    texts = ["".join(o.get("text", "") for o in c.get("outputs", [])) for c in nb.cells]
    enames = [o.get("ename") for o in nb.cells[ERROR].get("outputs", [])]
    return (counts == [1, 2, 3, None] and texts[HELLO] == "hello from the server\n"
            and texts[SLOW] == "slow\n" and enames == ["ZeroDivisionError"]
            and nb.cells[-1].source == "" and nb.cells[-1].outputs == [])


def no_kernel_execute(user: UserPage, kernel_id: str) -> None:
    """The page talked to the kernel over its websocket (capture works) but never sent
    an execute_request there: cells ran through Huddle."""
    sent = user.frames("sent", f"/api/kernels/{kernel_id}/channels")
    assert any(b"kernel_info_request" in frame for frame in sent), user.name
    assert not [f for f in sent if b"execute_request" in f], user.name


def no_trouble(user: UserPage) -> None:
    records = user.ui_records()
    assert not records["dialogs"], f"{user.name} saw dialogs: {records['dialogs']}"
    errors = console_errors(user)
    assert not errors, f"{user.name}'s console has errors: {errors}"


def test_two_users_run_cells_on_the_server(lab_server: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(lab_server.root)
    alice, bob = users.new("alice"), users.new("bob")

    # Both open the notebook: JupyterLab starts one kernel session for it.
    open_notebook(lab_server, users, alice, "01-opened")
    open_notebook(lab_server, users, bob, "01-opened")
    alice_name, bob_name = username(lab_server, alice), username(lab_server, bob)
    assert alice_name != bob_name, "both browser contexts got the same Jupyter identity"
    kernel_id = session_kernel(lab_server)
    for user in (alice, bob):
        config = user.page.evaluate(
            "() => JSON.parse(document.getElementById('jupyter-config-data').textContent)")
        assert config.get("serverSideExecution") in (True, "true"), config

    # Alice runs cell 1 with Shift+Enter: both pages show its output and [1].
    run_cell(alice, HELLO)
    for user in (alice, bob):
        expect(outputs(user, HELLO)).to_have_text("hello from the server")
        expect(prompt(user, HELLO)).to_have_text("[1]:")
        users.screenshot(user, "02-alice-ran-hello")
    # ...through Huddle's execute endpoint, not the kernel websocket.
    posts = wait_for(alice.page, lambda: execute_posts(alice), 5, "Alice's execute POST")
    assert len(posts) == 1, posts
    url, body, status = posts[0]
    assert url == f"{lab_server.http_url}api/kernels/{kernel_id}/execute", url
    assert status == 202, posts
    assert set(body) == {"cell_id", "document_id"}, body
    document_id = body["document_id"]
    assert document_id.startswith("json:notebook:"), body
    runs = history(lab_server, document_id)
    assert [(r["cell_id"], r["requested_by"]["username"], r["state"], r.get("execution_count"))
            for r in runs] == [(body["cell_id"], alice_name, "done", 1)], runs
    assert runs[0]["kernel_id"] == kernel_id, runs
    no_kernel_execute(alice, kernel_id)
    assert not execute_posts(bob)

    # Bob runs the slow cell; while it runs, Alice closes her page. Bob still gets it.
    run_cell(bob, SLOW)
    for user in (bob, alice):
        expect(prompt(user, SLOW)).to_have_text("[*]:", timeout=2_000)
        expect(kernel_status(user)).to_have_text("Python 3 (ipykernel) | Busy",
                                                 timeout=2_000)
        users.screenshot(user, "03-bob-running-slow")
    assert not outputs(bob, SLOW).count(), "the slow cell finished before Alice left"
    no_trouble(alice)  # checked before her page goes away
    alice.page.close()
    closed_at = time.time()
    (lab_server.root / GO).touch()
    expect(outputs(bob, SLOW)).to_have_text("slow", timeout=10_000)
    expect(prompt(bob, SLOW)).to_have_text("[2]:")
    expect(kernel_status(bob)).to_have_text(KERNEL_IDLE)
    users.screenshot(bob, "04-bob-got-slow-alice-gone")
    (bob_post,) = execute_posts(bob)
    assert bob_post[1]["document_id"] == document_id, bob_post
    assert bob_post[2] == 202, bob_post
    runs = history(lab_server, document_id)
    assert [(r["requested_by"]["username"], r["state"], r.get("execution_count"))
            for r in runs] == [(alice_name, "done", 1), (bob_name, "done", 2)], runs
    assert runs[1]["started_at"] < closed_at < runs[1]["finished_at"], (closed_at, runs)

    # Alice comes back (a new tab, same identity): she sees Bob's run.
    users.reopen(alice)
    open_notebook(lab_server, users, alice, "05-alice-back")
    expect(outputs(alice, SLOW)).to_have_text("slow")
    expect(prompt(alice, SLOW)).to_have_text("[2]:")
    assert session_kernel(lab_server) == kernel_id

    # Alice runs the error cell: both pages show the traceback, and [3]. (Shift+Enter in
    # the last cell also adds an empty cell below it, as JupyterLab always does.)
    run_cell(alice, ERROR)
    for user in (alice, bob):
        expect(notebook(user).locator(".jp-Cell")).to_have_count(len(SOURCES) + 1)
        error = outputs(user, ERROR)
        expect(error).to_have_count(1)
        expect(error).to_contain_text("ZeroDivisionError")
        expect(error).to_contain_text("division by zero")
        expect(error).to_contain_text("Traceback")
        # JupyterLab renders an error output as stderr text (an ANSI-coloured traceback).
        expect(error).to_have_attribute("data-mime-type", "application/vnd.jupyter.stderr")
        expect(prompt(user, ERROR)).to_have_text("[3]:")
        for index, text in ((HELLO, "hello from the server"), (SLOW, "slow")):
            expect(outputs(user, index)).to_have_text(text)
        users.screenshot(user, "06-error-traceback")
    runs = wait_for(alice.page, lambda: (r := history(lab_server, document_id))
                    and len(r) == 3 and r, 5, "the error run in the history")
    assert [post[2] for post in execute_posts(alice)] == [202, 202], execute_posts(alice)
    assert [(r["requested_by"]["username"], r["state"], r.get("execution_count"))
            for r in runs] == [(alice_name, "done", 1), (bob_name, "done", 2),
                               (alice_name, "error", 3)], runs
    for user in (alice, bob):
        expect(kernel_status(user)).to_have_text(KERNEL_IDLE)

    # The file on disk gets the outputs and counts (autosave), then Ctrl+S saves it too.
    wait_for(bob.page, lambda: saved_as_expected(path), 15,
             f"outputs and counts autosaved; last read: {disk_state(path)!r}")
    wait_until_quiet(path, [alice, bob])
    editor(bob, HELLO).click()
    bob.page.keyboard.press("Control+s")
    replies = wait_for(bob.page, lambda: save_replies(bob), 15, "the reply to Ctrl+S")
    assert [reply["status"] for reply in replies] == ["success"], replies
    state = disk_state(path)
    assert state is not None
    text, saved = state
    assert saved_as_expected(path), text
    nbformat.validate(saved)
    assert "execution_state" not in text, text
    assert [c.source for c in saved.cells] == [SOURCES[i] for i in sorted(SOURCES)] + [""]
    assert [o.output_type for o in saved.cells[HELLO].outputs] == ["stream"]
    assert [o.output_type for o in saved.cells[ERROR].outputs] == ["error"]
    users.screenshot(bob, "07-saved")

    # No dialogs, no console errors, no execute_request on a kernel socket, in either page.
    for user in (alice, bob):
        no_trouble(user)
        no_kernel_execute(user, kernel_id)
