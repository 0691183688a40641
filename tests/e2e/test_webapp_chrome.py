"""The notebook page's chrome in Huddle's web app (issue 16), in Debian's Chromium.

Scenarios: the header stays one line of one height while four people join and the kernel
goes busy and idle (the first cell never moves; who does not fit is in a "+N" menu, your
own name is not cut); Ctrl+S saves through the RAW save request; Restart and Interrupt ask
first and every collaborator is told who did it; a share-link guest sees the people there
and the kernel's status at once; End / Ctrl+Home bring the last / first cell of a
300-cell notebook fully into view; two people of one name are told apart (name, initials,
cursor label) and @mentions offer only people with access to the notebook; run lines say
nothing when you are alone, and why a cell of a failed Run all did not run.

Screenshots (both themes where the point is visual), the server log, each page's console,
websocket and HTTP traffic go to ``tests/artifacts/e2e/chrome/``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server_process import ServerProcess

from .conftest import UserPage, Users, huddle_app_server, module_artifacts
from .test_webapp import (  # noqa: F401  (_bundle_built: an autouse fixture)
    KERNEL_TIMEOUT_MS,
    _bundle_built,
    cell,
    code,
    command_mode_on,
    display_name,
    editor,
    filler,
    open_notebook,
    outputs,
    run_line,
    settled_scroll,
    wait_in_view,
    write_notebook,
)
from .test_webapp_comments import rename
from .test_webapp_sharing import create_link, join

pytestmark = pytest.mark.timeout(120)

ARTIFACTS_SUBDIR = "chrome"


@pytest.fixture(scope="module")
def huddle(tmp_path_factory: pytest.TempPathFactory, artifacts: Path,
           request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    with huddle_app_server(tmp_path_factory.mktemp("chrome"),
                           module_artifacts(request.module, artifacts)) as server:
        yield server


def toast(user: UserPage, text: str) -> Any:
    return user.page.locator(".hd-toast", has_text=text)


def no_errors(*people: UserPage, guests: tuple[UserPage, ...] = ()) -> None:
    """No console errors; a guest's page may be refused /favicon.ico (outside a share
    link's routes: a 403 the browser logs, nothing the app asked for)."""
    errors = [e for user in people for e in user.errors]
    errors += [e for user in guests for e in user.errors if "status of 403" not in e]
    assert not errors, errors


# Samples, every frame, where the first cell and the header are: a jump of a frame counts.
WATCH_LAYOUT_JS = """() => {
  window.__layout = [];
  const sample = () => {
    const first = document.querySelector('.hd-cells > .hd-cell');
    const header = document.querySelector('.hd-header');
    const share = document.querySelector('.hd-role-actions');
    if (first && header) window.__layout.push([
      first.getBoundingClientRect().top, header.getBoundingClientRect().height,
      share ? share.getBoundingClientRect().height : 0]);
    window.__layoutFrame = requestAnimationFrame(sample);
  };
  sample();
}"""


