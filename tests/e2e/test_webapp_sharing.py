"""Sharing in Huddle's web app, in Debian's Chromium: an owner and people with share links.

The owner (the server's token) creates links in the Share dialog; guests open them in
browser contexts of their own (no token, fresh cookies) and pick a name. Scenarios: a
view link (the guest's hostile name shows as text, the notebook is read-only, nothing but
it is reachable, the guest follows the presenter and can step out, and revoking the link
ends their access); a locked cell that an editor-link guest cannot change, also when their
edit crosses the lock on the wire (the server undoes it and says so); handing a viewer the
edit right for a while and taking it back; and personal copies, with the server's limit
on their kernels.

Screenshots, the server log, each page's console, websocket and HTTP traffic go to
``tests/artifacts/e2e/sharing/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.support.server_process import ServerProcess

from .conftest import (
    UserPage,
    Users,
    huddle_app_server,
    module_artifacts,
)
from .test_webapp import (  # noqa: F401  (_bundle_built: an autouse fixture)
    KERNEL_TIMEOUT_MS,
    _bundle_built,
    cell,
    cells,
    code,
    command_mode_on,
    display_name,
    editor,
    expect_source,
    filler,
    open_notebook,
    outputs,
    settled_scroll,
    source,
    wait_in_view,
    write_notebook,
)

pytestmark = pytest.mark.timeout(90)

ARTIFACTS_SUBDIR = "sharing"
EVIL_NAME = '<img src=x onerror="window.__pwned=1">Eve'


@pytest.fixture(scope="module")
def huddle(tmp_path_factory: pytest.TempPathFactory, artifacts: Path,
           request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """``jupyter huddle`` saving quickly, with one kernel for all personal copies, which
    guests may make here."""
    with huddle_app_server(tmp_path_factory.mktemp("sharing"),
                           module_artifacts(request.module, artifacts),
                           "--HuddleApp.max_copy_kernels=1",
                           "--HuddleApp.guest_copies=True") as server:
        yield server


# --- helpers ----------------------------------------------------------------------------------

def create_link(users: Users, owner: UserPage, role: str, label: str = "",
                max_uses: str = "", shot: str | None = None) -> str:
    """Create a link in the Share dialog; its URL, read from the dialog."""
    from playwright.sync_api import expect

    page = owner.page
    page.get_by_role("button", name="Share this notebook").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("People with the link").select_option(role)
    dialog.get_by_label("Link expires").select_option(label="In 1 day")
    dialog.get_by_label("How many people may join").fill(max_uses)
    dialog.get_by_label("Label").fill(label)
    dialog.get_by_role("button", name="Create link").click()
    field = dialog.get_by_label("The new share link")
    expect(field).to_have_value(re.compile(r"/huddle/s/[A-Za-z0-9_.\-]+$"))
    url = field.input_value()
    expect(dialog.locator("tbody tr").first).to_contain_text("Active")
    if shot:
        users.screenshot(owner, shot)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    return url


def join(guest: UserPage, url: str, name: str, path: str, count: int) -> None:
    """Open a share link with no account, pick a name, land on the notebook."""
    from playwright.sync_api import expect

    page = guest.page
    page.goto(url)
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Open the notebook").click()
    expect(page).to_have_url(re.compile(rf"/huddle/notebooks/{re.escape(path)}$"))
    expect(page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    expect(cells(guest)).to_have_count(count)


def role_badge(user: UserPage) -> Any:
    return user.page.locator(".hd-role")


def pwned(user: UserPage) -> bool:
    return bool(user.page.evaluate("typeof window.__pwned !== 'undefined'"))


def type_into(user: UserPage, index: int, text: str) -> None:
    editor(user, index).click()
    user.page.keyboard.press("End")
    user.page.keyboard.type(text)


def wait_for(condition: Any, what: str, user: UserPage, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        user.page.wait_for_timeout(50)


def room_sockets_closed(user: UserPage) -> int:
    return sum(1 for url in user.ws_closed if "/api/collaboration/room/" in url)


# --- scenarios ----------------------------------------------------------------------------------

def test_view_link_guest_reads_follows_the_presenter_and_loses_access(
        huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "lesson.ipynb", [filler(i) for i in range(40)])
    owner = users.new("owner")
    open_notebook(huddle, owner, path, 40)
    expect(role_badge(owner)).to_have_text("Owner")
    url = create_link(users, owner, "viewer", label="<b>Monday</b> class",
                      shot="01-share-dialog")
    assert "token" not in url

    guest = users.new("guest")
    join(guest, url, EVIL_NAME, path, 40)
    expect(role_badge(guest)).to_have_text("Viewing")

    # The hostile name is text in the owner's people list and cursor flag.
    person = owner.page.locator(".hd-person-name", has_text="Eve")
    expect(person).to_have_text(EVIL_NAME)
    editor(guest, 2).click()
    flag = cell(owner, 2).locator(".cm-ySelectionInfo")
    expect(flag).to_have_text(EVIL_NAME)
    images = owner.page.evaluate(  # CodeMirror's own empty widget buffers aside
        "[...document.querySelectorAll('.hd-people img, .hd-cells img:not(.cm-widgetBuffer)')]"
        ".map((i) => i.outerHTML)")
    assert images == [], images
    users.screenshot(owner, "02-guest-name-as-text")

    # Read-only: typing changes nothing, and there is nothing to run or change.
    before = source(guest, 2)
    guest.page.keyboard.type("zzz")
    guest.page.keyboard.press("Enter")
    expect_source(guest, 2, before)
    for label in ("Run all cells", "Run cell and advance (Shift+Enter)", "Restart the kernel",
                  "Insert a code cell below (B)", "Delete the cell (D, D)"):
        expect(guest.page.get_by_role("button", name=label)).to_have_count(0)
    expect(guest.page.get_by_role("button", name="Make my copy")).to_be_visible()
    expect(guest.page.get_by_role("button", name="Share this notebook")).to_have_count(0)
    expect(guest.page.locator("a.hd-logo")).to_have_count(0)  # no way to a file list
    users.screenshot(guest, "03-guest-read-only")
    assert source(owner, 2) == before
    assert not pwned(owner)
    assert not pwned(guest)

    # Nothing but the notebook: the app's root leads back to it; the contents API is shut.
    guest.page.goto(f"{huddle.http_url}huddle/")
    expect(guest.page).to_have_url(re.compile(rf"/huddle/notebooks/{path}$"))
    expect(guest.page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    assert guest.page.evaluate("fetch('/api/contents').then((r) => r.status)") == 403
    assert guest.page.evaluate("fetch('/api/sessions').then((r) => r.status)") == 403

    # The owner presents: the guest's view follows the owner's cell, far down.
    owner.page.get_by_role("button", name="Present").click()
    expect(owner.page.get_by_role("button", name="Present")).to_have_attribute(
        "aria-pressed", "true")
    bar = guest.page.locator(".hd-present-bar")
    owner_name = display_name(huddle, owner)
    expect(bar).to_contain_text(f"{owner_name} is presenting")
    command_mode_on(owner, 35)
    wait_in_view(guest, 35)
    expect(guest.page.locator(".hd-person-item", has=guest.page.locator(
        ".hd-presenting-tag"))).to_contain_text(owner_name)
    # The presenter's cursor flag is shown without hovering.
    editor(owner, 36).click()
    wait_in_view(guest, 36)
    caret = cell(guest, 36).locator(".cm-ySelectionInfo")
    expect(caret).to_have_text(owner_name)
    expect(caret).to_have_css("opacity", "1")
    expect(caret).to_have_css("font-weight", "600")
    users.screenshot(guest, "04-guest-follows-presenter")

    # Step out: the presenter moves, the guest's view stays; Follow presenter: back.
    bar.get_by_role("button", name="Step out").click()
    expect(bar).to_contain_text("you stepped out")
    scroll = settled_scroll(guest)
    command_mode_on(owner, 3)
    expect(cell(guest, 3).locator(".hd-peer-chip")).to_have_count(1)
    assert settled_scroll(guest) == scroll
    bar.get_by_role("button", name="Follow presenter").click()
    wait_in_view(guest, 3)
    expect(bar).to_contain_text("you follow their cell")

    # The owner revokes the link: the guest's access ends, with no reconnecting.
    owner.page.get_by_role("button", name="Share this notebook").click()
    dialog = owner.page.get_by_role("dialog")
    row = dialog.locator("tbody tr", has_text="Monday")
    expect(row).to_contain_text("<b>Monday</b> class")  # the label is text too
    expect(row).to_contain_text("1 person")
    row.get_by_role("button", name=re.compile("^Revoke")).click()
    expect(row).to_contain_text("Revoked")
    users.screenshot(owner, "05-link-revoked")
    dialog.get_by_role("button", name="Close").click()
    banner = guest.page.locator(".hd-banner-ended")
    expect(banner).to_contain_text("Your access to this notebook ended")
    expect(banner).to_be_in_viewport()  # wherever the guest had scrolled to
    expect(guest.page.locator(".hd-status")).to_have_text("Your access ended")
    users.screenshot(guest, "06-access-ended")
    closed = room_sockets_closed(guest)
    # The owner keeps full access: an edit is saved (by then a reconnect would have run).
    expect(owner.page.locator(".hd-person")).to_have_count(1)
    type_into(owner, 0, "  # still mine")
    expect(owner.page.locator(".hd-save")).to_have_text("Saved", timeout=10_000)
    wait_for(lambda: "# still mine" in (huddle.root / path).read_text(), "the save", owner)
    assert room_sockets_closed(guest) == closed, guest.ws_closed
    assert not pwned(owner)
    assert not pwned(guest)
    assert not owner.errors, owner.errors


def hold_incoming(user: UserPage) -> dict[str, Any]:
    """Route the user's room sockets through the test, which can hold what the server
    sends (``held["on"]``) and let it through later (``release``)."""
    held: dict[str, Any] = {"on": False, "queue": []}

    def route(ws: Any) -> None:
        server = ws.connect_to_server()
        ws.on_message(lambda message: server.send(message))

        def from_server(message: Any) -> None:
            if held["on"]:
                held["queue"].append((ws, message))
            else:
                ws.send(message)
        server.on_message(from_server)

    def release() -> None:
        held["on"] = False
        for ws, message in held["queue"]:
            ws.send(message)
        held["queue"].clear()

    user.page.route_web_socket(re.compile(r"/api/collaboration/room/json:notebook:"), route)
    held["release"] = release
    return held


def lock_flags(server: ServerProcess, path: str, index: int) -> tuple[Any, Any] | None:
    """A cell's lock flags in the saved file (None while the server is writing it)."""
    try:
        metadata = nbformat.read(str(server.root / path), as_version=4).cells[index].metadata
    except (ValueError, nbformat.reader.NotJSONError):
        return None
    return metadata.get("editable"), metadata.get("deletable")


