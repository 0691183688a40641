"""Issue 11 in Debian's Chromium: what a viewer writes can neither speak as the server on the
owner's page nor cover it.

1. A viewer (a guest through a view link) publishes awareness states that claim to be the
   server's presence: a presenter to follow, a run queue whose entry is the owner's, with a
   password prompt and a "request id" that is a path (``../../contents/decoy.ipynb``, which
   an old page cancelled with ``DELETE /api/contents/decoy.ipynb``), a busy kernel. Once
   through the server (which strips them) and once injected straight into the owner's room
   socket, as if a server had let them through: the page reads server presence only from
   the client id the server announced. The real server presence still works (presenting).
2. A Markdown cell with ``position:fixed; inset:0; z-index:max`` and friends (absolute with a
   huge offset, a huge box, a transform, KaTeX's own absolute classes, a popover, the app's
   classes) leaves the owner's and a viewer's header and toolbar in reach, and KaTeX math in
   another cell still renders.

Screenshots, the server log and each page's console, websocket and HTTP traffic go to
``tests/artifacts/security/browser-trust/``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.support.server_process import ServerProcess
from tests.support.yclient import awareness_update

from . import browser as kit
from .browser import (
    UserPage,
    Users,
    cell,
    create_link,
    forge_presence,
    huddle_server,
    join,
    my_username,
    open_notebook,
    tap_room,
    wait_for,
)

# The e2e tier's fixtures, for this module only (browser.py says why not for the tier).
_e2e_tools, _bundle_built = kit._e2e_tools, kit._bundle_built
jp_asyncio_loop, jp_server_cleanup = kit.jp_asyncio_loop, kit.jp_server_cleanup
artifacts, browser, users = kit.artifacts, kit.browser, kit.users

pytestmark = pytest.mark.timeout(120)

ARTIFACTS_SUBDIR = "browser-trust"


@pytest.fixture(scope="module")
def huddle(tmp_path_factory: pytest.TempPathFactory, artifacts: Path,
           request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """``jupyter huddle`` as it ships: guests may not make personal copies."""
    yield from huddle_server(tmp_path_factory, request, artifacts)


def no_trace_of_forged_presence(user: UserPage) -> None:
    """Nothing a forged server presence would show: no presenter, no following, no queue,
    no Cancel, no input or password prompt, no busy kernel, no "forger" in the people."""
    from playwright.sync_api import expect

    page = user.page
    expect(page.locator(".hd-present-bar")).to_be_hidden()
    expect(page.locator(".hd-presentation, .hd-following-presenter")).to_have_count(0)
    expect(page.locator(".hd-following")).to_be_hidden()
    expect(page.locator(".hd-queue-item")).to_have_count(0)
    expect(page.locator(".hd-run-cancel, .hd-run-queued, .hd-run-running")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("cancel", re.I))).to_have_count(0)
    expect(page.locator("input.hd-stdin, input[type=password]")).to_have_count(0)
    expect(page.locator(".hd-kernel")).not_to_contain_text(re.compile("busy|queue"))
    expect(page.locator("[data-username='forger']")).to_have_count(0)


def test_a_viewers_forged_server_presence_has_no_effect_on_the_owners_page(
        huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = kit.write_notebook(huddle, "forged.ipynb", [
        nbformat.v4.new_code_cell("x = 1", id="cell-one"),
        nbformat.v4.new_code_cell("y = 2", id="cell-two")])
    kit.write_notebook(huddle, "decoy.ipynb", [nbformat.v4.new_code_cell("keep me")])
    owner = users.new("owner")
    tap = tap_room(owner)
    open_notebook(huddle, owner, path, 2)
    expect(cell(owner, 0)).to_have_attribute("data-cell-id", "cell-one")
    owner_name = my_username(huddle, owner)
    url = create_link(users, owner, "viewer")
    viewer = users.new("viewer")
    join(viewer, url, "Mallory", path, 2)
    # Guests may not make copies on this server: the access API says so, the page listens.
    expect(viewer.page.get_by_role("button", name="Make my copy")).to_have_count(0)

    running = {"request_id": "../../contents/decoy.ipynb", "cell_id": "cell-one",
               "state": "running", "requested_by": {"username": owner_name},
               "input": {"prompt": "Password:", "password": True}}
    forged = {
        "user": {"username": "forger", "display_name": "Forger", "name": "Forger"},
        "activeCellId": "cell-two",
        "huddle": {
            "presenter": {"username": "marker", "name": "Marker", "since": 1},
            "kernel": {"id": "00000000-0000-4000-8000-000000000000", "status": "busy"},
            "queue": [running, {**running, "cell_id": "cell-two", "state": "queued",
                                "input": None}],
            "runs": {"cell-one": {"requested_by": {"username": "forger"}, "state": "done"}},
        },
    }

    # Through the server: the viewer's own socket publishes the forged state under its own
    # client id and under another one the server does not own.
    own, other = random.sample(range(1, 2**31), 2)
    announced = forge_presence(viewer, path, [(own, 1, forged), (other, 1, forged)])
    assert announced not in (own, other)
    wait_for(lambda: tap.states_of(own), "the viewer's state relayed to the owner", owner)
    for client_id in (own, other):
        for state in tap.states_of(client_id):
            assert "huddle" not in state, state  # the server's half: stripped

    # The page's own half: forged states delivered as if a server had let them through,
    # under a client id that is not the announced one; then a person, "Marker", the forged
    # presenter. Frames are handled in order, so once Marker shows, the forgery was read.
    forger_id, marker_id = random.sample(range(1, 2**31), 2)
    tap.inject(awareness_update(forger_id, 1, forged))
    tap.inject(awareness_update(marker_id, 1, {
        "user": {"username": "marker", "display_name": "Marker", "name": "Marker"},
        "activeCellId": "cell-two"}))
    # (in the header's line, or in its "+N" menu when the line is full)
    expect(owner.page.locator(".hd-people-bar [data-username='marker']")).to_have_count(1)
    users.screenshot(owner, "01-owner-after-forged-presence")
    no_trace_of_forged_presence(owner)
    no_trace_of_forged_presence(viewer)
    assert not [u for _t, method, u, _b, _s in owner.http if method == "DELETE"], owner.http
    assert (huddle.root / "decoy.ipynb").is_file()

    # The server's own presence is still read: the owner presents, the viewer follows.
    owner.page.get_by_role("button", name="Present").click()
    bar = viewer.page.locator(".hd-present-bar")
    expect(bar).to_contain_text("is presenting")
    users.screenshot(viewer, "02-viewer-sees-the-real-presenter")
    owner.page.get_by_role("button", name="Present").click()
    expect(bar).to_be_hidden()
    assert (huddle.root / "decoy.ipynb").is_file()
    assert not owner.errors, owner.errors


# Every way a Markdown cell tried to paint over the app, each marked with class "cover".
TOP = "z-index:2147483647"
COVERS = "\n".join([
    f'<div class="cover" style="position:fixed;inset:0;{TOP};background:red">fixed</div>',
    f'<div class="cover" style="position:absolute;top:-5000px;left:-100px;width:5000px;'
    f'height:10000px;{TOP};background:blue">absolute</div>',
    '<div class="cover" style="width:100000px;height:4000px;margin-top:-3000px;'
    'background:green">huge</div>',
    '<div class="cover" style="transform:scale(60);background:orange">transform</div>',
    # KaTeX's stylesheet makes `.katex .llap > .inner` absolute: no inline style needed.
    '<span class="katex"><span class="llap"><span class="inner cover" style="top:-2000px;'
    'left:0;width:100000px;height:100000px;background:purple">katex classes</span></span></span>',
    '<div class="cover hd-toast" style="background:teal">app classes</div>',
    # A popover opens in the top layer, above any containment.
    '<button popovertarget="pop">open</button><div class="cover" popover="manual" id="pop"'
    ' style="inset:0;width:100vw;height:100vh">popover</div>',
]) + "\n"

MATH = r"""Math: $\frac{a}{b} + \sqrt{x^2+1} + {\color{red} R}$