def test_the_header_never_moves_the_notebook(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "header.ipynb", [
        code("import time; time.sleep(1.5); print('slept')"), code("x = 1"), code("y = 2")])
    alice = users.new("alice")
    open_notebook(huddle, alice, path, 3)
    alice_name = display_name(huddle, alice)
    alice.page.evaluate(WATCH_LAYOUT_JS)
    others = []
    for name in ("bob", "carol", "dave"):
        other = users.new(name)
        open_notebook(huddle, other, path, 3)
        others.append(other)
    # Everyone is in alice's header: in the line, or behind "+N".
    expect(alice.page.locator(".hd-header .hd-person")).to_have_count(4)
    # The kernel starts, goes busy, then idle (a long status on the way).
    command_mode_on(alice, 0)
    alice.page.keyboard.press("Control+Enter")
    expect(outputs(alice, 0)).to_have_text("slept", timeout=KERNEL_TIMEOUT_MS)
    expect(alice.page.locator(".hd-kernel")).to_have_text("Kernel: idle")
    users.screenshot(alice, "10-header-four-people")
    # A narrow window: the people who do not fit go into "+N", the line stays one line.
    alice.page.set_viewport_size({"width": 900, "height": 900})
    more = alice.page.locator(".hd-people-more > summary")
    expect(more).to_be_visible()
    expect(more).to_have_text(re.compile(r"^\+[1-3]$"))
    # Everything in the line is inside the window: Share and Present reachable, your own
    # name shown whole.
    for control in ("Share this notebook", "Present"):
        box = alice.page.get_by_role("button", name=control).bounding_box()
        assert box is not None, control
        assert box["x"] + box["width"] <= 900, (control, box)
    me = alice.page.locator(".hd-person-me .hd-person-name")
    expect(me).to_be_visible()
    assert me.evaluate("e => e.scrollWidth <= e.clientWidth"), "your name is cut"
    users.screenshot(alice, "11-header-narrow")
    more.click()
    expect(alice.page.locator(".hd-people-overflow .hd-person").first).to_be_visible()
    users.screenshot(alice, "12-header-more-menu")
    alice.page.keyboard.press("Escape")
    # Someone leaves and comes back, the kernel goes busy again.
    others[0].page.close()
    expect(alice.page.locator(".hd-header .hd-person")).to_have_count(3)
    alice.page.keyboard.press("Control+Enter")
    expect(outputs(alice, 0)).to_have_text("slept", timeout=KERNEL_TIMEOUT_MS)

    samples = alice.page.evaluate(
        "() => { cancelAnimationFrame(window.__layoutFrame); return window.__layout; }")
    assert len(samples) > 20, samples
    tops = {round(s[0], 1) for s in samples}
    heights = {round(s[1], 1) for s in samples}
    # (the narrow window may wrap the toolbar below the header: that is the window, not
    # presence; the header itself never changes height)
    assert len(heights) == 1, f"the header changed height: {sorted(heights)}"
    wide_tops = {round(s[0], 1) for s in samples[:10]}
    assert len(wide_tops) == 1, wide_tops
    assert len(tops) <= 2, f"the first cell moved: {sorted(tops)}"
    # Share and Present: one line each, side by side.
    share = alice.page.get_by_role("button", name="Share this notebook").bounding_box()
    actions = alice.page.locator(".hd-role-actions").bounding_box()
    assert share is not None
    assert actions is not None
    assert actions["height"] <= share["height"] + 2, (share, actions)
    # My own name is never cut.
    mine = alice.page.locator(".hd-person-me .hd-person-name")
    expect(mine).to_have_text(f"{alice_name} (you)")
    assert mine.evaluate("el => el.scrollWidth <= el.clientWidth"), "your own name is cut"
    # Hand over says what it does.
    hand_over = alice.page.locator(".hd-handover").first
    assert "run cells" in (hand_over.get_attribute("title") or "")
    alice.page.emulate_media(color_scheme="dark")
    users.screenshot(alice, "13-header-narrow-dark")
    no_errors(alice, *others[1:])


def test_ctrl_s_saves_now(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "ctrl-s.ipynb", [code("a = 1")])
    alice = users.new("alice")
    open_notebook(huddle, alice, path, 1)
    alice.page.evaluate("""() => { window.__prevented = [];
      // first of all listeners; read once the event has been through the page's
      window.addEventListener('keydown', (e) => {
        if (e.key === 's' && e.ctrlKey)
          setTimeout(() => window.__prevented.push(e.defaultPrevented));
      }, true); }""")
    editor(alice, 0).click()
    alice.page.keyboard.press("End")
    alice.page.keyboard.type("  # saved with ctrl-s")
    alice.page.keyboard.press("Control+s")  # in edit mode
    expect(toast(alice, "Saved")).to_be_visible()
    expect(alice.page.locator(".hd-save")).to_have_text("Saved")
    assert any(b"save" in m for m in alice.raw_messages("sent")), "no RAW save request"
    saved = json.loads((huddle.root / path).read_text())
    assert "# saved with ctrl-s" in "".join(saved["cells"][0]["source"])
    alice.page.keyboard.press("Escape")
    alice.page.keyboard.press("Control+s")  # and in command mode
    expect(toast(alice, "Saved")).to_have_count(2)
    prevented = alice.page.evaluate("window.__prevented")
    assert prevented == [True, True], "the browser would save the page"
    no_errors(alice)


