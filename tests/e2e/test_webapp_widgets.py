"""Live Jupyter widgets in Huddle's web app (issue 15, docs/WIDGETS.md), three people in
Debian's Chromium.

The owner (token login), a runner and a viewer (both through share links) open one
notebook. The owner runs ``interact`` and moves its slider from the keyboard: the runner
sees the slider and the printed output follow; the viewer sees it move, but its slider is
disabled, a keypress there is refused in the page, and a send forced past the page (its own
socket) is refused by the server. After a reload the runner sees the current state. An
anywidget counter (its ESM in a sandboxed frame) is clicked by the owner and counts for
the runner; an ``Output`` widget captures a print; the saved ``.ipynb`` holds the widget
state in ``metadata.widgets``; a restart leaves the widgets dead, with their last state.

Screenshots, the server log, each page's console, websocket and HTTP traffic go to
``tests/artifacts/e2e/webapp-widgets/``.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.support.server_process import ServerProcess

from .conftest import UserPage, Users, huddle_app_server, module_artifacts
from .test_webapp import (  # noqa: F401  (_bundle_built: an autouse fixture)
    KERNEL_TIMEOUT_MS,
    _bundle_built,
    cell,
    code,
    editor,
    open_notebook,
    outputs,
    write_notebook,
)
from .test_webapp_comments import api, join_as_guest

pytestmark = pytest.mark.timeout(300)

ARTIFACTS_SUBDIR = "webapp-widgets"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
READ_ONLY_TITLE = "Only people who may run cells can use widgets"
DISABLED = re.compile(r"\bhd-widget-disabled\b")

INTERACT = "from ipywidgets import interact\ninteract(lambda x: print(x * 2), x=(0, 10))"
COUNTER = '''import anywidget, traitlets

class Counter(anywidget.AnyWidget):
    _esm = """
    export default {
      render({ model, el }) {
        const button = document.createElement('button');
        const show = () => { button.textContent = `count is ${model.get('value')}`; };
        button.addEventListener('click', () => {
          model.set('value', model.get('value') + 1);
          model.save_changes();
        });
        model.on('change:value', show);
        show();
        el.append(button);
      }
    }"""
    value = traitlets.Int(0).tag(sync=True)

Counter()'''
OUTPUT = ("import ipywidgets as widgets\nout = widgets.Output()\ndisplay(out)\n"
          "with out:\n    print('hi from the Output widget')")

# From the viewer's page, past its own widget code: a socket of its own that sends an
# update for the slider once the snapshot names it, and reports the server's answer.
FORCED_SEND_JS = """([url, timeoutMs]) => new Promise((resolve) => {
  const socket = new WebSocket(url);
  const done = (result) => { clearTimeout(timer); socket.close(); resolve(result); };
  const timer = setTimeout(() => done({ timeout: true }), timeoutMs);
  socket.onmessage = (event) => {
    if (typeof event.data !== 'string') return;
    const frame = JSON.parse(event.data);
    if (frame.type === 'snapshot') {
      const slider = frame.models.find((m) => m.model_name === 'IntSliderModel');
      if (!slider) return done({ noSlider: true });
      socket.send(JSON.stringify({ type: 'send', ref: 7, msg_id: 'ab'.repeat(16),
        comm_id: slider.comm_id,
        data: { method: 'update', state: { value: 9 }, buffer_paths: [] } }));
    } else if (frame.type === 'refused') {
      done(frame);
    }
  };
  socket.onclose = () => done({ closed: true });
})"""


@pytest.fixture(scope="module")
def huddle(tmp_path_factory: pytest.TempPathFactory, artifacts: Path,
           request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """``jupyter huddle`` writing widget state into the notebook every half second."""
    pytest.importorskip("ipywidgets")
    pytest.importorskip("anywidget")
    with huddle_app_server(tmp_path_factory.mktemp("webapp-widgets"),
                           module_artifacts(request.module, artifacts),
                           "--HuddleApp.widget_save_interval_s=0.5") as server:
        yield server


# --- helpers ------------------------------------------------------------------------------------

def widget(user: UserPage, index: int) -> Any:
    """The live (or saved) widget output of cell ``index``."""
    return outputs(user, index).locator(".hd-widget-live").first


def slider_readout(user: UserPage, index: int) -> Any:
    return widget(user, index).locator(".widget-readout").first


def run(user: UserPage, index: int) -> None:
    editor(user, index).click()
    user.page.keyboard.press("Control+Enter")


def document_id(user: UserPage, path: str) -> str:
    session = api(user, "PUT", f"/api/collaboration/session/{path}",
                  {"format": "json", "type": "notebook"})
    return f"json:notebook:{session['fileId']}"


def widgets_socket_url(server: ServerProcess, document: str) -> str:
    from urllib.parse import quote

    base = server.http_url.replace("http://", "ws://", 1)
    return f"{base}api/huddle/widgets/{quote(document, safe='')}"


def saved_widget_state(server: ServerProcess, path: str) -> dict[str, Any]:
    try:
        nb = json.loads((server.root / path).read_text())
    except (OSError, ValueError):  # read mid-write: not yet
        return {}
    return dict(nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {}))


def wait_for(predicate: Any, timeout_s: float, what: str) -> Any:
    """Polls ``predicate`` (a file on disk, which no browser event tells about) under a
    deadline; its last truthy value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def no_errors(*people: UserPage) -> None:
    """No console errors, but the browser's 403 for a guest's /favicon.ico (a share link
    opens only its notebook); no API request refused."""
    errors = [e for user in people for e in user.errors if "status of 403" not in e]
    assert not errors, errors
    refused = [(method, url, status) for user in people for _t, method, url, _b, status in user.http
               if "/api/" in url and status is not None and status >= 400]
    assert not refused, refused