$$\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix} \xrightarrow{f} \sum_{i=1}^n i^2$$
"""

# For each point: the element there, and whether it is inside rendered Markdown, inside the
# Markdown's own box, and inside the app's header block.
PROBE_SCRIPT = """
(points) => points.map(([x, y]) => {
  const el = document.elementFromPoint(x, y);
  const md = el && el.closest('.hd-markdown');
  const box = md && md.getBoundingClientRect();
  return {
    x, y,
    tag: el ? el.tagName + '.' + el.className : null,
    inMarkdown: !!md,
    inItsBox: !!box && x >= box.left && x <= box.right && y >= box.top && y <= box.bottom,
    inTop: !!(el && el.closest('.hd-top')),
  };
})
"""


def probe(user: UserPage) -> list[dict[str, Any]]:
    """Points on the header and the toolbar, the viewport's centre and corners."""
    page = user.page
    top = page.locator(".hd-top").bounding_box()
    assert top is not None
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    points = [(top["x"] + top["width"] / 2, top["y"] + 10),
              (top["x"] + 20, top["y"] + top["height"] - 8),
              (width / 2, height / 2), (5, height - 5), (width - 5, height - 5),
              (width - 5, top["y"] + top["height"] + 5)]
    return list(page.evaluate(PROBE_SCRIPT, points))


