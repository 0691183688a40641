"""Jupyter staples in Huddle's web app (issue 16, point 10), in Debian's Chromium.

Scenarios: the toolbar's cell-type list shows and changes the selected cell's type (as
M / Y do), each code cell's run button runs it (clicked, and reached with Tab), the
kernel's name comes from the notebook and the kernel picker changes everyone's kernel
after asking; a viewer sees the list disabled, no run buttons and the kernel's name; the
table of contents goes to a heading's cell; a heading collapses the cells under it for
one person only (kept over a reload, never in the shared notebook), ↓ passes over them;
the Comments button says "Comments (1)"; Tab in command mode reaches the selected cell's
controls (run, comment, who wrote this, lock) without hovering, and a touch screen shows
them always; the header stays one line at 1400 and 900 px.

Screenshots (both themes), the server log, each page's console, websocket and HTTP
traffic go to ``tests/artifacts/e2e/staples/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import nbformat
import pytest

from tests.support.server_process import ServerProcess

from .conftest import UserPage, Users, huddle_app_server, module_artifacts
from .test_webapp import (  # noqa: F401  (_bundle_built: an autouse fixture)
    KERNEL_TIMEOUT_MS,
    _bundle_built,
    cell,
    cells,
    code,
    command_mode_on,
    open_notebook,
    outputs,
    write_notebook,
)
from .test_webapp_comments import cell_comment_button, compose
from .test_webapp_sharing import create_link, join

pytestmark = pytest.mark.timeout(150)

ARTIFACTS_SUBDIR = "staples"
PID = re.compile(r"pid (\d+)")


@pytest.fixture(scope="module")
def huddle(tmp_path_factory: pytest.TempPathFactory, artifacts: Path,
           request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    with huddle_app_server(tmp_path_factory.mktemp("staples"),
                           module_artifacts(request.module, artifacts)) as server:
        yield server


def md(source: str) -> Any:
    return nbformat.v4.new_markdown_cell(source)


def both_themes(users: Users, user: UserPage, step: str) -> None:
    users.screenshot(user, f"{step}-light")
    user.page.emulate_media(color_scheme="dark")
    users.screenshot(user, f"{step}-dark")
    user.page.emulate_media(color_scheme="light")


def pid(user: UserPage, index: int) -> int:
    from playwright.sync_api import expect

    expect(outputs(user, index)).to_have_text(PID, timeout=KERNEL_TIMEOUT_MS)
    match = PID.search(outputs(user, index).inner_text())
    assert match is not None
    return int(match.group(1))


def header_height(user: UserPage) -> float:
    box = user.page.locator(".hd-header").bounding_box()
    assert box is not None
    return float(box["height"])


def touch_user(users: Users, name: str) -> UserPage:
    """A phone-like page (touch, no hover), its own context and so its own identity."""
    context = users.browser.new_context(viewport={"width": 900, "height": 900},
                                        has_touch=True, is_mobile=True)
    user = UserPage(name, context, context.new_page())
    users.users.append(user)  # closed with the others
    return user


def no_errors(*people: UserPage) -> None:
    """No console errors (a guest's page may be refused /favicon.ico: a 403 the browser
    logs, nothing the app asked for)."""
    errors = [e for user in people for e in user.errors if "status of 403" not in e]
    assert not errors, errors


def test_cell_type_run_buttons_and_kernel_picker(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "staples.ipynb", [
        code("import os; print('pid', os.getpid())"), code("y = 2"), code("print('three')")])
    alice = users.new("alice")
    open_notebook(huddle, alice, path, 3)
    page = alice.page
    kind = page.get_by_label("Cell type (Y, M, R)")

    # The cell-type list shows the selected cell's type and changes it, as M / Y do.
    command_mode_on(alice, 1)
    expect(kind).to_have_value("code")
    expect(kind).to_be_enabled()
    kind.select_option("markdown")
    expect(cell(alice, 1)).to_have_attribute("data-cell-type", "markdown")
    expect(kind).to_have_value("markdown")
    page.keyboard.press("y")  # the keyboard is back in the notebook: Y makes it code again
    expect(cell(alice, 1)).to_have_attribute("data-cell-type", "code")
    expect(kind).to_have_value("code")
    command_mode_on(alice, 2)
    page.keyboard.press("r")
    expect(kind).to_have_value("raw")
    kind.select_option("code")
    expect(cell(alice, 2)).to_have_attribute("data-cell-type", "code")

    # A run button on each code cell: shown on the active cell, clicked it runs the cell.
    command_mode_on(alice, 0)
    run0 = cell(alice, 0).get_by_role("button", name="Run this cell (Ctrl+Enter)")
    expect(run0).to_have_css("opacity", "1")
    expect(cell(alice, 1).locator(".hd-cell-run")).to_have_css("opacity", "0")
    run0.click()
    first_pid = pid(alice, 0)
    # Tab in command mode goes to the selected cell's controls, in the gutter's order.
    command_mode_on(alice, 2)
    page.keyboard.press("Tab")
    expect(cell(alice, 2).locator(".hd-cell-run")).to_be_focused()
    page.keyboard.press("Enter")
    expect(outputs(alice, 2)).to_have_text("three", timeout=KERNEL_TIMEOUT_MS)
    command_mode_on(alice, 1)
    for name in ("Run this cell (Ctrl+Enter)", "Comment on this cell", "Who wrote this?",
                 "Lock this cell"):
        page.keyboard.press("Tab")
        control = cell(alice, 1).get_by_role("button", name=name, exact=True)
        expect(control).to_be_focused()
        expect(control).to_be_visible()
        expect(control).not_to_have_css("opacity", "0")
    both_themes(users, alice, "20-cell-controls")

    # The kernel's name (the notebook's kernelspec) and the picker of installed kernels.
    picker = page.locator(".hd-kernel-picker")
    expect(picker.locator("summary")).to_have_text("Python 3")
    picker.locator("summary").click()
    choice = picker.get_by_role("button", name="Python 3 (ipykernel)")
    expect(choice).to_have_attribute("aria-pressed", "true")
    both_themes(users, alice, "21-kernel-picker")

    # A viewer: the list disabled, no run buttons, the kernel's name without choices.
    url = create_link(users, alice, "viewer")
    guest = users.new("guest")
    join(guest, url, "Vera Viewer", path, 3)
    command_mode_on(guest, 0)
    expect(guest.page.get_by_label("Cell type (Y, M, R)")).to_be_disabled()
    expect(guest.page.locator(".hd-cell-run")).to_have_count(3)
    for i in range(3):
        expect(cell(guest, i).locator(".hd-cell-run")).to_be_hidden()
    expect(guest.page.locator(".hd-kernel-picker summary")).to_have_text("Python 3")

    # Changing the kernel asks first, then everyone is on the new one.
    picker.locator("summary").click()
    choice.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Change the kernel to Python 3 (ipykernel) for everyone?")
    users.screenshot(alice, "22-kernel-change-asked")
    dialog.get_by_role("button", name="Change kernel").click()
    changed = page.locator(".hd-toast", has_text="Kernel changed to Python 3 (ipykernel)")
    expect(changed).to_be_visible()
    expect(picker.locator("summary")).to_have_text("Python 3 (ipykernel)")
    expect(guest.page.locator(".hd-kernel-picker summary")).to_have_text("Python 3 (ipykernel)")
    command_mode_on(alice, 0)
    page.keyboard.press("Control+Enter")
    expect(outputs(alice, 0)).not_to_have_text(f"pid {first_pid}", timeout=KERNEL_TIMEOUT_MS)
    assert pid(alice, 0) != first_pid, "the notebook runs on a new kernel"

    # The header stays one line of one height, wide and narrow.
    wide = header_height(alice)
    page.set_viewport_size({"width": 900, "height": 900})
    expect(page.locator(".hd-people-bar")).to_be_visible()
    assert header_height(alice) == wide
    both_themes(users, alice, "23-narrow")
    no_errors(alice, guest)


def test_contents_collapsed_sections_and_comments_label(huddle: ServerProcess,
                                                       users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "outline.ipynb", [
        md("# Intro\nSome text"), code("a = 1"), md("## Details"), code("b = 2"),
        code("c = 3"), md("# Results"), code("d = 4")])
    alice, bob = users.new("alice"), users.new("bob")
    for user in (alice, bob):
        open_notebook(huddle, user, path, 7)
    page = alice.page

    # The Comments button says what it is and how many threads are open.
    toggle = page.locator(".hd-comments-toggle")
    expect(toggle).to_have_text("Comments")
    command_mode_on(alice, 1)
    cell_comment_button(alice, 1).click()
    compose(alice, "Why 1?")
    expect(toggle).to_have_text("Comments (1)")
    expect(bob.page.locator(".hd-comments-toggle")).to_have_text("Comments (1)")
    toggle.click()  # closed again

    # The table of contents: the headings, indented by level; a click goes to the cell.
    page.get_by_role("button", name="☰ Contents").click()
    toc = page.get_by_role("complementary", name="Table of contents")
    expect(toc).to_be_visible()
    entries = toc.locator(".hd-toc-entry")
    expect(entries).to_have_text(["Intro", "Details", "Results"])
    expect(entries.nth(1)).to_have_attribute("data-level", "2")
    entries.nth(2).click()
    expect(cell(alice, 5)).to_have_class(re.compile(r"\bhd-active\b"))
    expect(cell(alice, 5)).to_be_in_viewport()
    expect(entries.nth(2)).to_have_attribute("aria-current", "location")

    # Collapse "Intro": the cells up to "Results" are hidden, for alice only.
    fold = cell(alice, 0).get_by_role("button", name='Collapse the section "Intro"')
    fold.click()
    for i in range(1, 5):
        expect(cell(alice, i)).to_be_hidden()
    expect(cell(alice, 5)).to_be_visible()
    expect(cell(alice, 0).get_by_role("button", name="4 cells hidden")).to_be_visible()
    expect(cell(bob, 1)).to_be_visible()
    both_themes(users, alice, "30-contents-and-folds")
    # ↓ from the collapsed heading passes over what it hides.
    command_mode_on(alice, 0)
    page.keyboard.press("ArrowDown")
    expect(cell(alice, 5)).to_have_class(re.compile(r"\bhd-active\b"))
    # Kept over a reload (this browser), and never written into the shared notebook.
    page.reload()
    expect(cells(alice)).to_have_count(7)
    expect(cell(alice, 2)).to_be_hidden()
    href = page.locator(".hd-export a[data-format=ipynb]").get_attribute("href") or ""
    export = alice.context.request.get(urljoin(huddle.http_url, href))
    assert export.ok, export.status
    notebook = json.loads(export.text())
    assert all("heading_collapsed" not in c["metadata"] and "jupyter" not in c["metadata"]
               for c in notebook["cells"]), notebook["cells"]
    # Going to a hidden heading from the contents shows its section again.
    page.get_by_role("button", name="☰ Contents").click()
    toc.locator(".hd-toc-entry", has_text="Details").click()
    expect(cell(alice, 2)).to_be_visible()
    expect(cell(alice, 2)).to_have_class(re.compile(r"\bhd-active\b"))
    expect(fold).to_be_visible()

    # On a touch screen (no hover) every cell's controls are always shown.
    tess = touch_user(users, "tess")
    open_notebook(huddle, tess, path, 7)
    assert tess.page.evaluate("matchMedia('(hover: none)').matches")
    expect(cell(tess, 6)).not_to_have_class(re.compile(r"\bhd-active\b"))
    for name in ("Run this cell (Ctrl+Enter)", "Comment on this cell", "Who wrote this?"):
        control = cell(tess, 6).get_by_role("button", name=name, exact=True)
        expect(control).to_have_css("opacity", "1")
    users.screenshot(tess, "31-touch")
    no_errors(alice, bob)
