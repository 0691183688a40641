"""Jupyter widgets in stock JupyterLab 4 (+ jupyter-docprovider, jupyterlab_widgets) on
Huddle, two users (issue 15).

JupyterLab keeps its own widget manager per page, fed through the page's own kernel
websocket: the kernel's ``comm_open`` and ``echo_update`` messages reach every page's
kernel connection (iopub is broadcast), and a moved slider goes to the kernel as a shell
``comm_msg`` on that connection. The cell itself runs through Huddle's server-side executor
(``POST api/kernels/{id}/execute``, see test_jupyterlab_execution.py), which writes the
widget's ``application/vnd.jupyter.widget-view+json`` output into the shared document.

Two tests:

- ``test_lab_renders_a_widget_run_on_the_server``: the slider renders right after the run,
  as it does with JupyterLab's own executor. That takes Huddle's JupyterLab plugin
  (``labextension/``, docs/WIDGETS.md): the docprovider's
  ``NotebookCellServerExecutor.runCell`` only POSTs the run and never calls
  ``CodeCellModel.clearExecution()``, which is where JupyterLab marks a cell the user ran
  as trusted; rendermime shows an untrusted output's safe MIME type only, the ``text/plain``
  repr "IntSlider(value=3, max=10)". (Upstream, the same bug in jupyter-server-documents'
  executor: its issue 307.) Bob, who has the notebook open too, sees the slider as well.
- ``test_lab_drives_a_slider_through_its_own_kernel_connection``: with the notebook
  trusted (JupyterLab's "Trust Notebook" command on Alice's page, as a person does; Bob's
  page follows the shared cells' ``metadata.trusted``), everything else:
  both pages render the slider, moving it with the keyboard changes the kernel's value
  (``print(s.value)`` says 5) and the other page's slider, and a page opened later gets
  the live state from the kernel.

Screenshots of each step, the server log, each page's console, websocket and HTTP traffic
go to ``tests/artifacts/e2e/widgets/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.support.server_process import ServerProcess

from .conftest import UserPage, Users
from .test_jupyterlab_execution import (
    KERNEL_IDLE,
    kernel_status,
    outputs,
    prompt,
    run_cell,
)
from .test_jupyterlab_rtc import editor, notebook

# Two pages, a kernel and ipywidgets' first import each; a loaded machine is slow at all three.
pytestmark = pytest.mark.timeout(240)

ARTIFACTS_SUBDIR = "widgets"
SLIDER, PRINT = 0, 1
SOURCES = {
    SLIDER: "import ipywidgets as w\ns = w.IntSlider(value=3, max=10)\ns",
    PRINT: "print(s.value)",
}
# Stock JupyterLab logs this when the kernel closes a comm that another page opened (each
# page's jupyterlab_widgets opens a "jupyter.widget.control" comm; the kernel's refusal is
# broadcast on iopub to every page). The same happens with two Lab tabs on one kernel
# without Huddle; no_trouble accepts it only for a comm another page of the test opened.
FOREIGN_COMM = re.compile(r"^\[error\] Comm not found for comm id ([0-9a-f-]+)$")
TRUST_PROMPT = 'Selecting "Trust" will re-render this notebook in a trusted state.'


def write_notebook(root: Path, name: str) -> Path:
    nb = nbformat.v4.new_notebook()
    # A kernelspec, so JupyterLab starts the kernel instead of asking which one.
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(SOURCES[i]) for i in sorted(SOURCES)]
    path = root / name
    nbformat.write(nb, str(path))
    return path


def open_notebook(server: ServerProcess, users: Users, user: UserPage, name: str,
                  step: str, added_cells: int = 0) -> None:
    """Open the notebook and wait until its kernel (one session, shared) is idle.
    ``added_cells``: the empty cells JupyterLab's Shift+Enter added below the last one."""
    from playwright.sync_api import expect

    # A JupyterLab workspace per notebook: Lab reopens the tabs of the workspace it was
    # in, and this module's tests open two notebooks.
    workspace = Path(name).stem
    user.page.goto(f"{server.http_url}lab/workspaces/{workspace}/tree/{name}"
                   f"?token={server.token}")
    expect(notebook(user)).to_be_visible(timeout=30_000)
    # (Wide deadlines: on a loaded machine a page can take seconds to fill its cells.)
    expect(notebook(user).locator(".jp-Cell")).to_have_count(len(SOURCES) + added_cells,
                                                             timeout=30_000)
    for index, source in SOURCES.items():
        # An editor's text content joins its lines without line breaks.
        expect(editor(user, index)).to_have_text(source.replace("\n", ""), timeout=15_000)
    expect(kernel_status(user)).to_have_text(KERNEL_IDLE, timeout=30_000)
    users.screenshot(user, step)