def assert_app_uncovered(user: UserPage) -> None:
    hits = probe(user)
    for hit in hits[:2]:
        assert hit["inTop"], f"{user.name}: the header is covered at {hit}"
    for hit in hits:
        outside = hit["inMarkdown"] and not hit["inItsBox"]
        assert not outside, f"{user.name}: Markdown paints outside its box at {hit}"
    assert user.page.evaluate("document.querySelectorAll('[popover], [popovertarget]').length") == 0
    assert user.page.evaluate("document.querySelectorAll('.hd-markdown .hd-toast').length") == 0


def assert_math_renders(user: UserPage) -> None:
    from playwright.sync_api import expect

    math = cell(user, 0).locator(".hd-markdown")
    expect(math.locator(".katex").first).to_be_visible()
    sizes = math.evaluate("""(md) => ({
      katex: [...md.querySelectorAll('.katex-html')].map((k) => k.getBoundingClientRect().height),
      fracLine: getComputedStyle(md.querySelector('.frac-line')).borderBottomWidth,
      sqrt: md.querySelector('.sqrt svg').getBoundingClientRect().height,
      matrix: md.querySelectorAll('.mtable .col-align-c').length,
      red: [...md.querySelectorAll('.katex-html span')]
        .filter((s) => s.textContent === 'R').map((s) => getComputedStyle(s).color),
    })""")
    assert len(sizes["katex"]) == 2, sizes
    assert all(h > 0 for h in sizes["katex"]), sizes
    assert sizes["fracLine"] not in ("0px", ""), sizes
    assert sizes["sqrt"] > 0, sizes
    assert sizes["matrix"] >= 2, sizes
    assert "rgb(255, 0, 0)" in sizes["red"], sizes


def test_rendered_markdown_cannot_cover_the_app(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = kit.write_notebook(huddle, "covers.ipynb", [nbformat.v4.new_markdown_cell(MATH),
                                          nbformat.v4.new_markdown_cell(COVERS),
                                          nbformat.v4.new_code_cell("z = 3")])
    owner = users.new("owner")
    open_notebook(huddle, owner, path, 3)
    url = create_link(users, owner, "viewer")
    viewer = users.new("viewer")
    join(viewer, url, "Vera", path, 3)
    for user in (owner, viewer):
        expect(cell(user, 1).locator(".cover")).to_have_count(7)
        assert_math_renders(user)
        assert_app_uncovered(user)
        users.screenshot(user, "10-markdown-contained")
        # The popover's opener stays a plain button: a click (which scrolls the tall cell
        # into view) opens nothing.
        cell(user, 1).get_by_role("button", name="open").click()
        assert user.page.evaluate("document.querySelectorAll(':popover-open').length") == 0
        assert_app_uncovered(user)
        # Whatever the style filter let through, the box holds: a fixed cover put into the
        # rendered Markdown by hand still paints inside it only.
        cell(user, 1).locator(".hd-markdown").evaluate("""(md) => {
          const el = document.createElement('div');
          el.className = 'cover';
          el.style.cssText = 'position:fixed;inset:0;z-index:2147483647;background:red';
          md.append(el);
        }""")
        assert_app_uncovered(user)
    users.screenshot(owner, "11-owner-after-hand-made-cover")
    assert not owner.errors, owner.errors
