"""Huddle's web app (issue 16): how outputs and the notebook read, print and behave.

DataFrame HTML styled as JupyterLab styles it inside the sandboxed frames, in both themes
(the frames follow the app's theme as it changes); blockquotes; ANSI blue readable in the
dark theme; printing a 300-cell notebook prints every cell (page.pdf() too); inserting
cells causes no yjs warnings on either page; ``input()`` keeps its prompt and answer in
the output (a password masked); a viewer who types is told why nothing happens; a
personal copy says it is one; the new-comment form hides the suggestion field until it
is asked for, and an output thread says "output changed since" after a re-run.

Screenshots, the server log and each page's console go to
``tests/artifacts/e2e/outputs/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.support.server_process import ServerProcess

from .conftest import UserPage, Users, huddle_app_server, module_artifacts
from .test_webapp import (
    KERNEL_TIMEOUT_MS,
    _bundle_built,  # noqa: F401  (the module's autouse check that the app is built)
    cell,
    cells,
    code,
    command_mode_on,
    editor,
    expect_source,
    open_notebook,
    outputs,
    write_notebook,
)
from .test_webapp_comments import compose, panel, select_in_first_line
from .test_webapp_sharing import create_link, join

pytestmark = pytest.mark.timeout(120)

ARTIFACTS_SUBDIR = "outputs"

# What pandas writes for a DataFrame (pandas is not installed here): border="1", a scoped
# style, a header row and index column of <th>, numbers in <td>.
DATAFRAME_HTML = """<div>
<style scoped>
    .dataframe tbody tr th:only-of-type { vertical-align: middle; }
    .dataframe tbody tr th { vertical-align: top; }
    .dataframe thead th { text-align: right; }
</style>
<table border="1" class="dataframe">
  <thead>
    <tr style="text-align: right;"><th></th><th>region</th><th>sales</th><th>growth</th></tr>
  </thead>
  <tbody>
    <tr><th>0</th><td>north</td><td>1200</td><td>0.12</td></tr>
    <tr><th>1</th><td>south</td><td>5</td><td>-0.40</td></tr>
    <tr><th>2</th><td>east</td><td>73000</td><td>1.05</td></tr>
    <tr><th>3</th><td>west</td><td>42</td><td>0.00</td></tr>
  </tbody>
