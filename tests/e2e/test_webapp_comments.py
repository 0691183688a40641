"""Review threads in Huddle's web app (``/huddle/``), two users in Debian's Chromium.

Each user is a browser context of its own (its own login cookie, so its own Jupyter
identity) on a ``jupyter huddle`` subprocess that lets users rename themselves (so that one
can carry a hostile name). Scenarios: A comments a selection, B sees the highlight and the
thread live, replies and resolves, A sees both; a suggestion (started with Ctrl+Alt+M) is
accepted in the browser and changes the cell for both, and a refused reply shows the
server's reason; a comment on a cell's output marks the output for B, and the thread says
when a re-run cleared it; a hostile comment body and display name render as text; an
@mention shows B an unread badge that clears when B opens the thread; share-link guests get
the controls of their role (a commenter may not accept, a viewer only reads).

Screenshots, the server log, each page's console, websocket and HTTP traffic go to
``tests/artifacts/e2e/webapp-comments/``.
"""

from __future__ import annotations

import re
import secrets
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
from .test_webapp import (
    KERNEL_TIMEOUT_MS,
    _bundle_built,  # noqa: F401 (autouse: skips the module when the app is not built)
    cell,
    code,
    command_mode_on,
    display_name,
    editor,
    expect_source,
    open_notebook,
    outputs,
    write_notebook,
)

pytestmark = pytest.mark.timeout(60)

ARTIFACTS_SUBDIR = "webapp-comments"

HOSTILE_NAME = "<img src=x onerror=\"document.body.setAttribute('data-pwned','name')\">"
HOSTILE_BODY = (
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','body')\"> "
    "<script>document.body.setAttribute('data-pwned','script')</script> and **bold**"
)

# The text under a cell's highlights, without remote cursors' name flags.
MARKED_TEXT_JS = """([index, want]) => {
  const cell = document.querySelectorAll('.hd-cells > .hd-cell')[index];
  if (!cell) return false;
  const text = Array.from(cell.querySelectorAll('.hd-comment-mark'), (mark) => {
    const copy = mark.cloneNode(true);
    copy.querySelectorAll('.cm-ySelectionCaret, .cm-ySelectionInfo, .cm-widgetBuffer')
      .forEach((el) => el.remove());
    return copy.textContent;
  }).join('');
  return text === want;
}"""


