"""Version history in Huddle's web app (``/huddle/``), two people in Debian's Chromium.

Each person is a browser context of its own (their own login cookie, so their own Jupyter
identity), renamed "Ann Author" and "Bob Reviewer", on a ``jupyter huddle`` subprocess that
records versions every half second of editing. Scenario: Ann and Bob edit; Ann opens
History, previews the first version (read-only, rendered), compares it with the live
notebook, restores one cell while Bob types in another (both converge, no cell
duplicated), and undoes it from her toast (Bob gets none); the list follows the room; the
blame gutter names Ann and Bob on the lines each wrote; Bob leaves (his look is recorded
on pagehide), Ann changes two cells, and when Bob comes back those cells carry "changed
since you looked · by Ann Author" until he has looked at them. A viewer's link browses,
previews and compares, without naming or restoring.

Screenshots, the server log, each page's console, websocket and HTTP traffic go to
``tests/artifacts/e2e/webapp-history/``.
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
    _bundle_built,
    cell,
    cells,
    code,
    command_mode_on,
    editor,
    expect_source,
    filler,
    open_notebook,
    write_notebook,
)
from .test_webapp_comments import api, join_as_guest, rename

pytestmark = pytest.mark.timeout(150)

ARTIFACTS_SUBDIR = "webapp-history"
ANN, BOB = "Ann Author", "Bob Reviewer"
FILLERS = 10  # cells 3..12: the page is longer than the window
CELL_COUNT = 3 + FILLERS

# Whether the blame gutter of a cell shows ``want``: each line's [name, in a known colour].
BLAME_IS_JS = """([cell, want]) => JSON.stringify(Array.from(
  cell.querySelectorAll('.hd-blame-gutter .hd-blame'),
  (el) => [el.querySelector('.hd-blame-name').textContent,
           el.classList.contains('hd-blame-known')])) === JSON.stringify(want)"""

# The signed-in person's mark of their last look (server state: polled from the page).
LOOKED_SINCE_JS = """async ([url, after]) => {
  const response = await fetch(url, {cache: 'no-store'});
  const changes = await response.json();
  return !!changes.since && changes.since.seen_at >= after;
}"""


@pytest.fixture(scope="module")
def huddle(tmp_path_factory: pytest.TempPathFactory, artifacts: Path,
           request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """``jupyter huddle`` recording versions every 0.5 s of editing; people may rename
    themselves (so that the names are known)."""
    with huddle_app_server(tmp_path_factory.mktemp("webapp-history"),
                           module_artifacts(request.module, artifacts),
                           "--HuddleApp.version_interval_s=0.5",
                           "--IdentityProvider.updatable_fields=display_name",
                           "--IdentityProvider.updatable_fields=name") as server:
        yield server


# --- helpers ------------------------------------------------------------------------------------

def history_notebook(server: ServerProcess, name: str) -> str:
    return write_notebook(server, name, [
        nbformat.v4.new_markdown_cell("# Report\n\nThe *total* is computed below."),
        code("total = 1\nprint(total)"),
        code("rate = 2"),
        *[filler(i) for i in range(FILLERS)],
    ])


def panel(user: UserPage) -> Any:
    return user.page.locator(".hd-history-panel")


def overlay(user: UserPage) -> Any:
    return user.page.locator(".hd-history-overlay")


def open_history(user: UserPage) -> None:
    from playwright.sync_api import expect

    toggle = user.page.get_by_role("button", name="History", exact=True)
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.focus()  # keyboard reachable: Enter on the focused button opens it
    user.page.keyboard.press("Enter")
    expect(panel(user)).to_be_visible()
    expect(toggle).to_have_attribute("aria-pressed", "true")


def type_at(user: UserPage, index: int, where: str, text: str) -> None:
    """Type ``text`` at the start (``Control+Home``) or end (``Control+End``) of a cell."""
    editor(user, index).click()
    user.page.keyboard.press(where)
    user.page.keyboard.type(text)


def document_id(user: UserPage, path: str) -> str:
    session = api(user, "PUT", f"/api/collaboration/session/{path}",
                  {"format": "json", "type": "notebook"})
    return f"json:notebook:{session['fileId']}"


def cell_ids(user: UserPage) -> list[str]:
    return list(cells(user).evaluate_all("(els) => els.map((el) => el.dataset.cellId)"))


def no_errors(*people: UserPage, expected: str | None = None) -> None:
    """No console errors (but the ``expected`` one), and no history request refused."""
    errors = [e for user in people for e in user.errors
              if expected is None or expected not in e]
    assert not errors, errors
    refused = [(method, url, status) for user in people for _t, method, url, _b, status in user.http
               if "/api/huddle/history/" in url and (status is None or status >= 400)]
    assert not refused, refused


# --- scenarios ----------------------------------------------------------------------------------

def test_history_preview_diff_restore_undo_blame_and_changes_since_you_looked(
        huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = history_notebook(huddle, "history.ipynb")
    ann, bob = users.new("ann"), users.new("bob")
    rename(huddle, ann, ANN)
    rename(huddle, bob, BOB)
    open_notebook(huddle, ann, path, CELL_COUNT)
    # Bob has never looked: nothing is marked, and his first look is recorded at once.
    with bob.page.expect_response(lambda r: r.url.endswith("/seen")
                                  and r.request.method == "POST") as first_look:
        open_notebook(huddle, bob, path, CELL_COUNT)
    assert first_look.value.ok, first_look.value.status
    expect(bob.page.locator(".hd-changed-badge")).to_have_count(0)
    expect(bob.page.locator(".hd-banner-changes")).to_be_hidden()
    total_id, rates_id = cell_ids(ann)[1:3]

    # Both edit: Ann changes the total and heads the rates cell, Bob adds a line to it.
    editor(ann, 1).click()
    for key in ("Control+Home", "End"):
        ann.page.keyboard.press(key)
    ann.page.keyboard.type("00")  # total = 100
    # A new first line (typed on a line of its own, so "rate = 2" stays as the file had it).
    type_at(ann, 2, "Control+Home", "\n")
    ann.page.keyboard.press("ArrowUp")
    ann.page.keyboard.type("# rates")
    expect_source(bob, 2, "# rates\nrate = 2")
    type_at(bob, 2, "Control+End", "\nbonus = rate * 2")
    for user in (ann, bob):
        expect_source(user, 1, "total = 100\nprint(total)")
        expect_source(user, 2, "# rates\nrate = 2\nbonus = rate * 2")
    users.screenshot(ann, "01-edited")

    # History: versions newest first, with local times, who contributed and what changed.
    open_history(ann)
    versions = panel(ann).locator(".hd-version")
    opened = panel(ann).locator(".hd-version[data-kind=opened]")
    expect(opened).to_have_count(1)
    expect(opened.locator(".hd-version-title")).to_have_text("Opened")
    expect(opened.locator(".hd-version-summary")).to_have_text(f"{CELL_COUNT} cells added")
    expect(opened.locator(".hd-version-time")).to_have_text(re.compile(r"^\d{1,2}:\d{2}:\d{2}"))
    # Versions recorded while both edited, with both names (the list follows the room).
    edits = panel(ann).locator(".hd-version[data-kind=auto]")
    expect(edits.first).to_be_visible(timeout=15_000)
    authors = panel(ann).locator(".hd-version-authors")
    expect(authors.filter(has_text=BOB).first).to_be_visible(timeout=15_000)
    expect(authors.filter(has_text=ANN).first).to_be_visible()
    summaries = panel(ann).locator(".hd-version-summary")
    expect(summaries.filter(has_text=re.compile(r"cells? changed")).first).to_be_visible()
    assert versions.last.get_attribute("data-kind") == "opened", "newest first"
    ids = versions.evaluate_all("(els) => els.map((el) => el.dataset.versionId)")
    assert ids == sorted(ids, reverse=True), ids
    users.screenshot(ann, "02-history-panel")

    # Preview the first version: read-only, rendered like the live notebook, no editors.
    opened.locator(".hd-version-head").click()
    shown = overlay(ann)
    expect(shown).to_be_visible()
    expect(shown).to_have_attribute("data-view", "preview")
    expect(shown.locator(".hd-history-bar-title")).to_contain_text("Opened")
    expect(shown.locator(".hd-vcell")).to_have_count(CELL_COUNT)
    version_cells = shown.locator(".hd-vcell")
    expect(version_cells.nth(0).locator("h1")).to_have_text("Report")
    expect(version_cells.nth(0).locator("em")).to_have_text("total")
    expect(version_cells.nth(1).locator(".hd-preview")).to_have_text("total = 1\nprint(total)")
    expect(version_cells.nth(2).locator(".hd-preview")).to_have_text("rate = 2")
    assert shown.locator(".cm-editor, .cm-content").count() == 0, "a version has no editors"
    live = ann.page.locator(".hd-notebook")
    assert live.evaluate("(el) => el.inert"), "the live notebook waits behind"
    users.screenshot(ann, "03-preview")

    # Compare it with the live notebook: the two changed cells with their lines, the rest folded.
    shown.get_by_role("button", name="Compare with live").click()
    expect(shown).to_have_attribute("data-view", "diff")
    total_row = shown.locator(f".hd-diff-cell[data-cell-id='{total_id}']")
    rates_row = shown.locator(f".hd-diff-cell[data-cell-id='{rates_id}']")
    expect(total_row.locator(".hd-diff-badge")).to_have_text("changed")
    expect(total_row.locator(".hd-diff-del .hd-diff-text")).to_have_text("total = 1")
    expect(total_row.locator(".hd-diff-add .hd-diff-text")).to_have_text("total = 100")
    expect(total_row.locator(".hd-diff-add mark.hd-diff-span")).to_have_text("00")
    expect(total_row.locator(".hd-diff-same .hd-diff-text")).to_have_text("print(total)")
    expect(rates_row.locator(".hd-diff-add .hd-diff-text")).to_have_text(
        ["# rates", "bonus = rate * 2"])
    expect(shown.locator(".hd-diff-folded")).to_have_text(
        ["1 unchanged cell", f"{FILLERS} unchanged cells"])
    expect(shown.locator(".hd-diff-summary")).to_contain_text("2 cells changed")
    users.screenshot(ann, "04-diff-with-live")

    # Ann restores the total cell while Bob types in the rates cell: both converge.
    editor(bob, 2).click()
    bob.page.keyboard.press("Control+End")
    total_row.get_by_role("button", name="Restore this cell").click(no_wait_after=True)
    bob.page.keyboard.type("\nlimit = 10", delay=15)
    final_rates = "# rates\nrate = 2\nbonus = rate * 2\nlimit = 10"
    for user in (ann, bob):
        expect_source(user, 1, "total = 1\nprint(total)")
        expect_source(user, 2, final_rates)
        assert len(set(cell_ids(user))) == len(cell_ids(user)) == CELL_COUNT, cell_ids(user)
    assert cell_ids(ann) == cell_ids(bob)
    # Only Ann, who restored, is offered the undo.
    undo_toast = ann.page.locator(".hd-toast-action")
    expect(undo_toast.locator("span")).to_have_text(
        re.compile(r"^Restored cell 2 from \d{1,2}:\d{2}:\d{2}"))
    expect(undo_toast.get_by_role("button", name="Undo")).to_be_visible()
    expect(bob.page.locator(".hd-toast-action")).to_have_count(0)
    # The restored cell is the version's again: it left the diff.
    expect(total_row).to_have_count(0)
    # The list follows the room: the restore is listed (RAW "history" message).
    expect(panel(ann).locator(".hd-version[data-kind=restore] .hd-version-detail")).to_have_text(
        re.compile(rf"^Restored cell 2 from .* by {ANN}$"))
    users.screenshot(ann, "05-restored-cell")
    users.screenshot(bob, "05-restored-cell")

    undo_toast.get_by_role("button", name="Undo").click()
    for user in (ann, bob):
        expect_source(user, 1, "total = 100\nprint(total)")
        expect_source(user, 2, final_rates)
        assert len(set(cell_ids(user))) == CELL_COUNT
    expect(panel(ann).locator(".hd-version[data-kind=undo]")).to_have_count(1)
    expect(ann.page.locator(".hd-toast", has_text="Restore undone")).to_be_visible()
    expect(total_row.locator(".hd-diff-badge")).to_have_text("changed")  # in the diff again
    users.screenshot(ann, "06-undone")

    # Back to live; who wrote each line of the rates cell.
    shown.get_by_role("button", name="Back to live").click()
    expect(shown).to_be_hidden()
    assert not live.evaluate("(el) => el.inert")
    command_mode_on(ann, 2)
    blame_toggle = cell(ann, 2).get_by_role("button", name="Who wrote this?")
    blame_toggle.click()
    expect(blame_toggle).to_have_attribute("aria-pressed", "true")
    # Both are here: their names in their colours; the line from the file is "unknown".
    lines = [[ANN, True], ["unknown", False], [BOB, True], [BOB, True]]
    ann.page.wait_for_function(BLAME_IS_JS, arg=[cell(ann, 2).element_handle(), lines],
                               timeout=15_000)
    expect(cell(ann, 2).locator(".hd-blame-when").first).to_have_text(
        re.compile(r"just now|min ago"))
    users.screenshot(ann, "07-blame")
    blame_toggle.click()
    expect(cell(ann, 2).locator(".hd-blame")).to_have_count(0)

    # Bob leaves: his look is recorded as the page goes (pagehide).
    room = document_id(ann, path)
    left_at = time.time() - 1
    bob.page.goto(f"{huddle.http_url}huddle/")
    expect(bob.page.locator(".hd-file-table")).to_contain_text("history.ipynb")
    changes_url = f"/api/huddle/history/{room}/changes"
    bob.page.wait_for_function(LOOKED_SINCE_JS, arg=[changes_url, left_at], polling=200,
                               timeout=15_000)

    # Ann changes a cell far down and adds one at the end, while Bob is away.
    changed_at, added_at = 10, CELL_COUNT
    type_at(ann, changed_at, "Control+End", "\nchecked = True")
    command_mode_on(ann, CELL_COUNT - 1)
    ann.page.get_by_role("button", name="Insert a code cell below (B)").click()
    expect(cells(ann)).to_have_count(CELL_COUNT + 1)
    type_at(ann, added_at, "Control+End", "summary = total * rate")
    expect_source(ann, added_at, "summary = total * rate")

    # Bob comes back: the two cells are marked with Ann's name, out of view for now.
    open_notebook(huddle, bob, path, CELL_COUNT + 1)
    banner = bob.page.locator(".hd-banner-changes")
    expect(banner).to_contain_text(f"2 cells changed since you last looked (by {ANN})")
    expect(banner).to_be_in_viewport(ratio=1)
    changed_badge = cell(bob, changed_at).locator(".hd-changed-badge")
    added_badge = cell(bob, added_at).locator(".hd-changed-badge")
    expect(changed_badge).to_have_text(f"changed since you looked · by {ANN}")
    expect(added_badge).to_have_text(f"added since you looked · by {ANN}")
    expect(bob.page.locator(".hd-changed-badge")).to_have_count(2)
    users.screenshot(bob, "08-changed-since-you-looked")
    # Seen after a moment in view; once both are, the look is recorded.
    with bob.page.expect_response(lambda r: r.url.endswith("/seen")
                                  and r.request.method == "POST") as looked:
        banner.get_by_role("button", name="Go to the first").click()
        expect(cell(bob, changed_at)).to_be_in_viewport()
        users.screenshot(bob, "09-marks-in-view")
        expect(changed_badge).to_have_count(0, timeout=10_000)
        cell(bob, added_at).scroll_into_view_if_needed()
        expect(added_badge).to_have_count(0, timeout=10_000)
    assert looked.value.ok
    expect(banner).to_be_hidden()
    users.screenshot(bob, "10-all-seen")
    no_errors(ann, bob)


def test_versions_named_by_the_owner_a_viewer_browses_without_naming_or_restoring(
        huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "viewed.ipynb", [code("x = 1"), code("y = 2")])
    owner = users.new("owner")
    rename(huddle, owner, ANN)
    open_notebook(huddle, owner, path, 2)
    type_at(owner, 0, "Control+End", "0")
    expect_source(owner, 0, "x = 10")
    # The owner names the live notebook, renames that version, and unnames another.
    open_history(owner)
    owner_panel = panel(owner)
    for name in ("draft", "scratch"):
        owner_panel.get_by_role("button", name="Name this version").click()
        owner_panel.get_by_label("Version name").fill(name)
        owner_panel.get_by_role("button", name="Name", exact=True).click()
        titles = owner_panel.locator(".hd-version-named .hd-version-title")
        expect(titles.filter(has_text=name)).to_have_count(1)
    draft = owner_panel.locator(".hd-version-named", has_text="draft")
    draft.locator(".hd-version-head").click()
    draft.get_by_role("button", name="Rename").click()
    owner_panel.get_by_label("New name of the version").fill("submitted")
    owner_panel.get_by_role("button", name="Save").click()
    submitted = owner_panel.locator(".hd-version-named", has_text="submitted")
    expect(submitted.locator(".hd-version-title")).to_have_text("submitted")
    expect(submitted.locator(".hd-version-detail")).to_have_text(f"Named by {ANN}")
    scratch = owner_panel.locator(".hd-version[data-kind=named]").first
    expect(scratch.locator(".hd-version-title")).to_have_text("scratch")
    scratch.locator(".hd-version-head").click()
    scratch.get_by_role("button", name="Remove name").click()
    expect(owner_panel.locator(".hd-version[data-kind=named]").first.locator(".hd-version-title")).to_have_text(
        "Named version")
    expect(owner_panel.locator(".hd-version-named")).to_have_count(1)
    users.screenshot(owner, "19-named-versions")

    room = document_id(owner, path)
    link = api(owner, "POST", f"/api/huddle/links/{room}", {"role": "viewer"})["url"]
    viewer = users.new("viewer")
    viewer.page.emulate_media(color_scheme="dark")
    join_as_guest(viewer, link, "Vic Viewer", 2)

    open_history(viewer)
    expect(panel(viewer).locator(".hd-version[data-kind=auto]").first).to_be_visible(timeout=15_000)
    expect(panel(viewer).get_by_role("button", name="Name this version")).to_have_count(0)
    expect(panel(viewer).locator(".hd-version-named .hd-version-title")).to_have_text("submitted")
    opened = panel(viewer).locator(".hd-version[data-kind=opened]")
    opened.locator(".hd-version-head").click()
    expect(overlay(viewer).locator(".hd-vcell").first.locator(".hd-preview")).to_have_text("x = 1")
    for name in ("Restore this version", "Name", "Rename", "Remove name"):
        expect(viewer.page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    overlay(viewer).get_by_role("button", name="Compare with live").click()
    row = overlay(viewer).locator(".hd-diff-cell").first
    expect(row.locator(".hd-diff-add .hd-diff-text")).to_have_text("x = 10")
    expect(overlay(viewer).get_by_role("button", name="Restore this cell")).to_have_count(0)
    users.screenshot(viewer, "20-viewer-compares-dark")
    # Escape goes back to live.
    viewer.page.keyboard.press("Escape")
    expect(overlay(viewer)).to_be_hidden()
    # (A guest's browser asks for /favicon.ico, which a share link does not reach: 403.)
    no_errors(owner, viewer, expected="status of 403")