# --- scenarios ----------------------------------------------------------------------------------

def test_widgets_shared_live_by_role(huddle: ServerProcess, users: Users) -> None:
    from playwright.sync_api import expect

    path = write_notebook(huddle, "widgets.ipynb", [code(INTERACT), code(COUNTER), code(OUTPUT)])
    owner = users.new("owner")
    open_notebook(huddle, owner, path, 3)
    document = document_id(owner, path)
    links = {role: api(owner, "POST", f"/api/huddle/links/{document}", {"role": role})["url"]
             for role in ("runner", "viewer")}
    runner, viewer = users.new("runner"), users.new("viewer")
    join_as_guest(runner, links["runner"], "Rita Runner", 3)
    join_as_guest(viewer, links["viewer"], "Vic Viewer", 3)
    people = (owner, runner, viewer)

    # interact: a slider (5) and its printed output (10), live for all three.
    run(owner, 0)
    for user in people:
        expect(slider_readout(user, 0)).to_have_text("5", timeout=KERNEL_TIMEOUT_MS)
        expect(widget(user, 0)).to_contain_text("10")
    expect(widget(owner, 0)).not_to_have_class(DISABLED)
    expect(widget(runner, 0)).not_to_have_class(DISABLED)

    # The owner moves the slider from the keyboard: everyone sees 6 and 12.
    handle = widget(owner, 0).locator(".noUi-handle").first
    handle.focus()
    owner.page.keyboard.press("ArrowRight")
    for user in people:
        expect(slider_readout(user, 0)).to_have_text("6")
        expect(widget(user, 0)).to_contain_text("12")
    users.screenshot(runner, "10-interact-moved-by-owner")
    # moving a widget is not a run: the cell still says it ran, and nothing is queued
    for user in people:
        run_line = cell(user, 0).locator(".hd-run-last, .hd-run-running, .hd-run-queued")
        expect(run_line).to_have_text(re.compile(r"^Ran\b"))
        expect(user.page.locator("[data-queue]")).to_have_attribute("data-queue", "0")

    # The runner may move it too.
    runner_handle = widget(runner, 0).locator(".noUi-handle").first
    runner_handle.focus()
    runner.page.keyboard.press("ArrowRight")
    for user in people:
        expect(slider_readout(user, 0)).to_have_text("7")
        expect(widget(user, 0)).to_contain_text("14")

    # The viewer's slider is disabled: dimmed, inert, saying why.
    viewed = widget(viewer, 0)
    expect(viewed).to_have_class(DISABLED)
    expect(viewed).to_have_attribute("title", READ_ONLY_TITLE)
    assert viewed.locator(".hd-widget-area").evaluate("(el) => el.inert") is True
    users.screenshot(viewer, "11-viewer-disabled")
    # Forced past the page's own guard (inert lifted), a keypress is refused in the page,
    # and the slider goes back to the kernel's value.
    viewed.locator(".hd-widget-area").evaluate("(el) => { el.inert = false; }")
    viewed.locator(".noUi-handle").first.focus()
    viewer.page.keyboard.press("ArrowRight")
    expect(viewed.locator(".hd-widget-notice")).to_have_text(READ_ONLY_TITLE)
    expect(slider_readout(viewer, 0)).to_have_text("7")
    # And a send on a socket of its own is refused by the server.
    refused = viewer.page.evaluate(FORCED_SEND_JS, [widgets_socket_url(huddle, document), 15_000])
    assert refused.get("type") == "refused", refused
    assert refused.get("ref") == 7, refused
    expect(slider_readout(owner, 0)).to_have_text("7")

    # A reload shows the current state (from the server's snapshot).
    runner.page.reload()
    expect(runner.page.locator(".hd-status")).to_have_text("Live", timeout=20_000)
    expect(slider_readout(runner, 0)).to_have_text("7", timeout=20_000)
    expect(widget(runner, 0)).to_contain_text("14")

    # anywidget: its ESM runs in a sandboxed frame; the owner clicks, the runner sees.
    run(owner, 1)
    frame = widget(owner, 1).locator("iframe.hd-aw-frame")
    expect(frame).to_have_attribute("sandbox", "allow-scripts", timeout=KERNEL_TIMEOUT_MS)
    owner_button = owner.page.frame_locator(
        ".hd-cells > .hd-cell >> nth=1 >> iframe.hd-aw-frame").locator("button")
    expect(owner_button).to_have_text("count is 0", timeout=KERNEL_TIMEOUT_MS)
    owner_button.click()
    owner_button.click()
    runner_button = runner.page.frame_locator(
        ".hd-cells > .hd-cell >> nth=1 >> iframe.hd-aw-frame").locator("button")
    expect(runner_button).to_have_text("count is 2", timeout=KERNEL_TIMEOUT_MS)
    expect(owner_button).to_have_text("count is 2")
    users.screenshot(runner, "12-anywidget-counted-by-owner")

    # An Output widget captures a print.
    run(runner, 2)
    for user in people:
        expect(widget(user, 2)).to_contain_text("hi from the Output widget",
                                                timeout=KERNEL_TIMEOUT_MS)

    # Saved: the file's metadata.widgets holds the slider at 7 and the counter at 2.
    def saved_values() -> bool:
        state = saved_widget_state(huddle, path)
        values = {m.get("model_name"): m.get("state", {}).get("value") for m in state.values()}
        return values.get("IntSliderModel") == 7 and values.get("AnyModel") == 2
    wait_for(saved_values, 30, "the widget state in the saved notebook")
    no_errors(*people)