def test_a_locked_cell_holds_against_an_editor_link_guest(huddle: ServerProcess,
                                                          users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "locks.ipynb", [code("protected = 1"), code("free = 2"),
                                                  code("other = 3")])
    owner = users.new("owner")
    owner.page.emulate_media(color_scheme="dark")
    open_notebook(huddle, owner, path, 3)
    command_mode_on(owner, 0)
    lock = cell(owner, 0).get_by_role("button", name="Lock this cell")
    lock.click()
    expect(lock).to_have_attribute("aria-pressed", "true")
    wait_for(lambda: lock_flags(huddle, path, 0) == (False, False), "the lock saved", owner)
    url = create_link(users, owner, "editor", label="Editors", shot="10-share-dialog-dark")

    guest = users.new("editor")
    held = hold_incoming(guest)
    join(guest, url, "Ed Itor", path, 3)
    expect(role_badge(guest)).to_have_text("Editing")
    expect(cell(guest, 0).locator(".hd-lock-icon")).to_be_visible()
    expect(cell(guest, 0).get_by_role("button", name="Lock this cell")).to_have_count(0)

    # The locked cell: typing changes nothing; D D does not delete it.
    type_into(guest, 0, "  # hacked")
    expect_source(guest, 0, "protected = 1")
    guest.page.keyboard.press("Escape")  # command mode
    command_mode_on(guest, 0)
    guest.page.keyboard.press("d")
    guest.page.keyboard.press("d")
    expect(guest.page.locator(".hd-toast", has_text="That cell is locked").first).to_be_visible()
    # An unlocked cell: the guest edits it, the owner sees it.
    type_into(guest, 1, " + 40")
    expect_source(owner, 1, "free = 2 + 40")
    expect(cells(owner)).to_have_count(3)
    expect_source(owner, 0, "protected = 1")
    users.screenshot(guest, "11-editor-guest-locked-cell")

    # An edit that crosses the lock on the wire: the owner locks cell 1 while the guest's
    # page has not heard of it yet; the server undoes the guest's edit and says why.
    held["on"] = True
    command_mode_on(owner, 1)
    cell(owner, 1).get_by_role("button", name="Lock this cell").click()
    wait_for(lambda: lock_flags(huddle, path, 1) == (False, False), "the second lock", owner)
    type_into(guest, 1, "  # late")
    wait_for(lambda: any(isinstance(m, bytes) and m[:1] == b"\x02" and b"locked" in m
                         for _ws, m in held["queue"]), "the server's refusal", guest)
    held["release"]()
    expect(guest.page.locator(".hd-toast", has_text="your change was undone")).to_be_visible()
    expect_source(guest, 1, "free = 2 + 40")
    expect(cell(guest, 1).locator(".hd-lock-icon")).to_be_visible()
    expect_source(owner, 1, "free = 2 + 40")
    users.screenshot(guest, "12-late-edit-undone")

    # The owner still edits the locked cell, then unlocks it for everyone.
    type_into(owner, 0, "  # by the owner")
    expect_source(guest, 0, "protected = 1  # by the owner")
    command_mode_on(owner, 0)
    cell(owner, 0).get_by_role("button", name="Lock this cell").click()
    expect(cell(guest, 0).locator(".hd-lock-icon")).to_have_count(0)
    type_into(guest, 0, "!")
    expect_source(owner, 0, "protected = 1  # by the owner!")
    users.screenshot(owner, "13-owner-dark")
    assert not owner.errors, owner.errors