def session_kernel(server: ServerProcess, name: str) -> str:
    status, body = server.get("api/sessions")
    assert status == 200, body
    # With the docprovider the session's path is the file's id; its name is the file name.
    sessions = [s for s in json.loads(body) if name in (s["name"], s["path"])]
    assert len(sessions) == 1, sessions
    return str(sessions[0]["kernel"]["id"])


def trust_notebook(users: Users, user: UserPage) -> None:
    """JupyterLab's "Trust Notebook" command, from the command palette."""
    from playwright.sync_api import expect

    notebook(user).click()
    user.page.keyboard.press("Control+Shift+c")
    expect(user.page.locator(".jp-ModalCommandPalette input")).to_be_focused()
    user.page.keyboard.type("Trust Notebook")
    user.page.keyboard.press("Enter")
    dialog = user.page.locator(".jp-Dialog").filter(has_text=TRUST_PROMPT)
    dialog.get_by_role("button", name="Trust").click()
    expect(dialog).to_have_count(0)
    users.screenshot(user, "02-trusted")


def slider(user: UserPage) -> Any:
    return outputs(user, SLIDER).locator(".jupyter-widgets.widget-slider")


def expect_slider(user: UserPage, value: int) -> None:
    """The cell's output is the live slider view showing ``value``: not the text fallback
    (``IntSlider(value=3, max=10)``) nor jupyterlab_widgets' "Error displaying widget"."""
    from playwright.sync_api import expect

    expect(outputs(user, SLIDER)).to_have_count(1)
    # The text fallback is a jp-RenderedText output with this attribute; jupyterlab_widgets'
    # view is a panel without one.
    expect(outputs(user, SLIDER)).not_to_have_attribute("data-mime-type", "text/plain")
    expect(slider(user)).to_be_visible()
    expect(slider(user).locator(".noUi-handle")).to_have_attribute("aria-valuenow",
                                                                   f"{value}.0")
    expect(slider(user).locator(".widget-readout")).to_have_text(str(value))
    expect(outputs(user, SLIDER)).not_to_contain_text("IntSlider(")
    expect(outputs(user, SLIDER)).not_to_contain_text("Error displaying widget")


def kernel_sent(user: UserPage, kernel_id: str, msg_type: str) -> list[bytes]:
    """Frames of ``msg_type`` the page sent on its kernel websocket."""
    needle = f'"msg_type":"{msg_type}"'.encode()
    return [frame for frame in user.frames("sent", f"/api/kernels/{kernel_id}/channels")
            if needle in frame]


def opened_comms(user: UserPage, kernel_id: str) -> set[str]:
    return {m.group(1).decode() for frame in kernel_sent(user, kernel_id, "comm_open")
            if (m := re.search(rb'"comm_id":"([0-9a-f-]+)"', frame))}