def test_saved_state_and_a_restart(huddle: ServerProcess, users: Users) -> None:
    """Saved state renders (disabled, "saved state") where no model is live; an HTML
    widget's value is sanitized; a restart leaves the live widgets dead with their last
    state."""
    from playwright.sync_api import expect

    slider_id = "0123456789abcdef0123456789abcdef"
    saved = code("import ipywidgets\nipywidgets.IntSlider(value=3)")
    saved.outputs = [nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {
            "model_id": slider_id, "version_major": 2, "version_minor": 0},
        "text/plain": "IntSlider(value=3)"})]
    html = code("import ipywidgets\nipywidgets.HTML('<b>bold</b>"
                "<img src=\"data:,\" onerror=\"window.hdPwned = 1\">')")
    path = write_notebook(huddle, "saved.ipynb", [saved, code("import ipywidgets\n"
                                                              "ipywidgets.IntSlider(value=4)"),
                                                  html])
    nb = nbformat.read(str(huddle.root / path), as_version=4)
    nb.metadata["widgets"] = {WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": {
        slider_id: {"model_name": "IntSliderModel", "model_module": "@jupyter-widgets/controls",
                    "model_module_version": "2.0.0",
                    "state": {"value": 3, "max": 10, "layout": f"IPY_MODEL_{slider_id[:-1]}0"}},
        f"{slider_id[:-1]}0": {"model_name": "LayoutModel",
                               "model_module": "@jupyter-widgets/base",
                               "model_module_version": "2.0.0", "state": {}}}}}
    nbformat.write(nb, str(huddle.root / path))
    owner = users.new("owner")
    open_notebook(huddle, owner, path, 3)

    shown = widget(owner, 0)
    expect(slider_readout(owner, 0)).to_have_text("3")
    expect(shown).to_have_class(re.compile(r"\bhd-widget-disabled\b.*\bhd-widget-saved\b"))
    expect(shown.locator(".hd-widget-state")).to_have_text("saved state")

    run(owner, 1)
    expect(slider_readout(owner, 1)).to_have_text("4", timeout=KERNEL_TIMEOUT_MS)
    expect(widget(owner, 1)).not_to_have_class(DISABLED)
    # An HTML widget's value (the kernel's, so whoever ran the cell's) is sanitized.
    run(owner, 2)
    expect(widget(owner, 2).locator(".widget-html-content b")).to_have_text(
        "bold", timeout=KERNEL_TIMEOUT_MS)
    expect(widget(owner, 2).locator("img")).to_have_count(1)
    assert widget(owner, 2).locator("img").get_attribute("onerror") is None
    assert owner.page.evaluate("() => window.hdPwned") is None
    owner.page.get_by_role("button", name="Restart the kernel").click()
    owner.page.get_by_role("dialog").get_by_role("button", name="Restart").click()
    expect(widget(owner, 1).locator(".hd-widget-state")).to_have_text(
        "the kernel restarted — run the cell again", timeout=KERNEL_TIMEOUT_MS)
    expect(widget(owner, 1)).to_have_class(
        re.compile(r"\bhd-widget-disabled\b.*\bhd-widget-dead\b"))
    expect(slider_readout(owner, 1)).to_have_text("4")
    users.screenshot(owner, "20-saved-and-dead")
    no_errors(owner)