def hand_over_button(user: UserPage, name: str) -> Any:
    """The owner's "Hand over to <name>" button, in the header's line or, when the line is
    full (its label grows to "Can edit · 5 min left"), behind "+N": that menu is opened."""
    bar = user.page.locator(".hd-people-bar")
    button = bar.get_by_role("button", name=f"Hand over to {name}", include_hidden=True)
    button.wait_for(state="attached")
    more = bar.locator(".hd-people-more")
    if more.is_visible() and not button.is_visible() and not more.evaluate("d => d.open"):
        more.locator("summary").click()
    return button


def test_hand_over_edit_rights_and_take_them_back(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "handover.ipynb", [code("a = 1"), code("b = 2")])
    owner = users.new("owner")
    open_notebook(huddle, owner, path, 2)
    # The Share dialog from the keyboard: Enter opens it, Escape closes it.
    share = owner.page.get_by_role("button", name="Share this notebook")
    share.focus()
    owner.page.keyboard.press("Enter")
    expect(owner.page.get_by_role("dialog")).to_be_visible()
    owner.page.keyboard.press("Escape")
    expect(owner.page.get_by_role("dialog")).to_be_hidden()
    url = create_link(users, owner, "viewer")
    guest = users.new("student")
    guest.page.emulate_media(color_scheme="dark")
    join(guest, url, "Stu Dent", path, 2)
    expect(role_badge(guest)).to_have_text("Viewing")

    hand_over_button(owner, "Stu Dent").click()
    dialog = owner.page.get_by_role("dialog", name="Hand over to Stu Dent")
    dialog.get_by_label("Edit and run cells").check()
    dialog.get_by_label("For how many minutes").fill("5")
    users.screenshot(owner, "20-hand-over-dialog")
    dialog.get_by_role("button", name="Hand over").click()
    expect(dialog).to_be_hidden()
    expect(hand_over_button(owner, "Stu Dent")).to_contain_text(
        "Can edit · 5 min left")
    # The guest's page reconnects with the new rights (close 4001) and asks for them.
    expect(role_badge(guest)).to_have_text("Editing")
    expect(guest.page.get_by_role("button", name="Run all cells")).to_be_visible()
    type_into(guest, 1, "  # handed over")
    expect_source(owner, 1, "b = 2  # handed over")
    users.screenshot(guest, "21-handed-over-dark")

    hand_over_button(owner, "Stu Dent").click()
    owner.page.get_by_role("dialog").get_by_role("button", name="Take back").click()
    expect(role_badge(guest)).to_have_text("Viewing")
    expect(guest.page.get_by_role("button", name="Run all cells")).to_have_count(0)
    type_into(guest, 1, "zzz")
    expect_source(guest, 1, "b = 2  # handed over")
    expect(hand_over_button(owner, "Stu Dent")).to_have_text(
        "Hand over")
    assert not owner.errors, owner.errors