def test_restart_and_interrupt_ask_and_everyone_is_told(huddle: ServerProcess,
                                                        users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "restart.ipynb", [code("z = 41 + 1; print(z)")])
    alice, bob = users.new("alice"), users.new("bob")
    for user in (alice, bob):
        open_notebook(huddle, user, path, 1)
    alice_name, bob_name = display_name(huddle, alice), display_name(huddle, bob)
    command_mode_on(alice, 0)
    alice.page.keyboard.press("Control+Enter")
    expect(outputs(bob, 0)).to_have_text("42", timeout=KERNEL_TIMEOUT_MS)

    # Asked first, in the app's own dialog; Cancel does nothing.
    restart = bob.page.get_by_role("button", name="Restart the kernel")
    restart.click()
    dialog = bob.page.get_by_role("dialog", name="Restart the kernel for everyone?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("clears all variables")
    users.screenshot(bob, "20-restart-asks")
    bob.page.emulate_media(color_scheme="dark")
    users.screenshot(bob, "21-restart-asks-dark")
    bob.page.emulate_media(color_scheme="light")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(toast(bob, "Kernel restarted")).to_have_count(0)

    restart.click()
    dialog.get_by_role("button", name="Restart").click()
    expect(toast(bob, "Kernel restarted")).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
    expect(toast(alice, f"{bob_name} restarted the kernel")).to_be_visible(
        timeout=KERNEL_TIMEOUT_MS)
    expect(toast(bob, "restarted the kernel")).to_have_count(0)  # no news to the one who did it
    users.screenshot(alice, "22-told-of-restart")

    # Interrupt (the toolbar's, and I, I) asks too.
    alice.page.get_by_role("button", name="Interrupt the kernel (I, I)").click()
    alice.page.get_by_role("dialog", name="Interrupt the kernel for everyone?").get_by_role(
        "button", name="Interrupt").click()
    expect(toast(bob, f"{alice_name} interrupted the kernel")).to_be_visible(
        timeout=KERNEL_TIMEOUT_MS)
    command_mode_on(alice, 0)
    alice.page.keyboard.press("i")
    alice.page.keyboard.press("i")
    interrupt_dialog = alice.page.get_by_role("dialog", name="Interrupt the kernel for everyone?")
    expect(interrupt_dialog).to_be_visible()
    alice.page.keyboard.press("Escape")
    expect(alice.page.get_by_role("dialog")).to_have_count(0)
    # A page opened afterwards is not told of what happened before it came.
    carol = users.new("carol")
    open_notebook(huddle, carol, path, 1)
    expect(carol.page.locator(".hd-kernel")).to_have_text("Kernel: idle")
    expect(carol.page.locator(".hd-toast", has_text="the kernel")).to_have_count(0)
    no_errors(alice, bob, carol)


def test_a_guest_sees_the_people_and_the_kernel_at_once(huddle: ServerProcess,
                                                        users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "arrive.ipynb", [code("print('ready')"), code("b = 2")])
    alice, bob = users.new("alice"), users.new("bob")
    for user in (alice, bob):
        open_notebook(huddle, user, path, 2)
    names = [display_name(huddle, u) for u in (alice, bob)]
    command_mode_on(alice, 0)
    alice.page.keyboard.press("Control+Enter")
    expect(outputs(alice, 0)).to_have_text("ready", timeout=KERNEL_TIMEOUT_MS)
    expect(alice.page.locator(".hd-kernel")).to_have_text("Kernel: idle")
    url = create_link(users, alice, "viewer")
    # Nobody moves or types from here on: nothing new is published that could show them.
    guest = users.new("guest")
    started = time.monotonic()
    join(guest, url, "Gina Guest", path, 2)
    people = guest.page.locator(".hd-header .hd-person-name")
    for name in names:
        expect(people.filter(has_text=name)).to_have_count(1, timeout=2_000)
    expect(guest.page.locator(".hd-kernel")).to_have_text("Kernel: idle", timeout=2_000)
    print(f"guest: the notebook, the people and the kernel in {time.monotonic() - started:.2f} s")
    users.screenshot(guest, "30-guest-arrives")
    no_errors(alice, bob, guests=(guest,))


IN_VIEW_FULLY_JS = """(el) => {
  const top = document.querySelector('.hd-toolbar').getBoundingClientRect().bottom;
  const r = el.getBoundingClientRect();
  return r.top >= top - 1 && r.bottom <= innerHeight + 1 && !!el.querySelector('.cm-editor');
}"""


def test_end_and_home_in_a_long_notebook(huddle: ServerProcess, users: Users) -> None:
    path = write_notebook(huddle, "long.ipynb", [filler(i) for i in range(300)])
    alice = users.new("alice")
    open_notebook(huddle, alice, path, 300)
    command_mode_on(alice, 0)
    for keys, index in (("End", 299), ("Home", 0), ("Control+End", 299), ("Control+Home", 0)):
        alice.page.keyboard.press(keys)
        target = cell(alice, index)
        alice.page.wait_for_function(IN_VIEW_FULLY_JS, arg=target.element_handle(), timeout=5_000)
        settled_scroll(alice)
        # and it stays there once the cells around it have mounted
        alice.page.wait_for_timeout(300)
        settled_scroll(alice)
        assert target.evaluate(IN_VIEW_FULLY_JS), f"{keys}: cell {index} is not fully in view"
        assert "hd-active" in (target.get_attribute("class") or "")
    users.screenshot(alice, "40-home")
    no_errors(alice)


def test_people_are_told_apart(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "names.ipynb", [code("a = 1"), code("b = 2")])
    other = write_notebook(huddle, "elsewhere.ipynb", [code("c = 3")])
    sam1, sam2, owner = users.new("sam1"), users.new("sam2"), users.new("owner")
    for user in (sam1, sam2):
        rename(huddle, user, "Sam Smith")
    for user in (sam1, sam2, owner):
        open_notebook(huddle, user, path, 2)
    # Named apart in everyone's people list, the later username numbered.
    names = owner.page.locator(".hd-header .hd-person-name")
    expect(names.filter(has_text="Sam Smith")).to_have_count(2)
    expect(names.filter(has_text="Sam Smith 2")).to_have_count(1)
    # (in the line or behind "+N")
    initials = owner.page.locator(".hd-header .hd-avatar").evaluate_all(
        "els => els.map((e) => e.textContent)")
    assert len(set(initials)) == len(initials) == 3, initials
    # Their cursors carry their names, shown without hovering.
    for index, sam in enumerate((sam1, sam2)):
        editor(sam, index).click()
    labels = owner.page.locator(".cm-ySelectionInfo")
    expect(labels).to_have_count(2)
    texts = sorted(labels.all_inner_texts())
    assert texts == ["Sam Smith", "Sam Smith 2"], texts
    assert all(float(o) == 1 for o in labels.evaluate_all(
        "els => els.map(e => getComputedStyle(e).opacity)"))
    users.screenshot(owner, "50-cursor-labels")

    # @mentions: a guest of this notebook is offered, a guest of another notebook is not.
    here = create_link(users, owner, "commenter")
    owner.page.goto(f"{huddle.http_url}huddle/notebooks/{other}")
    there = create_link(users, owner, "viewer")
    guest_here, guest_there = users.new("guest-here"), users.new("guest-there")
    join(guest_here, here, "Hana Here", path, 2)
    join(guest_there, there, "Theo There", other, 1)
    open_notebook(huddle, owner, path, 2)
    command_mode_on(owner, 1)
    owner.page.keyboard.press("Control+Alt+m")
    field = owner.page.locator(".hd-comments-panel .hd-compose .hd-comment-field").first
    field.press_sequentially("@")
    options = owner.page.locator(".hd-comments-panel .hd-mention-option .hd-mention-name")
    expect(options.filter(has_text="Hana Here")).to_have_count(1)
    expect(options.filter(has_text="Theo There")).to_have_count(0)
    users.screenshot(owner, "51-mentions")
    no_errors(sam1, sam2, owner, guests=(guest_here, guest_there))


def test_quiet_run_lines(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "quiet.ipynb", [
        code("print('one')"), code("1/0"), code("print('three')"), code("print('four')")])
    alice = users.new("alice")
    open_notebook(huddle, alice, path, 4)
    alice.page.get_by_role("button", name="Run all cells").click()
    expect(cell(alice, 1).locator(".hd-error")).to_contain_text("ZeroDivisionError",
                                                               timeout=KERNEL_TIMEOUT_MS)
    # Alone: no "Ran · by me"; the cells a failure stopped say so, numbered as the cells are.
    expect(run_line(alice, 2)).to_have_text("Not run: cell 2 failed")
    expect(run_line(alice, 3)).to_have_text("Not run: cell 2 failed")
    expect(run_line(alice, 1)).to_contain_text("Run failed")
    expect(outputs(alice, 0)).to_have_text("one")
    expect(run_line(alice, 0)).to_have_text("")
    users.screenshot(alice, "60-quiet-run-lines")
    # With someone else here, who ran it is news again.
    bob = users.new("bob")
    open_notebook(huddle, bob, path, 4)
    expect(run_line(alice, 0)).to_have_text(f"Ran · by {display_name(huddle, alice)}")
    expect(run_line(bob, 2)).to_have_text("Not run: cell 2 failed")
    no_errors(alice, bob)
