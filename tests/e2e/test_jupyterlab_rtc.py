"""Stock JupyterLab 4 (+ jupyter-docprovider, jupyter-collaboration-ui) co-editing through
Huddle, in two real browser contexts (two users).

Screenshots of each step, the server log, each page's console and websocket traffic go to
``tests/artifacts/e2e/``.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.support.server_process import ServerProcess

from .conftest import UserPage, Users, console_errors

pytestmark = pytest.mark.timeout(150)

NOTEBOOK = "huddle-e2e.ipynb"
SOURCES = ["alpha = 1", "beta = 2"]
GLOBAL_AWARENESS = "/api/collaboration/room/JupyterLab:globalAwareness"
NOTEBOOK_ROOM = "/api/collaboration/room/json:notebook:"


def write_notebook(root: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    # A kernelspec, so JupyterLab starts the kernel instead of asking which one.
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in SOURCES]
    path = root / NOTEBOOK
    nbformat.write(nb, str(path))
    return path


def notebook(user: UserPage) -> Any:
    return user.page.locator(".jp-NotebookPanel .jp-Notebook")


def cell(user: UserPage, index: int) -> Any:
    return notebook(user).locator(".jp-Cell").nth(index)


def editor(user: UserPage, index: int) -> Any:
    return cell(user, index).locator(".cm-content")


def open_notebook(server: ServerProcess, users: Users, user: UserPage) -> None:
    from playwright.sync_api import expect

    user.page.goto(f"{server.http_url}lab/tree/{NOTEBOOK}?token={server.token}")
    expect(notebook(user)).to_be_visible(timeout=30_000)
    expect(notebook(user).locator(".jp-Cell")).to_have_count(len(SOURCES))
    for index, source in enumerate(SOURCES):
        expect(editor(user, index)).to_be_visible()
        expect(editor(user, index)).to_have_text(source)
    users.screenshot(user, "01-opened")


def username(server: ServerProcess, user: UserPage) -> str:
    """The Jupyter identity of this browser context (its login cookie)."""
    response = user.context.request.get(f"{server.http_url}api/me")
    assert response.ok, response.status
    return str(response.json()["identity"]["username"])


def type_at_end(user: UserPage, index: int, text: str, delay: float = 15) -> None:
    editor(user, index).click()
    user.page.keyboard.press("End")
    user.page.keyboard.type(text, delay=delay)


def wait_for(page: Any, predicate: Any, timeout_s: float, what: str) -> Any:
    """Poll ``predicate`` until truthy. Sleeps through ``page`` so that Playwright keeps
    delivering events (console, websocket frames) meanwhile: its sync API dispatches
    them only inside its own calls, never during ``time.sleep``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        page.wait_for_timeout(100)


def wait_until_quiet(path: Path, users: list[UserPage], quiet_s: float = 0.6,
                     timeout_s: float = 15) -> None:
    """Wait until the server has stopped saving and every page has caught up.

    After each save the server sets ``state.hash``; the docprovider then fetches the
    file's model and only then updates the document context. A Ctrl+S whose hash check
    runs inside that window sees a hash it does not know yet and raises "File Changed"
    (the same race exists with jupyter-collaboration's server). ``quiet_s`` covers that
    window with a wide margin; no "unsaved" mark means ``state.dirty = false`` arrived.
    """
    deadline = time.monotonic() + timeout_s
    last = path.stat().st_mtime_ns
    quiet_since = time.monotonic()
    while True:
        now = time.monotonic()
        mtime = path.stat().st_mtime_ns
        if mtime != last:
            last, quiet_since = mtime, now
        elif now - quiet_since >= quiet_s and all(
                user.page.locator(".lm-TabBar-tab.jp-mod-dirty").count() == 0
                for user in users):
            return
        if now > deadline:
            raise AssertionError(f"the server kept saving {path.name} for {timeout_s}s")
        users[0].page.wait_for_timeout(50)


def save_replies(user: UserPage) -> list[dict[str, Any]]:
    """Decoded RAW save replies: type 2, varString JSON (a short one-byte length here)."""
    replies = []
    for payload in user.raw_messages("received"):
        start = payload.find(b"{")
        if start < 0:
            continue
        try:
            message = json.loads(payload[start:].decode())
        except ValueError:
            continue
        if message.get("type") == "save":
            replies.append(message)
    return replies


def received_presence_of(user: UserPage, other: str) -> bool:
    """Whether ``user``'s global-awareness socket relayed a state of user ``other``."""
    needle = f'"username":"{other}"'.encode()
    return any(direction == "received" and GLOBAL_AWARENESS in url and needle in payload
               for _t, direction, url, payload in list(user.ws_frames))


def disk_sources(path: Path) -> list[str] | None:
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:  # partially written, or not yet
        return None
    return [cell.source for cell in nb.cells]


