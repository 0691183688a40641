"""Live widgets (docs/WIDGETS.md) on a real server, real ipykernel kernels and real widget
sockets: one state per kernel shared by every page, sending by role, refusals, binary
buffers, Output capture, restarts and saving into the notebook."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets

from tests.support.guests import guest_in, start_kernel, stop_kernels
from tests.support.waiting import eventually
from tests.support.widget_page import (
    WidgetPage,
    guest_page,
    open_page,
    owner_page,
    run,
    widgets_url,
)
from tests.support.yclient import YClient

MAX_MESSAGE_BYTES = 64 * 1024
BASE_CONFIG: dict[str, Any] = {
    "save_delay_s": 0.1, "max_save_delay_s": 0.5, "room_cleanup_delay_s": 0.5,
    "save_retry_delay_s": 0.2, "kernel_watchdog_interval_s": 0.5,
    "widget_save_interval_s": 0.2, "widget_max_message_bytes": MAX_MESSAGE_BYTES,
}
SLIDER = "import ipywidgets as w; s = w.IntSlider(3); s"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.fixture
def huddle_config() -> dict[str, Any]:
    return dict(BASE_CONFIG)


# --- helpers -----------------------------------------------------------------------------

def outputs(doc: YClient, index: int) -> list[dict[str, Any]]:
    return doc.cells[index]["outputs"].to_py()


def printed(doc: YClient, index: int) -> str:
    return "".join(o.get("text", "") for o in outputs(doc, index)
                   if o["output_type"] == "stream")


def is_model(name: str) -> Any:
    return lambda f: f["model"]["state"].get("_model_name") == name


async def slider_on(page: WidgetPage) -> dict[str, Any]:
    opened = await page.frame("open", is_model("IntSliderModel"), "the slider's open")
    return opened["model"]


def updates_of(page: WidgetPage, comm_id: str, key: str) -> list[Any]:
    return [f["state"][key] for f in page.of_type("update")
            if f["comm_id"] == comm_id and key in f["state"]]


async def value_update(page: WidgetPage, comm_id: str, value: Any) -> dict[str, Any]:
    return await page.frame("update", lambda f: f["comm_id"] == comm_id
                            and f["state"].get("value") == value, f"value={value!r}")


# --- tests -------------------------------------------------------------------------------

async def test_one_state_shared_by_every_page(huddle, write_notebook):
    write_notebook("shared.ipynb", [SLIDER, "print(s.value)"])
    kernel_id = await start_kernel(huddle, "shared.ipynb")
    try:
        runner, room, _ = await guest_in(huddle, "shared.ipynb", "runner", "Ru")
        async with huddle.open("shared.ipynb") as doc, owner_page(huddle, room) as mine, \
                guest_page(runner, room) as theirs:
            assert (await mine.snapshot())["can_send"] is True
            assert (await theirs.snapshot())["can_send"] is True
            await run(huddle, kernel_id, room, doc, 0)
            slider = await slider_on(mine)
            assert slider["state"]["value"] == 3
            assert (await slider_on(theirs))["state"]["value"] == 3
            assert slider["model_name"] == "IntSliderModel"
            assert slider["target_name"] == "jupyter.widget"
            # the runner moves it: the kernel's echo reaches both pages
            _ref, msg_id = await theirs.update(slider["comm_id"], {"value": 7})
            echo = await value_update(theirs, slider["comm_id"], 7)
            assert echo["parent_msg_id"] == msg_id
            await value_update(mine, slider["comm_id"], 7)
            assert not theirs.of_type("refused")
            await run(huddle, kernel_id, room, doc, 1)
            assert printed(doc, 1) == "7\n"
            # a page that comes later gets the state in its snapshot
            async with owner_page(huddle, room) as late:
                snapshot = await late.snapshot()
                assert snapshot["kernel_id"] == kernel_id
                assert snapshot["alive"] is True
                (model,) = [m for m in snapshot["models"] if m["comm_id"] == slider["comm_id"]]
                assert model["state"]["value"] == 7
                assert model["model_module"] == "@jupyter-widgets/controls"
    finally:
        await stop_kernels(huddle)


async def test_a_viewer_receives_but_may_not_send(huddle, write_notebook):
    write_notebook("view.ipynb", [SLIDER, "print(s.value)"])
    kernel_id = await start_kernel(huddle, "view.ipynb")
    try:
        viewer, room, _ = await guest_in(huddle, "view.ipynb", "viewer", "Vi")
        async with huddle.open("view.ipynb") as doc, owner_page(huddle, room) as mine, \
                guest_page(viewer, room) as theirs:
            assert (await theirs.snapshot())["can_send"] is False
            await run(huddle, kernel_id, room, doc, 0)
            slider = await slider_on(theirs)
            ref, _ = await theirs.update(slider["comm_id"], {"value": 9})
            refused = await theirs.refusal(ref)
            assert refused["reason"]
            # the owner's change still reaches the viewer
            await mine.update(slider["comm_id"], {"value": 5})
            await value_update(theirs, slider["comm_id"], 5)
            await run(huddle, kernel_id, room, doc, 1)
            assert printed(doc, 1) == "5\n"
            assert 9 not in updates_of(mine, slider["comm_id"], "value")
    finally:
        await stop_kernels(huddle)


async def test_bad_frames_are_refused_one_by_one(huddle, write_notebook):
    write_notebook("bad.ipynb", [SLIDER, "print(s.value)"])
    kernel_id = await start_kernel(huddle, "bad.ipynb")
    try:
        room, _ = await huddle.room_id("bad.ipynb")
        async with huddle.open("bad.ipynb") as doc, owner_page(huddle, room) as page, \
                owner_page(huddle, room) as other:
            await run(huddle, kernel_id, room, doc, 0)
            comm_id = (await slider_on(page))["comm_id"]
            await slider_on(other)
            msg_id = "a" * 32
            bad: list[tuple[int, dict[str, Any] | str]] = [
                (1, {"type": "send", "ref": 1, "msg_id": msg_id, "comm_id": comm_id,
                     "data": {"method": "update", "state": "not an object"}}),
                (2, {"type": "send", "ref": 2, "msg_id": 42, "comm_id": comm_id,
                     "data": {"method": "update", "state": {"value": 1}}}),
                (3, {"type": "send", "ref": 3, "msg_id": msg_id, "comm_id": "no-such-comm",
                     "data": {"method": "update", "state": {"value": 1}}}),
                (4, {"type": "comm_open", "ref": 4, "msg_id": msg_id, "comm_id": "mine",
                     "target_name": "jupyter.widget", "data": {"state": {}}}),
                (5, {"type": "send", "ref": 5, "msg_id": msg_id, "comm_id": comm_id,
                     "data": {"method": "comm_close"}}),
                (6, {"type": "send", "ref": 6, "msg_id": msg_id, "comm_id": comm_id,
                     "data": {"method": "echo_update", "state": {"value": 1}}}),
                (7, {"type": "send", "ref": 7, "msg_id": msg_id, "comm_id": comm_id,
                     "data": {"method": "update", "state": {"value": 1},
                              "padding": "x" * (MAX_MESSAGE_BYTES + 10)}}),
            ]
            for n, (_ref, message) in enumerate([*bad, (None, "{not json")], start=1):
                await page.send_raw(message if isinstance(message, str) else json.dumps(message))
                def refused(count: int = n) -> bool:
                    return len(page.of_type("refused")) == count
                await page.wait_for(refused, f"the refusal of {message!r:.80}")
                assert page.of_type("refused")[-1]["reason"]
            # (which ref each refusal names: test_a_refusal_names_the_pages_ref)
            assert page.of_type("refused")[2]["ref"] == 3  # the unknown comm
            assert not page.closed.is_set()
            # still connected, and nothing of it reached the kernel or the other page
            _ref, msg_id = await page.update(comm_id, {"value": 8})
            assert (await value_update(page, comm_id, 8))["parent_msg_id"] == msg_id
            await value_update(other, comm_id, 8)
            assert set(updates_of(other, comm_id, "value")) == {8}
            assert not other.of_type("refused")
            await run(huddle, kernel_id, room, doc, 1)
            assert printed(doc, 1) == "8\n"
            # over twice the bound, Tornado cuts the socket (1009); the other page stays
            await page.send_raw("x" * (2 * MAX_MESSAGE_BYTES + 1))
            assert await page.wait_closed() == 1009
            await other.update(comm_id, {"value": 2})
            await value_update(other, comm_id, 2)
    finally:
        await stop_kernels(huddle)


async def test_a_refusal_names_the_pages_ref(huddle, write_notebook):
    write_notebook("refs.ipynb")
    room, _ = await huddle.room_id("refs.ipynb")
    async with owner_page(huddle, room) as page:
        await page.snapshot()
        sends = [
            {"type": "send", "ref": 11, "msg_id": "not hex", "comm_id": "c", "data": {}},
            {"type": "send", "ref": 12, "msg_id": "a" * 32, "comm_id": "c",
             "data": {"method": "comm_close"}},
            {"type": "comm_open", "ref": 13, "comm_id": "c", "target_name": "jupyter.widget"},
        ]
        for message in sends:
            await page.send_raw(json.dumps(message))
        await page.wait_for(lambda: len(page.of_type("refused")) == len(sends), "refusals")
        assert [f["ref"] for f in page.of_type("refused")] == [11, 12, 13]


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "widget_message_burst": 3,
                                            "widget_messages_per_second": 0.5}])
async def test_a_flood_is_refused_then_cut_and_others_carry_on(huddle, write_notebook):
    write_notebook("flood.ipynb", [SLIDER])
    kernel_id = await start_kernel(huddle, "flood.ipynb")
    try:
        room, _ = await huddle.room_id("flood.ipynb")
        async with huddle.open("flood.ipynb") as doc, owner_page(huddle, room) as flooder, \
                owner_page(huddle, room) as other:
            await run(huddle, kernel_id, room, doc, 0)
            comm_id = (await slider_on(flooder))["comm_id"]
            await slider_on(other)
            for n in range(100):
                try:
                    await flooder.update(comm_id, {"value": n % 50})
                except websockets.ConnectionClosed:
                    break
            assert await flooder.wait_closed() == 1008, flooder.close_reason
            assert len(flooder.of_type("refused")) >= 3 * 4
            # the kernel, the room and the other page carry on
            await other.update(comm_id, {"value": 77})
            await value_update(other, comm_id, 77)
    finally:
        await stop_kernels(huddle)


async def test_binary_buffers_arrive_at_their_paths(huddle, write_notebook):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    other = b"\x89PNG\r\n\x1a\n" + b"second image"
    write_notebook("image.ipynb", [f"import ipywidgets as w; im = w.Image(value={png!r}); im",
                                   f"w.Image(value={other!r})"])
    kernel_id = await start_kernel(huddle, "image.ipynb")
    try:
        room, _ = await huddle.room_id("image.ipynb")
        async with huddle.open("image.ipynb") as doc, owner_page(huddle, room) as page:
            await run(huddle, kernel_id, room, doc, 0)
            opened = await page.frame("open", is_model("ImageModel"), "the image's open")
            assert opened["_binary"] is True
            assert ["value"] in opened["model"]["buffer_paths"]
            assert opened["model"]["state"]["value"] == png
            await run(huddle, kernel_id, room, doc, 1)
            await page.wait_for(lambda: len([f for f in page.of_type("open")
                                             if f["_binary"]]) == 2, "the second image")
            async with owner_page(huddle, room) as late:  # and both in one snapshot
                snapshot = await late.snapshot()
                assert snapshot["_binary"] is True
                values = {m["state"]["value"] for m in snapshot["models"]
                          if m["state"]["_model_name"] == "ImageModel"}
                assert values == {png, other}
    finally:
        await stop_kernels(huddle)


async def test_interact_output_goes_into_the_output_widget(huddle, write_notebook):
    write_notebook("interact.ipynb",
                   ["from ipywidgets import interact\n"
                    "interact(lambda x: print(x * 2), x=(0, 10))"])
    kernel_id = await start_kernel(huddle, "interact.ipynb")
    try:
        room, _ = await huddle.room_id("interact.ipynb")
        async with huddle.open("interact.ipynb") as doc, owner_page(huddle, room) as page:
            await run(huddle, kernel_id, room, doc, 0)
            slider = await slider_on(page)
            output = await page.model("OutputModel")
            cell_outputs = outputs(doc, 0)
            assert not [o for o in cell_outputs if o["output_type"] == "stream"], cell_outputs
            await page.update(slider["comm_id"], {"value": 4})
            captured = await page.frame(
                "update", lambda f: f["comm_id"] == output["comm_id"]
                and "8" in json.dumps(f["state"].get("outputs", [])),
                "the Output widget's outputs with 8")
            assert captured["state"]["outputs"][-1]["output_type"] == "stream"
            assert outputs(doc, 0) == cell_outputs  # nothing new in the cell
            # a widget message is not a run: nothing queued, the cell stays idle
            queue = json.loads((await huddle.request("GET", f"api/huddle/queue/{room}")).body)
            assert queue["queue"] == []
            assert [r["state"] for r in queue["history"]] == ["done"]
            assert doc.cells[0].get("execution_state") == "idle"
    finally:
        await stop_kernels(huddle)


async def test_a_restart_makes_every_page_dead(huddle, write_notebook):
    write_notebook("restart.ipynb", [SLIDER])
    kernel_id = await start_kernel(huddle, "restart.ipynb")
    try:
        runner, room, _ = await guest_in(huddle, "restart.ipynb", "runner", "Ru")
        async with huddle.open("restart.ipynb") as doc, owner_page(huddle, room) as mine, \
                guest_page(runner, room) as theirs:
            await run(huddle, kernel_id, room, doc, 0)
            await slider_on(mine)
            await slider_on(theirs)
            response = await huddle.request("POST", f"api/huddle/kernels/{kernel_id}/restart")
            assert response.code == 204, response.body
            for page in (mine, theirs):
                dead = await page.frame("dead")
                assert dead["reason"]
                assert page.models() == {}
    finally:
        await stop_kernels(huddle)


async def test_state_is_saved_into_the_notebook_and_its_html_export(
        huddle, write_notebook, jp_root_dir):
    write_notebook("saved.ipynb", [SLIDER])
    kernel_id = await start_kernel(huddle, "saved.ipynb")
    try:
        room, _ = await huddle.room_id("saved.ipynb")
        async with huddle.open("saved.ipynb") as doc, owner_page(huddle, room) as page:
            await run(huddle, kernel_id, room, doc, 0)
            comm_id = (await slider_on(page))["comm_id"]
            await page.update(comm_id, {"value": 11})
            await value_update(page, comm_id, 11)

            def saved_value() -> Any:
                nb = json.loads((jp_root_dir / "saved.ipynb").read_text())
                state = nb["metadata"].get("widgets", {}).get(WIDGET_STATE, {})
                model = state.get("state", {}).get(comm_id, {})
                return model.get("state", {}).get("value") == 11 and state

            saved = await eventually(saved_value, 20, "the slider's value in the file")
            assert saved["version_major"] == 2
            # the HTML export embeds the state, and the view refers to the saved model
            response = await huddle.request("GET", f"api/huddle/export/{room}?format=html")
            html = response.body.decode()
            assert f'<script type="{WIDGET_STATE}">' in html
            assert comm_id in html
            assert "application/vnd.jupyter.widget-view+json" in html
    finally:
        await stop_kernels(huddle)


async def test_anywidget_esm_and_custom_messages(huddle, write_notebook):
    write_notebook("any.ipynb", [
        "import anywidget, traitlets\n"
        "class C(anywidget.AnyWidget):\n"
        "    _esm = 'export default {render(){}}'\n"
        "    value = traitlets.Int(0).tag(sync=True)\n"
        "c = C(); c",
        "c.send({'x': 1})",
    ])
    kernel_id = await start_kernel(huddle, "any.ipynb")
    try:
        room, _ = await huddle.room_id("any.ipynb")
        async with huddle.open("any.ipynb") as doc, owner_page(huddle, room) as page:
            await run(huddle, kernel_id, room, doc, 0)
            model = await page.model("AnyModel")
            async with owner_page(huddle, room) as late:
                (snapshot_model,) = [m for m in (await late.snapshot())["models"]
                                     if m["comm_id"] == model["comm_id"]]
                assert "export default" in snapshot_model["state"]["_esm"]
            await run(huddle, kernel_id, room, doc, 1)
            custom = await page.frame("custom", lambda f: f["comm_id"] == model["comm_id"])
            assert custom["content"] == {"x": 1}
    finally:
        await stop_kernels(huddle)


@pytest.mark.parametrize("huddle_config", [{**BASE_CONFIG, "widgets_enabled": False}])
async def test_no_widget_socket_when_widgets_are_off(huddle, write_notebook):
    write_notebook("off.ipynb")
    room, _ = await huddle.room_id("off.ipynb")
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with owner_page(huddle, room):
            pass
    assert refused.value.response.status_code == 404


async def test_the_socket_needs_read_on_a_notebook(huddle, write_notebook):
    write_notebook("mine.ipynb")
    write_notebook("other.ipynb")
    guest, _room, _ = await guest_in(huddle, "mine.ipynb", "runner", "Ru")
    other, _ = await huddle.room_id("other.ipynb")
    for room, status in ((other, 403), ("json:notebook:a/b", 400), ("JupyterLab:x", 400)):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with guest_page(guest, room):
                pass
        assert refused.value.response.status_code == status, room
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with open_page(widgets_url(huddle.ws_url, other)):  # no login at all
            pass
    assert refused.value.response.status_code == 403


async def test_revoking_a_link_closes_its_widget_sockets(huddle, write_notebook):
    write_notebook("revoke.ipynb")
    guest, room, _ = await guest_in(huddle, "revoke.ipynb", "runner", "Ru")
    links = json.loads((await huddle.request("GET", f"api/huddle/links/{room}")).body)
    async with guest_page(guest, room) as theirs, owner_page(huddle, room) as mine:
        assert (await theirs.snapshot())["can_send"] is True
        await mine.snapshot()
        response = await huddle.request(
            "DELETE", f"api/huddle/links/{room}/{links['links'][0]['id']}")
        assert response.code == 200
        assert await theirs.wait_closed() == 4403, theirs.close_reason
        assert not mine.closed.is_set()