def no_trouble(user: UserPage, others: list[UserPage], kernel_id: str) -> None:
    """No dialogs but the trust prompt the test answered (trust_notebook); no console errors
    but stock JupyterLab's one about a comm another page opened (FOREIGN_COMM)."""
    dialogs = [text for text in user.ui_records()["dialogs"] if TRUST_PROMPT not in text]
    assert not dialogs, f"{user.name} saw dialogs: {dialogs}"
    foreign = set().union(*(opened_comms(other, kernel_id) for other in others))
    errors = [line for line in user.errors
              if not ((m := FOREIGN_COMM.match(line)) and m.group(1) in foreign)]
    assert not errors, f"{user.name}'s console has errors: {errors}"


def test_lab_renders_a_widget_run_on_the_server(lab_server: ServerProcess,
                                                users: Users) -> None:
    from playwright.sync_api import expect

    name = "huddle-widgets-untrusted.ipynb"
    write_notebook(lab_server.root, name)
    alice, bob = users.new("alice"), users.new("bob")
    for user in (alice, bob):
        open_notebook(lab_server, users, user, name, "11-opened")
    # Nobody trusted the notebook. Alice's page trusts the cell she runs (the plugin, on
    # executionScheduled); Bob's, open already, when the shared cell's metadata says so.
    run_cell(alice, SLIDER)
    for user in (alice, bob):
        expect(prompt(user, SLIDER)).to_have_text("[1]:", timeout=15_000)
        users.screenshot(user, "12-ran-untrusted")
        expect_slider(user, 3)


def test_lab_drives_a_slider_through_its_own_kernel_connection(lab_server: ServerProcess,
                                                               users: Users) -> None:
    from playwright.sync_api import expect

    name = "huddle-widgets.ipynb"
    write_notebook(lab_server.root, name)
    alice, bob = users.new("alice"), users.new("bob")
    for user in (alice, bob):
        open_notebook(lab_server, users, user, name, "01-opened")
    # Alice trusts the notebook. Trust goes into the shared cells' metadata, which Bob's
    # open page follows (Huddle's plugin; without it, Lab reads it only for new cells).
    trust_notebook(users, alice)
    kernel_id = session_kernel(lab_server, name)

    # Alice runs the slider cell: both pages render the slider at 3.
    run_cell(alice, SLIDER)
    for user in (alice, bob):
        expect(prompt(user, SLIDER)).to_have_text("[1]:", timeout=15_000)
        expect_slider(user, 3)
        users.screenshot(user, "03-slider-rendered")

    # Alice moves it with the keyboard: two steps right. Her page sends the update on its
    # own kernel connection; the kernel's echo_update moves Bob's slider too.
    handle = slider(alice).locator(".noUi-handle")
    handle.focus()
    handle.press("ArrowRight")
    handle.press("ArrowRight")
    for user in (alice, bob):
        expect_slider(user, 5)
        users.screenshot(user, "04-slider-moved")
    assert kernel_sent(alice, kernel_id, "comm_msg"), "Alice's page sent no comm_msg"
    assert not kernel_sent(alice, kernel_id, "execute_request"), "a run bypassed Huddle"

    # The kernel has the new value: print(s.value) says 5, on both pages.
    run_cell(alice, PRINT)
    for user in (alice, bob):
        expect(outputs(user, PRINT)).to_have_text("5", timeout=15_000)
        expect(prompt(user, PRINT)).to_have_text("[2]:")
        users.screenshot(user, "05-printed")

    # Bob opens the notebook again (a new tab): his new page gets the live widget from
    # the kernel and renders it at 5 (trusted now: Alice's trust went into the shared
    # cells' metadata, which a new page reads).
    no_trouble(bob, [alice], kernel_id)  # checked before his page goes away
    bob.page.close()
    users.reopen(bob)
    # (Shift+Enter in the last cell, PRINT, added an empty cell below it: three cells.)
    open_notebook(lab_server, users, bob, name, "06-bob-reopened", added_cells=1)
    expect_slider(bob, 5)
    assert session_kernel(lab_server, name) == kernel_id

    no_trouble(alice, [bob], kernel_id)
    no_trouble(bob, [alice], kernel_id)