def test_two_users_coedit_and_save(lab_server: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(lab_server.root)
    tag = secrets.token_hex(3)
    edit_a, edit_b, edit_save = f"  # alice {tag}", f"  # bob {tag}", " ctrl-s"
    alice, bob = users.new("alice"), users.new("bob")

    # Alice opens the notebook and the Collaboration panel (jupyter-collaboration-ui).
    # The panel only redraws on a presence *change* after it is first shown, so it is
    # opened before Bob arrives; Bob's arrival is such a change.
    open_notebook(lab_server, users, alice)
    alice.page.locator('.lm-TabBar-tab[data-id="jp-collaboration-panel"]').click()
    expect(alice.page.locator(".jp-CollaboratorsList")).to_be_attached()
    open_notebook(lab_server, users, bob)
    alice_name, bob_name = username(lab_server, alice), username(lab_server, bob)
    assert alice_name != bob_name, "both browser contexts got the same Jupyter identity"
    collaborators = alice.page.locator(".jp-CollaboratorsList .jp-Collaborator")
    expect(collaborators).to_have_count(1)
    users.screenshot(alice, "01b-alice-sees-bob-online")

    # Alice types into cell 1; Bob sees it.
    type_at_end(alice, 0, edit_a)
    expect(editor(alice, 0)).to_have_text(SOURCES[0] + edit_a)
    users.screenshot(alice, "02-alice-typed")
    expect(editor(bob, 0)).to_have_text(SOURCES[0] + edit_a)
    users.screenshot(bob, "03-bob-sees-alice")

    # Bob types into cell 2; Alice sees it, with Bob's cursor there.
    type_at_end(bob, 1, edit_b)
    expect(editor(bob, 1)).to_have_text(SOURCES[1] + edit_b)
    users.screenshot(bob, "04-bob-typed")
    expect(editor(alice, 1)).to_have_text(SOURCES[1] + edit_b)
    expect(cell(alice, 1).locator(".jp-remote-cursor")).to_have_count(1)
    users.screenshot(alice, "05-alice-sees-bob")
    for user in (alice, bob):
        expect(notebook(user).locator(".jp-Cell")).to_have_count(len(SOURCES))

    # The server autosaves both edits (save_delay_s=0.2). Let that settle before Ctrl+S
    # (see wait_until_quiet for the client-side race this avoids).
    both = [SOURCES[0] + edit_a, SOURCES[1] + edit_b]
    wait_for(alice.page, lambda: disk_sources(path) == both, 15,
             f"both edits autosaved to disk; last read: {disk_sources(path)!r}")
    wait_until_quiet(path, [alice, bob])
    users.screenshot(alice, "06-autosaved")

    # Alice types once more and saves at once with Ctrl+S: the save request (RAW "save")
    # must be answered "success" only once the file on disk holds her edit.
    type_at_end(alice, 0, edit_save, delay=0)
    alice.page.keyboard.press("Control+s")
    replies = wait_for(alice.page, lambda: save_replies(alice), 15,
                       "the server's reply to Ctrl+S")
    assert [reply["status"] for reply in replies] == ["success"], replies
    assert any(b"save" in frame for frame in alice.raw_messages("sent"))
    expected = [SOURCES[0] + edit_a + edit_save, SOURCES[1] + edit_b]
    assert disk_sources(path) == expected, "the save reply came before the file was written"
    saved = nbformat.read(str(path), as_version=4)
    nbformat.validate(saved)
    assert [c.cell_type for c in saved.cells] == ["code", "code"]
    assert saved.metadata["kernelspec"]["name"] == "python3"
    # state.hash, which the docprovider hands to the document context, is exactly the
    # contents API's hash of the saved file (or the next Ctrl+S raises "File Changed").
    status, body = lab_server.get(f"api/contents/{NOTEBOOK}?content=0&hash=1")
    assert status == 200, body
    disk_hash = json.loads(body)["hash"]
    assert disk_hash, "the contents API gave no hash"
    wait_for(alice.page, lambda: any(disk_hash.encode() in frame for frame in
                                     alice.frames("received", NOTEBOOK_ROOM)),
             10, f"state.hash = {disk_hash} in Alice's notebook room")
    for user in (alice, bob):
        expect(editor(user, 0)).to_have_text(expected[0])
        # No "unsaved" mark once the server has saved (state.dirty = false).
        expect(user.page.locator(".lm-TabBar-tab.jp-mod-dirty")).to_have_count(0)
    users.screenshot(alice, "07-alice-saved")

    # Presence the other way round: Alice's cursor is drawn in Bob's cell 1, and each
    # global-awareness socket relayed the other user's state.
    expect(cell(bob, 0).locator(".jp-remote-cursor")).to_have_count(1)
    bob.page.locator('.lm-TabBar-tab[data-id="jp-collaboration-panel"]').click()
    users.screenshot(bob, "08-bob-saved")
    wait_for(bob.page, lambda: received_presence_of(bob, alice_name), 10,
             "Alice's presence in Bob's global awareness")
    assert received_presence_of(alice, bob_name)
    expect(collaborators).to_have_count(1)

    # Nothing went wrong in either page, and the file is still the saved one.
    assert disk_sources(path) == expected
    for user in (alice, bob):
        records = user.ui_records()
        assert not records["dialogs"], f"{user.name} saw dialogs: {records['dialogs']}"
        errors = console_errors(user)
        assert not errors, f"{user.name}'s console has errors: {errors}"
        closed = [url for url in user.ws_closed if NOTEBOOK_ROOM in url or GLOBAL_AWARENESS in url]
        assert not closed, f"{user.name}'s collaboration sockets closed: {closed}"