def test_make_my_copy_edit_and_run_it_within_the_kernel_limit(huddle: ServerProcess,
                                                              users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "worksheet.ipynb", [code("print('from the copy')")])
    owner = users.new("owner")
    open_notebook(huddle, owner, path, 1)
    url = create_link(users, owner, "viewer")

    first = users.new("first")
    join(first, url, "Ann", path, 1)
    first.page.get_by_role("button", name="Make my copy").click()
    expect(first.page).to_have_url(re.compile(r"/huddle/notebooks/huddle-copies/Ann-[^/]+/"
                                              r"worksheet\.ipynb$"))
    expect(first.page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    expect(role_badge(first)).to_have_text("Editing")
    expect(first.page.get_by_role("button", name="Make my copy")).to_have_count(0)
    type_into(first, 0, "  # mine")
    expect(first.page.locator(".hd-save")).to_have_text("Saved", timeout=10_000)
    copies = list((huddle.root / "huddle-copies").glob("Ann-*/worksheet.ipynb"))
    assert len(copies) == 1, copies
    wait_for(lambda: "# mine" in copies[0].read_text(), "the copy saved", first)
    assert "# mine" not in (huddle.root / path).read_text()
    first.page.keyboard.press("Control+Enter")  # through Huddle's kernel route (a guest)
    expect(outputs(first, 0)).to_have_text("from the copy", timeout=KERNEL_TIMEOUT_MS)
    users.screenshot(first, "30-own-copy-ran")

    # The server allows one kernel for copies: the next copy is told so when it runs.
    second = users.new("second")
    join(second, url, "Bob", path, 1)
    second.page.get_by_role("button", name="Make my copy").click()
    expect(second.page).to_have_url(re.compile(r"/huddle-copies/Bob-[^/]+/worksheet\.ipynb$"))
    expect(second.page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    editor(second, 0).click()
    second.page.keyboard.press("Control+Enter")
    expect(second.page.locator(".hd-toast-error")).to_contain_text(
        "kernels for personal copies are in use", timeout=KERNEL_TIMEOUT_MS)
    expect(second.page.locator(".hd-kernel")).to_have_text("No kernel (it could not start)")
    users.screenshot(second, "31-copy-kernel-limit")
    kernel_posts = [status for _t, method, url_, _b, status in second.http
                    if method == "POST" and "/api/huddle/kernel/" in url_]
    assert kernel_posts == [503], kernel_posts
    assert not any("/api/sessions" in u for _t, _m, u, _b, _s in first.http + second.http)