</table>
</div>"""

YJS_WARNINGS = ("Invalid access", "Not same Y.Doc")


@pytest.fixture(scope="module")
def huddle(tmp_path_factory: pytest.TempPathFactory, artifacts: Path,
           request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """``jupyter huddle`` saving quickly; guests may make personal copies."""
    with huddle_app_server(tmp_path_factory.mktemp("outputs"),
                           module_artifacts(request.module, artifacts),
                           "--HuddleApp.guest_copies=True") as server:
        yield server


def with_outputs(source: str, *outputs_: Any) -> Any:
    return nbformat.v4.new_code_cell(source, outputs=list(outputs_), execution_count=1)


def stream(text: str) -> Any:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def frame_eval(user: UserPage, selector: str, script: str) -> Any:
    """Evaluate ``script`` (a function of the element) on ``selector`` inside the first
    HTML output frame."""
    return user.page.frame_locator("iframe.hd-frame").first.locator(selector).first.evaluate(script)


def luminance(rgb: str) -> float:
    values = [int(v) / 255 for v in re.findall(r"\d+", rgb)[:3]]
    linear = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in values]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(fg: str, bg: str) -> float:
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def no_yjs_warnings(*people: UserPage) -> None:
    for user in people:
        found = [line for line in user.console if any(w in line for w in YJS_WARNINGS)]
        assert not found, (user.name, found)


# --- outputs in both themes ------------------------------------------------------------------

def test_dataframe_styled_as_jupyterlab_in_both_themes(huddle: ServerProcess,
                                                       users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "frames.ipynb", [
        with_outputs("df", nbformat.v4.new_output(
            "execute_result", data={"text/html": DATAFRAME_HTML, "text/plain": "df"},
            execution_count=1)),
        nbformat.v4.new_markdown_cell("> A quoted remark\n> on two lines"),
        with_outputs("print(colours)", stream(
            "\x1b[34mblue text\x1b[0m \x1b[94mbright blue\x1b[0m\n")),
    ])
    user = users.new("viewer")
    open_notebook(huddle, user, path, 3)
    frame = user.page.frame_locator("iframe.hd-frame").first
    expect(frame.locator("td", has_text="73000")).to_be_visible()

    # JupyterLab's table rules: right-aligned, no cell borders, a bold header over one rule.
    assert frame_eval(user, "td", "el => getComputedStyle(el).textAlign") == "right"
    assert frame_eval(user, "td", "el => getComputedStyle(el).borderTopStyle") == "none"
    assert frame_eval(user, "table", "el => getComputedStyle(el).borderTopStyle") == "none"
    assert frame_eval(user, "thead", "el => getComputedStyle(el).borderBottomStyle") == "solid"
    assert frame_eval(user, "thead th", "el => getComputedStyle(el).fontWeight") in ("700", "bold")
    zebra = ("el => [...el.querySelectorAll('tbody tr')]"
             ".map(r => getComputedStyle(r).backgroundColor)")
    light_rows = frame_eval(user, "table", zebra)
    assert light_rows[0] != light_rows[1], light_rows
    assert light_rows[0] == light_rows[2], light_rows
    assert frame_eval(user, "body", "el => getComputedStyle(el).backgroundColor") == \
        "rgb(255, 255, 255)"
    # Blockquotes are styled (a rule at the left, muted text).
    quote = cell(user, 1).locator(".hd-markdown blockquote")
    expect(quote).to_contain_text("A quoted remark")
    assert quote.evaluate("el => getComputedStyle(el).borderLeftWidth") == "4px"
    users.screenshot(user, "01-dataframe-light")

    # The app turns dark: the open frame follows (no white block), its rows still zebra.
    user.page.emulate_media(color_scheme="dark")
    user.page.wait_for_function(
        "() => getComputedStyle(document.body).backgroundColor === 'rgb(13, 17, 23)'")
    frame.locator("body").evaluate(
        "el => new Promise((resolve, reject) => { const t = Date.now(); (function check() {"
        " if (getComputedStyle(el).backgroundColor !== 'rgb(255, 255, 255)') resolve(true);"
        " else if (Date.now() - t > 10000) reject(new Error('the frame stayed white'));"
        " else requestAnimationFrame(check); })(); })")
    dark_bg = frame_eval(user, "body", "el => getComputedStyle(el).backgroundColor")
    assert luminance(dark_bg) < 0.05, dark_bg
    dark_rows = frame_eval(user, "table", zebra)
    assert dark_rows[0] != dark_rows[1], dark_rows
    assert all(luminance(bg) < 0.1 for bg in dark_rows), dark_rows
    text = frame_eval(user, "td", "el => getComputedStyle(el).color")
    assert contrast(text, dark_rows[1]) >= 7, (text, dark_rows)
    assert frame_eval(user, "td", "el => getComputedStyle(el).textAlign") == "right"

    # ANSI blue (and bright blue) read on the dark background.
    page_bg = user.page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    for cls in ("ansi-blue-fg", "ansi-bright-blue-fg"):
        colour = cell(user, 2).locator(f".{cls}").evaluate("el => getComputedStyle(el).color")
        assert contrast(colour, page_bg) >= 4.5, (cls, colour, page_bg)
    users.screenshot(user, "02-dataframe-dark")

    # A page opened in the dark theme makes its frames dark from the start.
    user.page.reload()
    expect(user.page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    expect(frame.locator("td", has_text="73000")).to_be_visible()
    assert luminance(frame_eval(user, "body", "el => getComputedStyle(el).backgroundColor")) < 0.05
    assert not user.errors, user.errors


# --- printing ----------------------------------------------------------------------------------

def test_printing_prints_every_cell(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    notebook_cells: list[Any] = []
    for i in range(300):
        if i % 10 == 3:
            notebook_cells.append(
                nbformat.v4.new_markdown_cell(f"## Section {i}\n\nSome *prose* {i}."))
        elif i % 10 == 7:
            notebook_cells.append(with_outputs(f"print('printed_{i}')", stream(f"printed_{i}\n")))
        else:
            notebook_cells.append(code(f"value_{i} = {i} * 2  # cell {i}"))
    path = write_notebook(huddle, "print.ipynb", notebook_cells)
    user = users.new("printer")
    open_notebook(huddle, user, path, 300)
    page = user.page
    # Far cells have no editor yet (the notebook mounts cells near the viewport only).
    assert page.locator(".cm-editor").count() < 300

    page.emulate_media(media="print")
    expect(page.locator(".hd-header")).to_be_hidden()
    expect(page.locator(".hd-toolbar")).to_be_hidden()
    expect(cells(user).nth(293).locator(".hd-markdown h2")).to_have_text("Section 293")
    report = page.evaluate("""() => [...document.querySelectorAll('.hd-cells > .hd-cell')]
      .map((c) => {
        const input = c.querySelector('.hd-input');
        const r = input.getBoundingClientRect();
        return {text: input.textContent, height: r.height,
                hidden: getComputedStyle(input).visibility === 'hidden',
                out: c.querySelector('.hd-outputs').textContent};
    })""")
    assert len(report) == 300
    for i, item in enumerate(report):
        expected = f"Section {i}" if i % 10 == 3 else (
            f"print('printed_{i}')" if i % 10 == 7 else f"value_{i} = {i} * 2  # cell {i}")
        assert expected in item["text"], (i, item)
        assert item["height"] > 0, (i, item)
        assert not item["hidden"], (i, item)
        if i % 10 == 7:
            assert f"printed_{i}" in item["out"], (i, item)
        if i % 10 == 3:
            assert "##" not in item["text"], (i, item)  # rendered, not its source
    # Code far down is highlighted as in an editor.
    expect(cells(user).nth(298).locator(".hd-preview span").first).to_be_attached()
    page.screenshot(path=str(users.artifacts / "10-print-media.png"), full_page=False)

    page.emulate_media(media="screen")
    pdf = page.pdf(format="A4")
    (users.artifacts / "11-notebook.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert pdf.startswith(b"%PDF")
    assert pages > 1, pages
    assert not user.errors, user.errors


# --- inserting cells -------------------------------------------------------------------------

def test_inserting_cells_causes_no_yjs_warnings(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "insert.ipynb", [code("first"), code("second")])
    alice, bob = users.new("alice"), users.new("bob")
    for user in (alice, bob):
        open_notebook(huddle, user, path, 2)
    command_mode_on(alice, 1)
    for key in ("b", "b", "a", "b", "a"):
        alice.page.keyboard.press(key)
    command_mode_on(bob, 0)
    bob.page.keyboard.press("b")  # the other person inserts too
    for user in (alice, bob):
        expect(cells(user)).to_have_count(8)
    for user in (alice, bob):
        expect_source(user, 1, "")  # Bob's, above "second"
        expect_source(user, 2, "second")
    editor(alice, 7).click()  # the last: one of Alice's new cells
    alice.page.keyboard.type("typed = 1")
    expect_source(bob, 7, "typed = 1")
    # A type change (M) rebuilds the cell the same way.
    alice.page.keyboard.press("Escape")
    alice.page.keyboard.press("m")
    for user in (alice, bob):
        expect(cell(user, 7)).to_have_attribute("data-cell-type", "markdown")
    no_yjs_warnings(alice, bob)
    assert not alice.errors, alice.errors
    assert not bob.errors, bob.errors


# --- input() ---------------------------------------------------------------------------------

def test_input_keeps_prompt_and_answer_and_masks_passwords(huddle: ServerProcess,
                                                           users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "ask.ipynb", [
        code("name = input('Your name? ')\nprint('hi', name)"),
        code("import getpass\nsecret = getpass.getpass('Secret: ')\nprint(len(secret))"),
    ])
    alice, bob = users.new("alice"), users.new("bob")
    for user in (alice, bob):
        open_notebook(huddle, user, path, 2)
    command_mode_on(alice, 0)
    alice.page.keyboard.press("Control+Enter")
    prompt = alice.page.get_by_label("Your name?")
    expect(prompt).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
    prompt.fill("Ada")
    prompt.press("Enter")
    for user in (alice, bob):
        expect(outputs(user, 0)).to_have_text(re.compile(r"Your name\? Ada\s+hi Ada"),
                                              timeout=KERNEL_TIMEOUT_MS)

    command_mode_on(alice, 1)
    alice.page.keyboard.press("Control+Enter")
    secret = alice.page.get_by_label("Secret:")
    expect(secret).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
    assert secret.get_attribute("type") == "password"
    secret.fill("hunter2")
    secret.press("Enter")
    for user in (alice, bob):
        expect(outputs(user, 1)).to_have_text(re.compile(r"Secret: ········\s+7"),
                                              timeout=KERNEL_TIMEOUT_MS)
        expect(outputs(user, 1)).not_to_contain_text("hunter2")
    users.screenshot(bob, "20-input-kept")
    text = (huddle.root / path).read_text()
    assert "hunter2" not in text


# --- viewers and copies ----------------------------------------------------------------------

def test_viewer_is_told_and_a_copy_says_it_is_one(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "sales.ipynb", [code("revenue = 100")])
    owner = users.new("owner")
    open_notebook(huddle, owner, path, 1)
    expect(owner.page.locator(".hd-banner-copy")).to_have_count(0)  # the original is none
    url = create_link(users, owner, "viewer")
    guest = users.new("guest")
    join(guest, url, "Ann", path, 1)

    # Typing in a read-only cell: nothing changes, and the page says why.
    editor(guest, 0).click()
    guest.page.keyboard.type("x")
    expect(guest.page.locator(".hd-toast")).to_contain_text(
        "You can view this notebook but not edit it")
    expect(editor(guest, 0)).to_have_text("revenue = 100")
    users.screenshot(guest, "30-viewer-told")

    guest.page.get_by_role("button", name="Make my copy").click()
    expect(guest.page).to_have_url(re.compile(r"/huddle-copies/Ann-[^/]+/sales\.ipynb$"))
    expect(guest.page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    note = guest.page.locator(".hd-banner-copy")
    expect(note).to_contain_text("Your copy of sales.ipynb")
    link = note.get_by_role("link", name="Open the original")
    expect(link).to_have_attribute("href", re.compile(r"/huddle/notebooks/sales\.ipynb$"))
    users.screenshot(guest, "31-your-copy")
    link.click()
    expect(guest.page).to_have_url(re.compile(r"/huddle/notebooks/sales\.ipynb$"))
    expect(guest.page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    expect(guest.page.locator(".hd-banner-copy")).to_have_count(0)


# --- comments --------------------------------------------------------------------------------

def test_compose_hides_suggestion_and_output_thread_sees_a_rerun(huddle: ServerProcess,
                                                                 users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "review.ipynb", [
        code("import itertools\nrun = globals().get('run', 0) + 1\nprint('run', run)")])
    alice = users.new("alice")
    open_notebook(huddle, alice, path, 1)

    # The suggestion field appears only once "Suggest a change" is ticked.
    select_in_first_line(alice, 0, 7, 9)
    alice.page.keyboard.press("Control+Alt+m")
    form = alice.page.locator(".hd-compose")
    expect(form.locator(".hd-thread-quote")).to_have_text("itertools")
    replacement = form.get_by_label("Suggested replacement text")
    expect(replacement).to_be_hidden()
    form.get_by_label("Suggest a change").check()
    expect(replacement).to_be_visible()
    form.get_by_label("Suggest a change").uncheck()
    expect(replacement).to_be_hidden()
    form.get_by_role("button", name="Cancel").click()

    editor(alice, 0).click()
    alice.page.keyboard.press("Control+Enter")
    expect(outputs(alice, 0)).to_have_text("run 1", timeout=KERNEL_TIMEOUT_MS)
    output = outputs(alice, 0).locator(".hd-output").first
    output.hover()
    output.get_by_role("button", name="Comment on this output", exact=True).click()
    compose(alice, "Is one run enough?")
    where = panel(alice).locator(".hd-thread .hd-thread-where")
    expect(where).to_have_text("Cell 1 · Output 1")

    command_mode_on(alice, 0)
    alice.page.keyboard.press("Control+Enter")
    expect(outputs(alice, 0)).to_have_text("run 2", timeout=KERNEL_TIMEOUT_MS)
    expect(where).to_have_text("Cell 1 · Output 1 · output changed since")
    # The thread names the cell by its place and by the prompt its gutter shows.
    expect(panel(alice).locator(".hd-thread .hd-thread-prompt")).to_have_text("[2]:")
    expect(cell(alice, 0).locator(".hd-prompt")).to_have_text("[2]:")
    users.screenshot(alice, "40-output-changed-since")