def test_widgets_off_on_the_server_keep_the_text(tmp_path_factory: pytest.TempPathFactory,
                                                  artifacts: Path, users: Users) -> None:
    """With ``widgets_enabled`` off the widget socket answers 404: the page keeps the
    widget's text, labelled as such, and does not retry."""
    from playwright.sync_api import expect

    with huddle_app_server(tmp_path_factory.mktemp("webapp-widgets-off"),
                           module_artifacts(sys.modules[__name__], artifacts) / "off",
                           "--HuddleApp.widgets_enabled=False") as server:
        path = write_notebook(server, "off.ipynb", [code("import ipywidgets\n"
                                                         "ipywidgets.IntSlider(value=2)")])
        owner = users.new("owner-off")
        open_notebook(server, owner, path, 1)
        run(owner, 0)
        fallback = outputs(owner, 0).locator(".hd-widget")
        expect(fallback).to_contain_text("IntSlider", timeout=KERNEL_TIMEOUT_MS)
        expect(fallback).to_contain_text("Interactive widget")
        # The probe told "off" from "down": the page marks the widget off and stops trying.
        expect(fallback).to_have_attribute("data-hd-widgets", "off", timeout=20_000)
        expect(outputs(owner, 0).locator(".hd-widget-live")).to_have_count(0)
        sockets = [url for url in owner.ws_closed if "/api/huddle/widgets/" in url]
        assert len(sockets) == 1, sockets
        errors = [e for e in owner.errors if "404" not in e]
        assert not errors, errors
