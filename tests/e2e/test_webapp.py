"""Huddle's own web app (``/huddle/``) in Debian's Chromium, two users at once.

Each user is a browser context of its own (its own login cookie, so its own Jupyter
identity) on a ``jupyter huddle`` subprocess. Scenarios: the file list (create, open,
rename, delete); both users typing in one cell converge; cells added, moved and deleted by
one are seen by the other; a run's output and who ran it are seen by both, and ``input()``
is offered to the runner only; an HTML output's script cannot read the app's cookies or
touch its DOM, and Markdown cannot run script; a reload keeps everything; jumping to and
following a collaborator, until one scrolls or types; output growing and cells inserted
above someone's view do not move it; run above / below; cancelling a queued run; the
export downloads; a failed save shown and retried; the dark theme and keyboard access.

Screenshots of each step, the server log, each page's console, websocket and HTTP traffic
go to ``tests/artifacts/e2e/webapp/``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupyter_huddle.server.handlers.home import STATIC_DIR
from tests.support.server_process import ServerProcess

from .conftest import (
    UserPage,
    Users,
    huddle_app_server,
    module_artifacts,
)

pytestmark = pytest.mark.timeout(90)

ARTIFACTS_SUBDIR = "webapp"
KERNEL_TIMEOUT_MS = 40_000

HOSTILE_HTML = """<div id="probe">probe did not run</div>
<script>
var r = [];
try { r.push('cookie:' + document.cookie); } catch (e) { r.push('cookie-blocked:' + e.name); }
try { parent.document.body.setAttribute('data-pwned', 'html'); r.push('parent-dom:open'); }
catch (e) { r.push('parent-dom-blocked:' + e.name); }
try { top.location.href; r.push('top-location:readable'); }
catch (e) { r.push('top-location-blocked'); }
document.getElementById('probe').textContent = r.join(' ');
</script>"""

HOSTILE_MARKDOWN = (
    "# Safe heading\n\n"
    "<img src=\"x\" onerror=\"document.body.setAttribute('data-pwned', 'markdown')\">\n\n"
    "<script>document.body.setAttribute('data-pwned', 'markdown-script')</script>\n\n"
    "Math: $e^{i\\pi} + 1 = 0$"
)


@pytest.fixture(scope="module", autouse=True)
def _bundle_built() -> None:
    if not (STATIC_DIR / "index.html").is_file():
        message = (f"the web app is not built ({STATIC_DIR}/index.html missing): "
                   "pip install -e . or npm run build --prefix frontend")
        if os.environ.get("HUDDLE_E2E_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def huddle(tmp_path_factory: pytest.TempPathFactory, artifacts: Path,
           request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """``jupyter huddle`` with an in-memory store, saving quickly. A failed save is retried
    by the server only after 30 s, so that the save-failure test sees its Retry button do
    the retrying."""
    with huddle_app_server(tmp_path_factory.mktemp("webapp"),
                           module_artifacts(request.module, artifacts),
                           "--HuddleApp.save_retry_delay_s=30") as server:
        yield server


def write_notebook(server: ServerProcess, name: str, cells: list[Any]) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = cells
    nbformat.write(nb, str(server.root / name))
    return name


def code(source: str) -> Any:
    return nbformat.v4.new_code_cell(source)


# --- locators and actions -------------------------------------------------------------------

def cells(user: UserPage) -> Any:
    return user.page.locator(".hd-cells > .hd-cell")


def cell(user: UserPage, index: int) -> Any:
    return cells(user).nth(index)


def editor(user: UserPage, index: int) -> Any:
    return cell(user, index).locator(".cm-content")


def outputs(user: UserPage, index: int) -> Any:
    return cell(user, index).locator(".hd-outputs")


def run_line(user: UserPage, index: int) -> Any:
    return cell(user, index).locator(".hd-run")


def open_notebook(server: ServerProcess, user: UserPage, path: str, count: int) -> None:
    from playwright.sync_api import expect

    user.page.goto(f"{server.http_url}huddle/notebooks/{path}?token={server.token}")
    expect(user.page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    expect(cells(user)).to_have_count(count)
    assert "token=" not in user.page.url, "the token is kept out of the address bar"


def command_mode_on(user: UserPage, index: int) -> None:
    """Select a cell in command mode, as a click on its prompt area does."""
    cell(user, index).locator(".hd-gutter").click()


def display_name(server: ServerProcess, user: UserPage) -> str:
    response = user.context.request.get(f"{server.http_url}api/me")
    assert response.ok, response.status
    identity = response.json()["identity"]
    return str(identity["display_name"] or identity["name"] or identity["username"])


def two_users(server: ServerProcess, users: Users, path: str, count: int
              ) -> tuple[UserPage, UserPage]:
    alice, bob = users.new("alice"), users.new("bob")
    for user in (alice, bob):
        open_notebook(server, user, path, count)
    return alice, bob


# --- scenarios ----------------------------------------------------------------------------------

def test_file_list_create_open_rename_delete(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    write_notebook(huddle, "existing.ipynb", [code("x = 1")])
    (huddle.root / "folder").mkdir()
    user = users.new("files")
    page = user.page
    page.goto(f"{huddle.http_url}huddle/?token={huddle.token}")
    expect(page.locator(".hd-file-table")).to_contain_text("existing.ipynb")
    expect(page.locator(".hd-entry-directory", has_text="folder")).to_be_visible()
    users.screenshot(user, "01-file-list")

    page.get_by_role("button", name="+ New notebook").click()
    expect(page).to_have_url(re.compile(r"/huddle/notebooks/Untitled\.ipynb$"))
    expect(page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    expect(cells(user)).to_have_count(1)  # the server gives an empty notebook one cell
    users.screenshot(user, "02-new-notebook")

    page.locator(".hd-logo").click()
    row = page.locator("tr[data-path='Untitled.ipynb']")
    expect(row).to_be_visible()
    row.get_by_role("button", name="Rename Untitled.ipynb").click()
    field = page.get_by_label("New name for Untitled.ipynb")
    field.fill("renamed.ipynb")
    field.press("Enter")
    expect(page.locator("tr[data-path='renamed.ipynb']")).to_be_visible()
    assert (huddle.root / "renamed.ipynb").is_file()
    assert not (huddle.root / "Untitled.ipynb").exists()

    renamed = page.locator("tr[data-path='renamed.ipynb']")
    renamed.get_by_role("button", name="Delete renamed.ipynb").click()
    renamed.get_by_role("button", name="Yes, delete").click()
    expect(page.locator("tr[data-path='renamed.ipynb']")).to_have_count(0)
    assert not (huddle.root / "renamed.ipynb").exists()
    users.screenshot(user, "03-after-rename-delete")

    page.locator(".hd-entry-notebook", has_text="existing.ipynb").click()
    expect_source(user, 0, "x = 1")
    assert not user.errors, user.errors


def test_two_users_type_in_one_cell_and_converge(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "typing.ipynb", [code("base"), code("other")])
    alice, bob = two_users(huddle, users, path, 2)
    editor(alice, 0).click()
    alice.page.keyboard.press("End")
    editor(bob, 0).click()
    bob.page.keyboard.press("Home")
    # Interleaved, without waiting for each other: concurrent edits of one Y.Text.
    for i in range(4):
        alice.page.keyboard.type(f" a{i}")
        bob.page.keyboard.type(f"b{i} ")
    final = wait_equal(alice, bob, 0)
    for i in range(4):
        assert f" a{i}" in final, final
        assert f"b{i} " in final, final
    assert "base" in final
    # Bob's cursor is drawn in Alice's editor, flagged with his name.
    expect(cell(alice, 0).locator(".cm-ySelectionCaret")).to_have_count(1)
    users.screenshot(alice, "10-converged")
    users.screenshot(bob, "10-converged")
    # Each sees the other in the people list.
    expect(alice.page.locator(".hd-person")).to_have_count(2)
    expect(cell(alice, 0).locator(".hd-peer-chip")).to_have_count(1)
    assert not alice.errors + bob.errors, alice.errors + bob.errors


SOURCE_JS = """(content) => {
  const copy = content.cloneNode(true);
  copy.querySelectorAll('.cm-ySelectionCaret, .cm-widgetBuffer').forEach((el) => el.remove());
  return Array.from(copy.querySelectorAll('.cm-line'), (line) => line.textContent).join('\\n');
}"""


def source(user: UserPage, index: int) -> str:
    """The cell's text as its editor shows it, without remote cursors' name flags."""
    return str(editor(user, index).evaluate(SOURCE_JS))


def expect_source(user: UserPage, index: int, text: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while (shown := source(user, index)) != text:
        if time.monotonic() > deadline:
            raise AssertionError(f"{user.name}'s cell {index} shows {shown!r}, not {text!r}")
        user.page.wait_for_timeout(50)


def wait_equal(alice: UserPage, bob: UserPage, index: int) -> str:
    """Wait until both editors show the same text, and it stops changing."""
    previous = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        a, b = source(alice, index), source(bob, index)
        if a == b == previous:
            return a
        previous = a if a == b else None
        alice.page.wait_for_timeout(100)
    raise AssertionError(f"no convergence: {source(alice, index)!r} != {source(bob, index)!r}")


def test_add_move_delete_cells_seen_by_the_other(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "cells.ipynb", [code("first"), code("second")])
    alice, bob = two_users(huddle, users, path, 2)

    command_mode_on(alice, 1)
    alice.page.keyboard.press("b")  # insert below, in command mode
    expect(cells(alice)).to_have_count(3)
    alice.page.keyboard.press("Enter")  # edit mode
    alice.page.keyboard.type("third")
    expect(cells(bob)).to_have_count(3)
    expect_source(bob, 2, "third")

    alice.page.keyboard.press("Escape")
    alice.page.get_by_role("button", name="Move the cell up").click()
    alice.page.get_by_role("button", name="Move the cell up").click()
    for user in (alice, bob):
        expect_source(user, 0, "third")
        expect_source(user, 1, "first")
        expect_source(user, 2, "second")
    users.screenshot(bob, "20-moved")

    command_mode_on(bob, 1)
    bob.page.keyboard.press("m")  # to Markdown
    expect(cell(alice, 1)).to_have_attribute("data-cell-type", "markdown")
    command_mode_on(bob, 1)
    bob.page.keyboard.press("d")
    bob.page.keyboard.press("d")
    for user in (alice, bob):
        expect(cells(user)).to_have_count(2)
        expect_source(user, 0, "third")
        expect_source(user, 1, "second")
    users.screenshot(alice, "21-deleted")
    assert not alice.errors + bob.errors, alice.errors + bob.errors


def test_markdown_cell_edited_then_rendered_for_both(huddle: ServerProcess,
                                                     users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "markdown.ipynb", [
        nbformat.v4.new_markdown_cell("# Title"), code("x = 1")])
    alice, bob = two_users(huddle, users, path, 2)
    for user in (alice, bob):
        expect(cell(user, 0).locator(".hd-rendered h1")).to_have_text("Title")
        expect(cell(user, 0).locator(".cm-editor")).to_have_count(0)
    cell(alice, 0).locator(".hd-rendered").dblclick()
    expect(cell(alice, 0).locator(".cm-editor")).to_have_count(1)
    alice.page.keyboard.press("Control+End")
    alice.page.keyboard.type("\n\nThe area is $\\pi r^2$.")
    # Bob, who is not editing it, sees it rendered as it changes.
    expect(cell(bob, 0).locator(".hd-rendered .katex")).to_have_count(1)
    alice.page.keyboard.press("Shift+Enter")  # render, and move on
    expect(cell(alice, 0).locator(".hd-rendered")).to_contain_text("The area is")
    expect(cell(alice, 0).locator(".hd-rendered .katex")).to_have_count(1)
    expect(cell(alice, 1)).to_have_class(re.compile(r"\bhd-active\b"))
    users.screenshot(alice, "25-markdown-rendered")
    assert not alice.errors + bob.errors, alice.errors + bob.errors


def test_run_output_and_runner_seen_by_both_and_input(huddle: ServerProcess,
                                                      users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "run.ipynb", [
        code("print('hello from the kernel')"),
        code("name = input('Your name? ')\nprint('hi', name)"),
        code("print('\\x1b[31mred\\x1b[0m'); 1/0"),
    ])
    alice, bob = two_users(huddle, users, path, 3)
    alice_name = display_name(huddle, alice)

    editor(alice, 0).click()
    alice.page.keyboard.press("Shift+Enter")
    for user in (alice, bob):
        expect(outputs(user, 0)).to_have_text("hello from the kernel", timeout=KERNEL_TIMEOUT_MS)
        expect(run_line(user, 0)).to_have_text(f"Ran · by {alice_name}")
        expect(cell(user, 0).locator(".hd-prompt")).to_have_text("[1]:")
    # Shift+Enter advanced to the next cell.
    expect(cell(alice, 1)).to_have_class(re.compile(r"\bhd-active\b"))
    users.screenshot(bob, "30-output-seen-by-bob")

    # input(): Alice, who ran it, gets the prompt; Bob is told whom it waits for.
    alice.page.keyboard.press("Escape")
    alice.page.keyboard.press("Control+Enter")
    prompt = alice.page.get_by_label("Your name?")
    expect(prompt).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
    expect(run_line(bob, 1)).to_have_text(f"Waiting for input from {alice_name}")
    expect(cell(bob, 1).locator("input")).to_have_count(0)
    users.screenshot(alice, "31-input-prompt")
    users.screenshot(bob, "31-input-waiting")
    prompt.fill("Ada")
    prompt.press("Enter")
    for user in (alice, bob):
        expect(outputs(user, 1)).to_contain_text("hi Ada", timeout=KERNEL_TIMEOUT_MS)

    # Bob runs a cell that fails: an ANSI-coloured stream and a traceback, by Bob.
    bob_name = display_name(huddle, bob)
    command_mode_on(bob, 2)
    bob.page.keyboard.press("Control+Enter")
    for user in (alice, bob):
        expect(cell(user, 2).locator(".hd-error")).to_contain_text(
            "ZeroDivisionError", timeout=KERNEL_TIMEOUT_MS)
        expect(run_line(user, 2)).to_have_text(f"Run failed · by {bob_name}")
    expect(cell(alice, 2).locator(".hd-stdout .ansi-red-fg")).to_have_text("red")
    users.screenshot(alice, "32-error-by-bob")
    assert not alice.errors + bob.errors, alice.errors + bob.errors


def test_html_output_and_markdown_cannot_touch_the_app(huddle: ServerProcess,
                                                       users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "hostile.ipynb", [
        nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN),
        code(f"from IPython.display import HTML\nHTML({HOSTILE_HTML!r})"),
    ])
    user = users.new("hostile")
    open_notebook(huddle, user, path, 2)
    page = user.page
    expect(cell(user, 0).locator("h1")).to_have_text("Safe heading")
    expect(cell(user, 0).locator(".katex")).to_have_count(1)
    editor(user, 1).click()
    page.keyboard.press("Control+Enter")
    frame = cell(user, 1).locator("iframe.hd-frame")
    expect(frame).to_have_count(1, timeout=KERNEL_TIMEOUT_MS)
    assert frame.get_attribute("sandbox") == "allow-scripts"
    probe = page.frame_locator(".hd-cell iframe.hd-frame").locator("#probe")
    expect(probe).to_contain_text("cookie-blocked:SecurityError")
    expect(probe).to_contain_text("parent-dom-blocked:SecurityError")
    app_cookie = page.evaluate("document.cookie")
    assert "_xsrf" in app_cookie  # the app has cookies; the frame could not read them
    assert page.evaluate("document.body.getAttribute('data-pwned')") is None
    users.screenshot(user, "40-sandboxed-output")
    assert not user.errors, user.errors


def test_reload_keeps_everything(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "reload.ipynb", [code("print(6 * 7)")])
    alice, bob = two_users(huddle, users, path, 1)
    editor(alice, 0).click()
    alice.page.keyboard.press("End")
    alice.page.keyboard.type("  # edited")
    alice.page.keyboard.press("Shift+Enter")  # runs, and adds a cell at the end
    expect(cells(alice)).to_have_count(2)
    alice.page.keyboard.type("kept = True")
    for user in (alice, bob):
        expect(outputs(user, 0)).to_have_text("42", timeout=KERNEL_TIMEOUT_MS)
        expect_source(user, 1, "kept = True")
    expect(alice.page.locator(".hd-save")).to_have_text("Saved", timeout=10_000)

    for user in (alice, bob):
        user.page.reload()
        expect(user.page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
        expect(cells(user)).to_have_count(2)
        expect_source(user, 0, "print(6 * 7)  # edited")
        expect_source(user, 1, "kept = True")
        expect(outputs(user, 0)).to_have_text("42")
    users.screenshot(bob, "50-after-reload")
    saved = nbformat.read(str(huddle.root / path), as_version=4)
    assert [c.source for c in saved.cells] == ["print(6 * 7)  # edited", "kept = True"]
    assert alice.errors + bob.errors == [], alice.errors + bob.errors


PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0g"
           "AAAABJRU5ErkJggg==")
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" '
       'height="20" fill="teal"/><script>parent.document.body.setAttribute("data-pwned",'
       '"svg")</script></svg>')


def test_rich_outputs_render_safely(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    rich = code("# outputs saved in the file")
    rich.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": PNG_1PX, "text/plain": "png"}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": SVG, "text/plain": "svg"}),
        nbformat.v4.new_output("display_data", data={"text/markdown": "**bold** *md*"}),
        nbformat.v4.new_output("display_data", data={"text/latex": "$$\\frac{a}{b}$$"}),
        nbformat.v4.new_output("display_data", data={"application/json": {"k": [1, 2]}}),
        nbformat.v4.new_output("execute_result", data={"text/plain": "\n".join(
            f"line {i}" for i in range(200))}, execution_count=1),
    ]
    path = write_notebook(huddle, "rich.ipynb", [rich])
    user = users.new("rich")
    open_notebook(huddle, user, path, 1)
    out = outputs(user, 0)
    expect(out.locator("img.hd-image")).to_have_count(2)
    assert out.locator("img.hd-image").nth(0).get_attribute("src").startswith(
        "data:image/png;base64,")
    assert out.locator("img.hd-image").nth(1).get_attribute("src").startswith(
        "data:image/svg+xml")
    expect(out.locator(".hd-markdown strong")).to_have_text("bold")
    expect(out.locator(".katex-display")).to_have_count(1)
    expect(out.locator(".hd-json")).to_contain_text('"k"')
    more = out.get_by_role("button", name="Show more")
    expect(more).to_be_visible()  # 200 lines are collapsed
    users.screenshot(user, "45-rich-outputs")
    more.click()
    expect(out.get_by_role("button", name="Show less")).to_be_visible()
    assert user.page.evaluate("document.body.getAttribute('data-pwned')") is None
    assert not user.errors, user.errors


def test_run_all_and_interrupt(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "interrupt.ipynb", [
        code("print('one')"), code("import time\ntime.sleep(60)"), code("print('never')")])
    alice, bob = two_users(huddle, users, path, 3)
    alice.page.get_by_role("button", name="Run all cells").click()
    for user in (alice, bob):
        expect(outputs(user, 0)).to_have_text("one", timeout=KERNEL_TIMEOUT_MS)
        expect(cell(user, 1).locator(".hd-prompt")).to_have_text("[*]:")
        expect(run_line(user, 1)).to_contain_text("Running · asked by")
        expect(run_line(user, 2)).to_contain_text("Queued")
    users.screenshot(bob, "35-run-all-queue")
    bob.page.get_by_role("button", name="Interrupt the kernel (I, I)").click()
    bob.page.get_by_role("dialog").get_by_role("button", name="Interrupt").click()
    for user in (alice, bob):
        expect(cell(user, 1).locator(".hd-error")).to_contain_text(
            "KeyboardInterrupt", timeout=KERNEL_TIMEOUT_MS)
        expect(outputs(user, 2)).to_have_count(1)
        expect(outputs(user, 2)).to_have_text("")  # aborted with the rest of the batch
    users.screenshot(alice, "36-interrupted")
    assert not alice.errors + bob.errors, alice.errors + bob.errors


def test_socket_cut_keeps_edits_and_a_stale_session_asks_for_reload(huddle: ServerProcess,
                                                                     users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "cut.ipynb", [code("start")])
    alice, bob = users.new("alice"), users.new("bob")
    # Bob's room socket goes through the test, which can cut it and refuse reconnects.
    cut: dict[str, Any] = {"blocked": False, "sockets": []}

    def route(ws: Any) -> None:
        if cut["blocked"]:
            ws.close(code=1012, reason="test: network down")
            return
        ws.connect_to_server()
        cut["sockets"].append(ws)

    bob.page.route_web_socket(re.compile(r"/api/collaboration/room/json:notebook:"), route)
    for user in (alice, bob):
        open_notebook(huddle, user, path, 1)

    cut["blocked"] = True
    cut["sockets"][-1].close(code=1012, reason="test: network down")
    expect(bob.page.locator(".hd-status")).to_contain_text("Reconnecting")
    editor(bob, 0).click()
    bob.page.keyboard.press("Home")
    bob.page.keyboard.type("offline-bob ")
    editor(alice, 0).click()
    alice.page.keyboard.press("End")
    alice.page.keyboard.type(" online-alice")
    users.screenshot(bob, "70-socket-cut")
    bob.page.wait_for_timeout(3000)  # the outage itself: nothing to wait for but time
    expect_source(alice, 0, "start online-alice")  # Bob's edit has not reached anyone
    cut["blocked"] = False
    expect(bob.page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    assert wait_equal(alice, bob, 0) == "offline-bob start online-alice"
    users.screenshot(bob, "71-socket-restored")

    # The server says Bob's copy belongs to an older history: it kept the copy in a file
    # (RAW stale_copy), then closes; a reload prompt naming the file, no merge.
    kept = json.dumps({"type": "stale_copy", "kept_in": "cut.recovered-20261207-084528.ipynb"})
    cut["sockets"][-1].send(bytes([2, len(kept)]) + kept.encode())  # RAW, a short varString
    reason = json.dumps({"reason": "unknown_session", "sessionId": "old", "reloadable": True})
    cut["sockets"][-1].close(code=1003, reason=reason)
    banner = bob.page.locator(".hd-banner-stale")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("kept in cut.recovered-20261207-084528.ipynb")
    expect(bob.page.locator(".hd-status")).to_have_text("This page is out of date")
    users.screenshot(bob, "72-stale-reload-prompt")
    banner.get_by_role("button", name="Reload").click()
    expect(bob.page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    expect_source(bob, 0, "offline-bob start online-alice")
    assert not alice.errors + bob.errors, alice.errors + bob.errors


def test_a_failing_update_store_is_told_and_editing_goes_on(
        tmp_path: Path, artifacts: Path, users: Users) -> None:
    """A store that cannot be opened (its folder is a file): the server serves, the page
    says the history is not being written, and edits still sync and save."""
    from playwright.sync_api import expect

    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the store's folder should be")
    store = blocker / "huddle" / "store.sqlite"
    (tmp_path / "server").mkdir()
    with huddle_app_server(tmp_path / "server", artifacts / ARTIFACTS_SUBDIR,
                           f"--HuddleApp.store_path={store}") as server:
        path = write_notebook(server, "durable.ipynb", [code("x = 1")])
        alice, bob = two_users(server, users, path, 1)
        for user in (alice, bob):
            expect(user.page.locator(".hd-banner-durability")).to_contain_text(
                "cannot write this notebook's edit history")
        editor(alice, 0).click()
        alice.page.keyboard.press("End")
        alice.page.keyboard.type("  # still synced")
        expect_source(bob, 0, "x = 1  # still synced")
        saved = server.root / path
        deadline = time.monotonic() + 20
        while "still synced" not in saved.read_text():
            assert time.monotonic() < deadline, "the edit was not saved to the file"
            alice.page.wait_for_timeout(100)
        assert not alice.errors + bob.errors, alice.errors + bob.errors


@pytest.mark.timing
def test_a_long_notebook_opens_fast_with_lazy_editors(huddle: ServerProcess,
                                                      users: Users) -> None:
    from playwright.sync_api import expect

    long_cells = []
    for i in range(1000):
        if i % 10 == 0:
            long_cells.append(nbformat.v4.new_markdown_cell(f"## Section {i // 10}\n\n$x_{{{i}}}$"))
        else:
            code_cell = code(f"value_{i} = {i}\nprint(value_{i})")
            code_cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{i}\n")]
            long_cells.append(code_cell)
    path = write_notebook(huddle, "long.ipynb", long_cells)
    user = users.new("long")
    page = user.page
    started = time.monotonic()
    page.goto(f"{huddle.http_url}huddle/notebooks/{path}?token={huddle.token}")
    expect(cell(user, 1).locator(".cm-content")).to_be_visible(timeout=20_000)
    elapsed = time.monotonic() - started
    expect(cells(user)).to_have_count(1000)
    mounted = page.locator(".hd-cells .cm-editor").count()
    print(f"1000-cell notebook: first editor visible {elapsed:.2f} s after navigation "
          f"(token login included); {mounted} editors mounted")
    assert mounted < 100, mounted  # only those near the viewport
    assert elapsed < 10, elapsed
    users.screenshot(user, "60-long-notebook-top")
    cell(user, 999).scroll_into_view_if_needed()
    expect(cell(user, 999).locator(".cm-editor")).to_have_count(1)
    expect(outputs(user, 999)).to_have_text("999")
    users.screenshot(user, "61-long-notebook-bottom")
    assert page.locator(".hd-cells .cm-editor").count() < 100
    assert not user.errors, user.errors


# --- presence, follow mode and a still view ---------------------------------------------------

IN_VIEW_JS = """(el) => {
  const top = document.querySelector('.hd-toolbar').getBoundingClientRect().bottom;
  const r = el.getBoundingClientRect();
  return r.top >= top - 8 && r.bottom <= innerHeight + 8;
}"""

# Resolves once the page's scroll position has not changed for five frames (a wheel scroll
# may be animated).
SCROLL_SETTLED_JS = """() => new Promise((resolve) => {
  let last = scrollY, still = 0;
  const tick = () => {
    still = scrollY === last ? still + 1 : 0;
    last = scrollY;
    if (still >= 5) resolve(scrollY); else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})"""


def filler(i: int) -> Any:
    """A four-line code cell: sixty of them make a page several screens long."""
    return code("\n".join(f"v{i}_{k} = {k}" for k in range(4)))


def in_view(user: UserPage, index: int) -> bool:
    return bool(cell(user, index).evaluate(IN_VIEW_JS))


def wait_in_view(user: UserPage, index: int, timeout_ms: float = 10_000) -> None:
    user.page.wait_for_function(IN_VIEW_JS, arg=cell(user, index).element_handle(),
                                timeout=timeout_ms)


def settled_scroll(user: UserPage) -> float:
    return float(user.page.evaluate(SCROLL_SETTLED_JS))


def test_presence_jump_and_follow(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "follow.ipynb", [filler(i) for i in range(60)])
    alice, bob = two_users(huddle, users, path, 60)
    alice_name = display_name(huddle, alice)

    # Clicking Alice in the people list takes Bob to the cell she is in.
    command_mode_on(alice, 30)
    expect(cell(bob, 30).locator(".hd-peer-chip")).to_have_count(1)
    assert not in_view(bob, 30)
    bob.page.get_by_role("button", name=f"Go to {alice_name}'s cell").click()
    wait_in_view(bob, 30)
    users.screenshot(bob, "80-jumped-to-alice")

    # Following: Bob's view goes wherever Alice goes, far below and far above.
    follow = bob.page.get_by_role("button", name=f"Follow {alice_name}")
    follow.click()
    expect(follow).to_have_attribute("aria-pressed", "true")
    badge = bob.page.locator(".hd-following")
    expect(badge).to_contain_text(f"Following {alice_name}")
    for index in (55, 5):
        command_mode_on(alice, index)
        wait_in_view(bob, index)
    users.screenshot(bob, "81-following-alice")
    # A move within Bob's view does not scroll it.
    before = settled_scroll(bob)
    alice.page.keyboard.press("j")  # command mode: next cell
    expect(cell(bob, 6).locator(".hd-peer-chip")).to_have_count(1)
    assert settled_scroll(bob) == before
    assert in_view(bob, 6)

    # Bob scrolls: following stops, and he is told.
    bob.page.mouse.move(700, 500)
    bob.page.mouse.wheel(0, 1500)
    expect(badge).to_have_text(f"Stopped following {alice_name}: you scrolled")
    expect(follow).to_have_attribute("aria-pressed", "false")
    users.screenshot(bob, "82-follow-stopped-by-scrolling")
    before = settled_scroll(bob)
    command_mode_on(alice, 45)
    expect(cell(bob, 45).locator(".hd-peer-chip")).to_have_count(1)
    assert settled_scroll(bob) == before, "no longer following"

    # Following again, then typing: stops too.
    follow.click()
    wait_in_view(bob, 45)
    editor(bob, 45).click()
    bob.page.keyboard.type("z")
    expect(badge).to_have_text(f"Stopped following {alice_name}: you typed")
    assert not alice.errors + bob.errors, alice.errors + bob.errors


# Where a cell is, measured from the bottom of the sticky bars (what the app holds still:
# the bars themselves may grow a line when, say, the kernel status text changes).
BELOW_BARS_JS = """(el) => el.getBoundingClientRect().top
  - document.querySelector('.hd-toolbar').getBoundingClientRect().bottom"""

ANCHOR_RECORDER_JS = """(el) => {
  // Every time the cell list changes size, after the app has reacted (this observer was
  // created after the app's, so it is called after it), where is Bob's anchor cell?
  const below = () => el.getBoundingClientRect().top
    - document.querySelector('.hd-toolbar').getBoundingClientRect().bottom;
  window.__anchorTops = [];
  new ResizeObserver(() => window.__anchorTops.push(below())).observe(
    document.querySelector('.hd-cells'));
  return below();
}"""


def test_output_and_cells_above_do_not_move_the_view(huddle: ServerProcess,
                                                      users: Users) -> None:
    from playwright.sync_api import expect

    sources = [filler(i) for i in range(40)]
    sources[8] = code("import time\nfor i in range(30):\n"
                      "    print('line', i, flush=True)\n    time.sleep(0.03)")
    path = write_notebook(huddle, "anchor.ipynb", sources)
    alice, bob = two_users(huddle, users, path, 40)
    # Bob reads cell 12, its top just under the toolbar; cell 8 is above his view (mounted).
    anchor = cell(bob, 12)
    anchor_id = anchor.get_attribute("data-cell-id")
    anchor.evaluate("""(el) => {
      const top = document.querySelector('.hd-toolbar').getBoundingClientRect().bottom;
      window.scrollBy(0, el.getBoundingClientRect().top - top - 10);
    }""")
    scroll_before = settled_scroll(bob)
    assert not in_view(bob, 8)
    expect(cell(bob, 8).locator(".cm-editor")).to_have_count(1)
    top_before = anchor.evaluate(ANCHOR_RECORDER_JS)

    # Alice runs cell 8: its output grows by 30 lines above Bob's view, as it streams.
    command_mode_on(alice, 8)
    alice.page.keyboard.press("Control+Enter")
    expect(outputs(bob, 8)).to_contain_text("line 29", timeout=KERNEL_TIMEOUT_MS)
    expect(cell(bob, 8).locator(".hd-prompt")).to_have_text("[1]:")
    settled_scroll(bob)
    tops = bob.page.evaluate("window.__anchorTops")
    assert len(tops) >= 2, tops  # the list did change size
    assert all(abs(top - top_before) <= 1 for top in tops), (top_before, tops)
    assert abs(anchor.evaluate(BELOW_BARS_JS) - top_before) <= 1
    grown = settled_scroll(bob) - scroll_before
    assert grown > 300, f"the page scrolled {grown} px with the output above"
    users.screenshot(bob, "83-output-grew-above")

    # Alice inserts three cells above Bob's view and deletes one: his view stays.
    command_mode_on(alice, 2)
    for key in ("a", "a", "a"):
        alice.page.keyboard.press(key)
    expect(cells(bob)).to_have_count(43)
    alice.page.keyboard.press("d")
    alice.page.keyboard.press("d")
    expect(cells(bob)).to_have_count(42)
    settled_scroll(bob)
    held = bob.page.locator(f".hd-cell[data-cell-id='{anchor_id}']")
    assert abs(held.evaluate(BELOW_BARS_JS) - top_before) <= 1
    tops = bob.page.evaluate("window.__anchorTops")
    assert all(abs(top - top_before) <= 1 for top in tops), (top_before, tops)
    assert not alice.errors + bob.errors, alice.errors + bob.errors


# --- running: above, below, cancelling ---------------------------------------------------------

def prompt(user: UserPage, index: int) -> Any:
    return cell(user, index).locator(".hd-prompt")


def test_run_above_and_below(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "above_below.ipynb",
                          [code(f"print('out {i}')") for i in range(4)])
    user = users.new("runner")
    open_notebook(huddle, user, path, 4)
    command_mode_on(user, 2)
    user.page.get_by_role("button", name="Run the cells above the selected cell").click()
    expect(outputs(user, 1)).to_have_text("out 1", timeout=KERNEL_TIMEOUT_MS)
    expect(outputs(user, 0)).to_have_text("out 0")
    expect(prompt(user, 1)).to_have_text("[2]:")
    for index in (2, 3):
        expect(prompt(user, index)).to_have_text("[ ]:")
        expect(outputs(user, index)).to_have_text("")
    users.screenshot(user, "84-ran-above")
    user.page.get_by_role("button", name="Run the selected cell and the cells below it").click()
    expect(outputs(user, 3)).to_have_text("out 3", timeout=KERNEL_TIMEOUT_MS)
    expect(outputs(user, 2)).to_have_text("out 2")
    for index in range(4):
        expect(prompt(user, index)).to_have_text(f"[{index + 1}]:")
    users.screenshot(user, "85-ran-below")
    assert not user.errors, user.errors


def test_cancel_a_queued_run(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "cancel.ipynb", [
        code("import time\nprint('sleeping', flush=True)\ntime.sleep(60)"),
        code("print('one')"), code("print('two')")])
    alice, bob = two_users(huddle, users, path, 3)
    alice_name = display_name(huddle, alice)
    for index in range(3):
        command_mode_on(alice, index)
        alice.page.keyboard.press("Control+Enter")
        if index == 0:
            expect(run_line(alice, 0)).to_contain_text("Running", timeout=KERNEL_TIMEOUT_MS)
    for user in (alice, bob):
        expect(run_line(user, 1)).to_have_text(re.compile(r"^Queued \(#1\) · asked by"))
        expect(run_line(user, 2)).to_have_text(re.compile(r"^Queued \(#2\) · asked by"))
    # Only Alice, who asked, is offered Cancel.
    expect(run_line(bob, 1).get_by_role("button")).to_have_count(0)

    # Cancel from the cell...
    run_line(alice, 1).get_by_role("button", name="Cancel this queued run").click()
    for user in (alice, bob):
        expect(run_line(user, 1)).to_have_text(f"Run cancelled · asked by {alice_name}")
        expect(run_line(user, 2)).to_have_text(re.compile(r"^Queued \(#1\)"))
    # ...and from the queue panel, opened from the kernel status.
    queue = alice.page.locator(".hd-queue")
    expect(queue.locator("summary")).to_have_attribute(
        "aria-label", "Kernel: busy · 2 in queue (run queue)")
    queue.locator("summary").click()
    panel = alice.page.locator(".hd-queue .hd-queue-list")
    expect(panel.locator(".hd-queue-item")).to_have_count(2)
    expect(panel.locator(".hd-queue-running")).to_contain_text("Cell 1")
    expect(panel.locator(".hd-queue-queued")).to_contain_text("Waiting #1")
    users.screenshot(alice, "86-queue-panel")
    panel.get_by_role("button", name="Cancel the queued run of Cell 3").click()
    for user in (alice, bob):
        expect(run_line(user, 2)).to_have_text(f"Run cancelled · asked by {alice_name}")
    expect(panel.locator(".hd-queue-item")).to_have_count(1)
    users.screenshot(bob, "87-cancelled-seen-by-bob")
    deletes = [(url, status) for _t, method, url, _b, status in alice.http
               if method == "DELETE" and "/api/huddle/requests/" in url]
    assert [status for _url, status in deletes] == [204, 204], deletes

    alice.page.keyboard.press("Escape")  # close the panel
    # Interrupt once the sleep has surely begun (a kernel still starting may miss it).
    expect(outputs(alice, 0)).to_have_text("sleeping", timeout=KERNEL_TIMEOUT_MS)
    alice.page.get_by_role("button", name="Interrupt the kernel (I, I)").click()
    alice.page.get_by_role("dialog").get_by_role("button", name="Interrupt").click()
    expect(cell(alice, 0).locator(".hd-error")).to_contain_text(
        "KeyboardInterrupt", timeout=KERNEL_TIMEOUT_MS)
    for index in (1, 2):
        expect(prompt(bob, index)).to_have_text("[ ]:")
        expect(outputs(bob, index)).to_have_text("")
    assert not alice.errors + bob.errors, alice.errors + bob.errors


# --- export, saving, themes ---------------------------------------------------------------------

def test_export_downloads_the_live_notebook(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "export me.ipynb", [
        code("answer = 42"), nbformat.v4.new_markdown_cell("# Exported ü")])
    user = users.new("export")
    open_notebook(huddle, user, path, 2)
    page = user.page
    editor(user, 0).click()
    page.keyboard.press("End")
    page.keyboard.type("  # live edit")
    expect_source(user, 0, "answer = 42  # live edit")
    expect(page.locator(".hd-save")).to_have_text("Saved", timeout=10_000)
    menu = page.locator(".hd-export")
    expected = {"ipynb": "export me.ipynb", "html": "export me.html",
                "markdown": "export me.md", "python": "export me.py"}
    texts = {}
    for fmt, filename in expected.items():
        menu.locator("summary").click()
        if fmt == "ipynb":
            users.screenshot(user, "88-export-menu")
        with page.expect_download() as info:
            menu.locator(f"a[data-format='{fmt}']").click()
        download = info.value
        assert download.suggested_filename == filename
        texts[fmt] = Path(download.path()).read_text(encoding="utf-8")
        expect(menu).not_to_have_attribute("open", "")
    notebook = nbformat.reads(texts["ipynb"], as_version=4)
    assert [c.source for c in notebook.cells] == ["answer = 42  # live edit", "# Exported ü"]
    assert texts["html"].lstrip().lower().startswith("<!doctype html")
    assert "live edit" in texts["html"]
    assert "Exported ü" in texts["html"]
    assert "answer = 42  # live edit" in texts["markdown"]
    assert "# Exported ü" in texts["markdown"]
    assert "answer = 42  # live edit" in texts["python"]
    assert not user.errors, user.errors


def test_save_failure_shown_then_retried(huddle: ServerProcess, users: Users) -> None:
    """The file's path becomes a directory, so no save can succeed (even as root, which
    file permissions would not stop); both users see why; once it is a file's place again,
    Retry saves at once (the server's own retry is 30 s away in this module)."""
    from playwright.sync_api import expect

    path = write_notebook(huddle, "fragile.ipynb", [code("x = 1")])
    alice, bob = two_users(huddle, users, path, 1)
    expect(alice.page.locator(".hd-save")).to_have_text("Saved", timeout=10_000)
    target = huddle.root / path
    target.unlink()
    target.mkdir()
    try:
        editor(alice, 0).click()
        alice.page.keyboard.press("End")
        alice.page.keyboard.type(" + 1")
        for user in (alice, bob):
            expect(user.page.locator(".hd-save")).to_contain_text(
                "Save failed: fragile.ipynb", timeout=10_000)
        retry = alice.page.get_by_role("button", name="Retry saving")
        expect(retry).to_be_visible()
        users.screenshot(alice, "89-save-failed")
    finally:
        target.rmdir()
    retry.click()
    for user in (alice, bob):
        expect(user.page.locator(".hd-save")).to_have_text("Saved", timeout=10_000)
    expect(retry).to_be_hidden()
    users.screenshot(bob, "90-save-recovered")
    assert [c.source for c in nbformat.read(str(target), as_version=4).cells] == ["x = 1 + 1"]
    save_requests = [m for m in alice.raw_messages("sent") if b"save" in m]
    assert len(save_requests) == 1, save_requests
    assert any(b'"status":"success"' in m.replace(b" ", b"")
               for m in alice.raw_messages("received")), alice.raw_messages("received")
    assert not alice.errors + bob.errors, alice.errors + bob.errors


FOCUSED_JS = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return [el.tagName, (el.getAttribute('aria-label') || el.textContent || '').trim(),
          style.outlineStyle, style.outlineWidth];
}"""


def test_dark_theme_keyboard_access_and_widget_fallback(huddle: ServerProcess,
                                                        users: Users) -> None:
    from playwright.sync_api import expect

    widget = code("slider")
    widget.outputs = [nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {
            "model_id": "4f2a", "version_major": 2, "version_minor": 0},
        "text/plain": "IntSlider(value=3)"})]
    path = write_notebook(huddle, "dark.ipynb", [
        code("print('dark')"), widget, nbformat.v4.new_markdown_cell("Some *Markdown*")])
    alice, bob = users.new("alice"), users.new("bob")
    bob.page.emulate_media(color_scheme="dark")
    for user in (alice, bob):
        open_notebook(huddle, user, path, 3)
    alice_name = display_name(huddle, alice)
    background = "getComputedStyle(document.body).backgroundColor"
    assert bob.page.evaluate(background) == "rgb(13, 17, 23)"
    assert alice.page.evaluate(background) == "rgb(255, 255, 255)"

    # An ipywidgets view shows its text, saying what it is.
    for user in (alice, bob):
        fallback = outputs(user, 1).locator(".hd-widget")
        expect(fallback).to_contain_text("Interactive widget")
        expect(fallback).to_contain_text("IntSlider(value=3)")

    # Every control in the header and toolbar has a name.
    editor(alice, 0).click()
    expect(bob.page.get_by_role("button", name=f"Follow {alice_name}")).to_be_visible()
    names = bob.page.evaluate("""() => [...document.querySelectorAll(
        '.hd-top button:not([hidden]), .hd-top summary, .hd-top a')].map(
        (el) => (el.getAttribute('aria-label') || el.textContent || '').trim())""")
    assert names
    assert all(names), names
    # Tab goes through them all, each with a visible focus ring, to the Download menu.
    bob.page.locator(".hd-logo").focus()
    reached: list[list[str]] = []
    while not reached or reached[-1][1] != "Download the notebook as":
        assert len(reached) < 40, reached
        bob.page.keyboard.press("Tab")
        reached.append(bob.page.evaluate(FOCUSED_JS))
    labels = [label for _tag, label, _style, _width in reached]
    assert any(label.endswith("(run queue)") for label in labels), labels
    for label in (f"Go to {alice_name}'s cell",
                  f"Follow {alice_name}", "Run all cells", "Run the cells above the selected cell",
                  "Run the selected cell and the cells below it", "Restart the kernel"):
        assert label in labels, (label, labels)
    assert all(style != "none" and width != "0px" for _tag, _label, style, width in reached), \
        reached
    # The menu opens from the keyboard, and Escape closes it and gives the focus back.
    bob.page.keyboard.press("Enter")
    bob.page.keyboard.press("Tab")
    assert bob.page.evaluate(FOCUSED_JS)[1] == "Notebook (.ipynb)"
    users.screenshot(bob, "91-dark-theme-menu")
    bob.page.keyboard.press("Escape")
    expect(bob.page.locator(".hd-export")).not_to_have_attribute("open", "")
    assert bob.page.evaluate(FOCUSED_JS)[1] == "Download the notebook as"
    users.screenshot(alice, "92-light-theme")
    assert not alice.errors + bob.errors, alice.errors + bob.errors