@pytest.fixture(scope="module")
def huddle(tmp_path_factory: pytest.TempPathFactory, artifacts: Path,
           request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """``jupyter huddle`` with an in-memory store; users may change their display name."""
    with huddle_app_server(tmp_path_factory.mktemp("webapp-comments"),
                           module_artifacts(request.module, artifacts),
                           "--IdentityProvider.updatable_fields=display_name",
                           "--IdentityProvider.updatable_fields=name",
                           "--IdentityProvider.updatable_fields=color") as server:
        yield server


# --- helpers -----------------------------------------------------------------------------------

def select_in_first_line(user: UserPage, index: int, start: int, length: int) -> None:
    """Select ``length`` characters from column ``start`` of a cell's first line, with the
    keyboard, as someone would."""
    editor(user, index).click()
    keyboard = user.page.keyboard
    keyboard.press("Control+Home")
    for _ in range(start):
        keyboard.press("ArrowRight")
    for _ in range(length):
        keyboard.press("Shift+ArrowRight")


def expect_marked(user: UserPage, index: int, text: str) -> None:
    """Wait until the highlighted text in cell ``index`` is exactly ``text``."""
    user.page.wait_for_function(MARKED_TEXT_JS, arg=[index, text], timeout=15_000)


def panel(user: UserPage) -> Any:
    return user.page.locator(".hd-comments-panel")


def open_panel(user: UserPage) -> None:
    from playwright.sync_api import expect

    if panel(user).is_hidden():
        user.page.locator(".hd-comments-toggle").click()
    expect(panel(user)).to_be_visible()


def compose(user: UserPage, body: str) -> None:
    form = user.page.locator(".hd-compose")
    form.locator(".hd-comment-field").first.fill(body)
    form.locator("button[type=submit]").click()


def cell_comment_button(user: UserPage, index: int = 0) -> Any:
    return cell(user, index).get_by_role("button", name="Comment on this cell", exact=True)


def rename(server: ServerProcess, user: UserPage, name: str) -> None:
    """Log in, then change the display name (PATCH /api/me) before opening a notebook."""
    user.page.goto(f"{server.http_url}huddle/?token={server.token}")
    status = user.page.evaluate("""async (name) => {
      const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || '';
      const response = await fetch('/api/me', {method: 'PATCH', headers: {
        'Content-Type': 'application/json', 'X-XSRFToken': decodeURIComponent(xsrf)},
        body: JSON.stringify({display_name: name, name})});
      return response.status;
    }""", name)
    assert status == 200, status


def handle_of(server: ServerProcess, asker: UserPage, user: UserPage) -> str:
    """``user``'s @handle, as the server lists it to ``asker``."""
    me = user.context.request.get(f"{server.http_url}api/me").json()["identity"]["username"]
    listing = asker.context.request.get(f"{server.http_url}api/huddle/users")
    assert listing.ok, listing.status
    return str(next(u["handle"] for u in listing.json()["users"] if u["username"] == me))


def no_errors(*people: UserPage, expected: str | None = None) -> None:
    """No console errors but the ``expected`` one (a request the test makes fail)."""
    errors = [e for user in people for e in user.errors
              if expected is None or expected not in e]
    assert not errors, errors


# --- scenarios ---------------------------------------------------------------------------------

def test_comment_seen_live_replied_and_resolved(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "review.ipynb", [
        code("total = price * quantity\nprint(total)"), code("price = 3")])
    alice, bob = users.new("alice"), users.new("bob")
    bob.page.emulate_media(color_scheme="dark")
    for user in (alice, bob):
        open_notebook(huddle, user, path, 2)
    bob_name = display_name(huddle, bob)

    # A selects "price * quantity"; the Comment button by the selection opens the form.
    select_in_first_line(alice, 0, 8, 16)
    button = alice.page.locator(".hd-comment-selection")
    expect(button).to_have_attribute("title", "Comment on the selected text (Ctrl+Alt+M)")
    button.click()
    expect(panel(alice).locator(".hd-compose .hd-thread-quote")).to_have_text("price * quantity")
    compose(alice, "Should this include **tax**?")
    card = panel(alice).locator(".hd-thread")
    expect(card).to_have_count(1)
    expect(card.locator(".hd-message-body strong")).to_have_text("tax")
    expect_marked(alice, 0, "price * quantity")
    users.screenshot(alice, "01-commented")

    # B sees the highlight, the cell's badge and the thread live; the highlight follows
    # B's typing before the range and inside it.
    expect_marked(bob, 0, "price * quantity")
    editor(bob, 0).click()
    bob.page.keyboard.press("Control+Home")
    bob.page.keyboard.type("grand_")
    for _ in range(len("total = price")):
        bob.page.keyboard.press("ArrowRight")
    bob.page.keyboard.type(" * 2")
    for user in (alice, bob):
        expect_source(user, 0, "grand_total = price * 2 * quantity\nprint(total)")
        expect_marked(user, 0, "price * 2 * quantity")
    badge = cell(bob, 0).locator(".hd-comment-badge")
    expect(badge).to_have_text("1")
    expect(badge).to_have_attribute("aria-label", "1 open comment on this cell")
    users.screenshot(bob, "02-highlight-seen-dark")
    badge.click()
    current = panel(bob).locator(".hd-thread-current")
    expect(current.locator(".hd-message-body")).to_have_text("Should this include tax?")
    expect(current.locator(".hd-thread-where")).to_have_text("Cell 1")
    # The thread's range is selected in B's editor.
    assert bob.page.evaluate("() => getSelection().toString()") in ("", "price * quantity")
    reply = current.locator(".hd-thread-reply .hd-comment-field")
    expect(reply).to_be_focused()
    reply.fill("No, tax is added in cell 2.")
    current.get_by_role("button", name="Reply").click()
    expect(current.locator(".hd-message")).to_have_count(2)
    expect(card.locator(".hd-message")).to_have_count(2)  # A sees the reply
    expect(card.locator(".hd-message").nth(1)).to_contain_text(bob_name)
    users.screenshot(bob, "03-replied-dark")

    # Each edits their own message (B sees A's edit), and B deletes a second reply.
    first = card.locator(".hd-message").first
    first.get_by_role("button", name="Edit your message").click()
    first.locator(".hd-comment-field").fill("Should this include **tax** and shipping?")
    first.get_by_role("button", name="Save").click()
    expect(current.locator(".hd-message").first).to_contain_text("(edited)")
    expect(current.locator(".hd-message-body").first).to_have_text(
        "Should this include tax and shipping?")
    assert current.locator(".hd-message").first.get_by_role(
        "button", name="Edit your message").count() == 0, "only its author may edit"
    reply.fill("(a typo)")
    current.get_by_role("button", name="Reply").click()
    expect(card.locator(".hd-message")).to_have_count(3)
    extra = current.locator(".hd-message").nth(2)
    extra.get_by_role("button", name="Delete your message").click()
    extra.get_by_role("button", name="Yes, delete").click()
    expect(card.locator(".hd-message")).to_have_count(2)

    current.get_by_role("button", name="Resolve").click()
    # A: no highlight and no badge any more; the thread is under "Resolved".
    expect(cell(alice, 0).locator(".hd-comment-mark")).to_have_count(0)
    expect(cell(alice, 0).locator(".hd-comment-badge")).to_have_count(0)
    expect(panel(alice).locator(".hd-thread")).to_have_count(0)
    panel(alice).locator(".hd-filter[data-filter=resolved]").click()
    resolved = panel(alice).locator(".hd-thread")
    expect(resolved).to_have_count(1)
    expect(resolved).to_contain_text(f"Resolved by {bob_name}")
    expect(resolved.locator(".hd-message").nth(1)).to_contain_text("tax is added in cell 2")
    users.screenshot(alice, "04-resolved-seen")
    expect(cell(bob, 0).locator(".hd-comment-mark")).to_have_count(0)
    no_errors(alice, bob)


def test_suggestion_accepted_in_the_browser_changes_the_cell(huddle: ServerProcess,
                                                             users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "suggest.ipynb", [code("rate = 0.5\nprint(rate)")])
    alice, bob = users.new("alice"), users.new("bob")
    alice.page.emulate_media(color_scheme="dark")
    for user in (alice, bob):
        open_notebook(huddle, user, path, 1)

    # Ctrl+Alt+M comments the selection.
    select_in_first_line(alice, 0, 7, 3)
    alice.page.keyboard.press("Control+Alt+m")
    form = alice.page.locator(".hd-compose")
    expect(form.locator(".hd-thread-quote")).to_have_text("0.5")
    form.get_by_label("Suggest a change").check()
    form.get_by_label("Suggested replacement text").fill("0.25")
    form.locator(".hd-comment-field").first.fill("A quarter is the agreed rate.")
    expect(form.locator("button[type=submit]")).to_have_text("Suggest")
    users.screenshot(alice, "10-suggesting-dark")
    form.locator("button[type=submit]").click()
    expect(panel(alice).locator(".hd-suggestion ins")).to_have_text("0.25")

    expect_marked(bob, 0, "0.5")
    open_panel(bob)
    users.screenshot(bob, "11-suggestion-highlighted")
    thread = panel(bob).locator(".hd-thread")
    thread.locator(".hd-thread-head").click()
    expect(thread.locator(".hd-suggestion del")).to_have_text("0.5")
    expect(thread.locator(".hd-suggestion ins")).to_have_text("0.25")
    users.screenshot(bob, "12-suggestion-opened")
    thread.get_by_role("button", name="Accept suggestion").click()
    for user in (alice, bob):
        expect_source(user, 0, "rate = 0.25\nprint(rate)")
    # Accepted: resolved, and says by whom.
    panel(alice).locator(".hd-filter[data-filter=resolved]").click()
    accepted = panel(alice).locator(".hd-thread")
    expect(accepted.locator(".hd-suggestion-decided")).to_contain_text("Accepted by")

    # A refused request shows the server's reason on the card.
    accepted.locator(".hd-thread-head").click()
    accepted.locator(".hd-thread-reply .hd-comment-field").fill("x" * 20_001)
    accepted.get_by_role("button", name="Reply").click()
    expect(accepted.locator(".hd-thread-error")).to_contain_text("at most 20000 characters")
    users.screenshot(alice, "13-accepted-and-refused-reply-dark")
    no_errors(alice, bob, expected="status of 413")


@pytest.mark.timeout(120)  # a kernel starts
def test_comment_on_an_output_marks_it_and_goes_when_it_does(huddle: ServerProcess,
                                                             users: Users) -> None:
    from playwright.sync_api import expect

    # Prints on its first run only: the second run clears the output.
    path = write_notebook(huddle, "output-review.ipynb", [
        code("print('hello output') if 'ran' not in globals() else None\nran = True")])
    alice, bob = users.new("alice"), users.new("bob")
    for user in (alice, bob):
        open_notebook(huddle, user, path, 1)

    editor(alice, 0).click()
    alice.page.keyboard.press("Control+Enter")
    for user in (alice, bob):
        expect(outputs(user, 0).locator(".hd-output .hd-text")).to_have_text(
            "hello output", timeout=KERNEL_TIMEOUT_MS)

    # A hovers the output; its button opens the form, quoting the output's first line.
    output = outputs(alice, 0).locator(".hd-output").first
    output.hover()
    button = output.get_by_role("button", name="Comment on this output", exact=True)
    expect(button).to_be_visible()
    button.click()
    form = panel(alice).locator(".hd-compose")
    expect(form.locator(".hd-compose-target span")).to_have_text("Comment on output 1 of cell 1:")
    expect(form.locator(".hd-thread-quote")).to_have_text("hello output")
    compose(alice, "Should this say **goodbye**?")
    card = panel(alice).locator(".hd-thread")
    expect(card).to_have_count(1)
    expect(card.locator(".hd-thread-where")).to_have_text("Cell 1 · Output 1")
    users.screenshot(alice, "15-output-commented")

    # B: the cell's badge counts it, the output is marked, and its badge opens the thread.
    expect(cell(bob, 0).locator(".hd-comment-badge")).to_have_text("1")
    marked = outputs(bob, 0).locator(".hd-output.hd-output-commented")
    expect(marked).to_have_count(1)
    badge = marked.locator(".hd-output-badge")
    expect(badge).to_have_attribute("aria-label", "1 open comment on this output")
    users.screenshot(bob, "16-output-marked")
    badge.click()
    current = panel(bob).locator(".hd-thread-current")
    expect(current.locator(".hd-thread-where")).to_have_text("Cell 1 · Output 1")
    expect(current.locator(".hd-message-body strong")).to_have_text("goodbye")
    reply = current.locator(".hd-thread-reply .hd-comment-field")
    expect(reply).to_be_focused()
    reply.fill("Hello is fine.")
    current.get_by_role("button", name="Reply").click()
    expect(card.locator(".hd-message")).to_have_count(2)  # A sees the reply
    expect(card.locator(".hd-message").nth(1)).to_contain_text("Hello is fine.")

    # A re-run clears the output: the thread stays on the cell, its output gone.
    command_mode_on(alice, 0)
    alice.page.keyboard.press("Control+Enter")
    for user in (alice, bob):
        expect(cell(user, 0).locator(".hd-prompt")).to_have_text("[2]:", timeout=KERNEL_TIMEOUT_MS)
        expect(outputs(user, 0).locator(".hd-output")).to_have_count(0)
        expect(panel(user).locator(".hd-thread-where")).to_have_text("Cell 1 · output gone")
    expect(card).to_have_class(re.compile(r"\bhd-thread-gone\b"))
    users.screenshot(bob, "17-output-gone")
    no_errors(alice, bob)


def test_hostile_body_and_name_render_as_text(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "hostile.ipynb", [code("x = 1")])
    mallory, bob = users.new("mallory"), users.new("bob")
    rename(huddle, mallory, HOSTILE_NAME)
    for user in (mallory, bob):
        open_notebook(huddle, user, path, 1)

    # A whole-cell comment, from the cell's own button.
    cell(mallory, 0).locator(".hd-gutter").click()
    cell_comment_button(mallory).click()
    expect(panel(mallory).locator(".hd-compose-target")).to_have_text(
        "Comment on the whole of cell 1")
    compose(mallory, HOSTILE_BODY)
    expect(panel(mallory).locator(".hd-thread")).to_have_count(1)

    expect(cell(bob, 0).locator(".hd-comment-badge")).to_have_text("1")
    open_panel(bob)
    thread = panel(bob).locator(".hd-thread")
    thread.locator(".hd-thread-head").click()
    body = thread.locator(".hd-message-body")
    expect(body).to_contain_text("<img src=x onerror=")
    expect(body).to_contain_text("<script>")
    expect(body.locator("strong")).to_have_text("bold")  # Markdown still works
    expect(thread.locator(".hd-message-author")).to_have_text(HOSTILE_NAME)
    expect(thread.locator(".hd-thread-where")).to_have_text("Cell 1 · whole cell")
    # The name is offered, as text, when @mentioning.
    field = thread.locator(".hd-thread-reply .hd-comment-field")
    field.fill("")
    field.press_sequentially("@imgsrc")
    option = thread.locator(".hd-mention-option").first
    expect(option.locator(".hd-mention-name")).to_have_text(HOSTILE_NAME)
    users.screenshot(bob, "20-hostile-as-text")
    for user in (mallory, bob):
        assert user.page.locator(".hd-comments-panel img, .hd-comments-panel script").count() == 0
        assert user.page.evaluate("() => document.body.getAttribute('data-pwned')") is None
    no_errors(mallory, bob)


def test_mention_badge_appears_and_clears_when_opened(huddle: ServerProcess,
                                                      users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "mention.ipynb", [
        code("a = 1"), nbformat.v4.new_markdown_cell("**b** is two")])
    alice, bob = users.new("alice"), users.new("bob")
    # A name of B's own: anonymous users' random names can repeat, and a handle two people
    # share names nobody.
    rename(huddle, bob, f"Bob Reviewer {secrets.token_hex(3)}")
    for user in (alice, bob):
        open_notebook(huddle, user, path, 2)
    handle = handle_of(huddle, alice, bob)
    assert handle.startswith("bobreviewer"), handle
    unread = bob.page.locator(".hd-comments-toggle .hd-unread-badge")
    expect(unread).to_be_hidden()

    # A comments (rendered Markdown) cell 2, @mentioning B through the completion list.
    cell(alice, 1).locator(".hd-gutter").click()
    alice.page.keyboard.press("Control+Alt+m")  # command mode: the whole cell
    field = panel(alice).locator(".hd-compose .hd-comment-field").first
    field.press_sequentially(f"Could you check this, @{handle[:-1]}")
    option = panel(alice).locator(".hd-mention-option").first
    expect(option.locator(".hd-mention-handle")).to_have_text(f"@{handle}")
    users.screenshot(alice, "30-mention-completion")
    field.press("Enter")
    expect(field).to_have_value(f"Could you check this, @{handle} ")
    panel(alice).locator(".hd-compose button[type=submit]").click()
    expect(panel(alice).locator(".hd-thread")).to_have_count(1)

    # B: the cell's badge, and one unread mention, in the header and under "Mentions".
    expect(cell(bob, 1).locator(".hd-rendered strong")).to_have_text("b")
    expect(cell(bob, 1).locator(".hd-comment-badge")).to_have_text("1")
    expect(unread).to_have_text("1")
    expect(unread).to_have_attribute("aria-label", "1 unread mention")
    open_panel(bob)
    panel(bob).locator(".hd-filter[data-filter=mentions]").click()
    thread = panel(bob).locator(".hd-thread")
    expect(thread.locator(".hd-thread-unread")).to_be_visible()
    users.screenshot(bob, "31-unread-mention")
    thread.locator(".hd-thread-head").click()
    expect(unread).to_be_hidden()
    expect(thread.locator(".hd-thread-unread")).to_have_count(0)
    users.screenshot(bob, "32-mention-read")
    # Escape closes the panel and gives the focus back to its toggle.
    bob.page.keyboard.press("Escape")
    expect(panel(bob)).to_be_hidden()
    expect(bob.page.locator(".hd-comments-toggle")).to_be_focused()
    expect(bob.page.locator(".hd-comments-toggle")).to_have_attribute("aria-pressed", "false")
    no_errors(alice, bob)


# --- who may do what --------------------------------------------------------------------------

API_JS = """async ([method, url, body]) => {
  const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || '';
  const response = await fetch(url, {method, headers: {'Content-Type': 'application/json',
    'X-XSRFToken': decodeURIComponent(xsrf)}, body: body === null ? null : JSON.stringify(body)});
  return [response.status, await response.json().catch(() => null)];
}"""


def api(user: UserPage, method: str, url: str, body: Any = None) -> Any:
    """A JSON request from the user's page (its cookie and XSRF token); the reply."""
    status, reply = user.page.evaluate(API_JS, [method, url, body])
    assert 200 <= status < 300, (status, reply)
    return reply


def join_as_guest(guest: UserPage, url: str, name: str, count: int) -> None:
    from playwright.sync_api import expect

    guest.page.goto(url)
    guest.page.get_by_label("Your name").fill(name)
    guest.page.get_by_role("button", name="Open the notebook").click()
    expect(guest.page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    expect(guest.page.locator(".hd-cells > .hd-cell")).to_have_count(count)


def test_controls_follow_the_role(huddle: ServerProcess, users: Users) -> None:
    """A commenter may reply and resolve but not accept a suggestion; a viewer only reads.
    Guests may not list the server's users: @ offers the people in the room."""
    from playwright.sync_api import expect

    path = write_notebook(huddle, "roles.ipynb", [code("rate = 0.5")])
    owner = users.new("owner")
    open_notebook(huddle, owner, path, 1)
    file_id = api(owner, "PUT", f"/api/collaboration/session/{path}",
                  {"format": "json", "type": "notebook"})["fileId"]
    document = f"json:notebook:{file_id}"
    cell_id = cell(owner, 0).get_attribute("data-cell-id")
    api(owner, "POST", f"/api/huddle/comments/{document}", {
        "anchor": {"cell_id": cell_id, "kind": "text", "start": 7, "end": 10},
        "body": "Lower it?", "suggestion": "0.25"})
    links = {role: api(owner, "POST", f"/api/huddle/links/{document}", {"role": role})["url"]
             for role in ("commenter", "viewer")}
    commenter, viewer = users.new("commenter"), users.new("viewer")
    join_as_guest(commenter, links["commenter"], "Cora Commenter", 1)
    join_as_guest(viewer, links["viewer"], "Vic Viewer", 1)

    for guest in (commenter, viewer):
        expect_marked(guest, 0, "0.5")
        cell(guest, 0).locator(".hd-comment-badge").click()
        expect(panel(guest).locator(".hd-suggestion ins")).to_have_text("0.25")
    thread = panel(commenter).locator(".hd-thread-current")
    expect(thread.get_by_role("button", name="Resolve")).to_be_visible()
    expect(thread.get_by_role("button", name="Accept suggestion")).to_have_count(0)
    expect(cell_comment_button(commenter)).to_have_count(1)
    field = thread.locator(".hd-thread-reply .hd-comment-field")
    expect(field).to_be_focused()
    field.press_sequentially("@")
    expect(thread.locator(".hd-mention-name")).to_contain_text(
        [display_name(huddle, owner), "Vic Viewer"])
    users.screenshot(commenter, "40-commenter")

    viewing = panel(viewer).locator(".hd-thread-current")
    expect(viewing.locator(".hd-message-body")).to_have_text("Lower it?")
    for name in ("Resolve", "Reply", "Accept suggestion"):
        expect(viewing.get_by_role("button", name=name)).to_have_count(0)
    expect(cell_comment_button(viewer)).to_have_count(0)
    select_in_first_line(viewer, 0, 0, 4)
    viewer.page.keyboard.press("Control+Alt+m")
    expect(viewer.page.locator(".hd-comment-selection, .hd-compose")).to_have_count(0)
    users.screenshot(viewer, "41-viewer")
    no_errors(owner, commenter, viewer, expected="status of 403")
