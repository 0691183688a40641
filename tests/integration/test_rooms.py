"""Rooms over real websockets: sync, saving, presence and close codes, as JupyterLab sees them."""

from __future__ import annotations

import asyncio
import json
import re

import nbformat
import pytest
from pycrdt import Map, Text

from tests.support.waiting import eventually
from tests.support.yclient import awareness_update


def read_nb(root, path):
    return nbformat.read(str(root / path), as_version=4)


async def contents_hash(huddle, path):
    response = await huddle.request("GET", f"api/contents/{path}?content=0&hash=1")
    return json.loads(response.body)["hash"]


async def test_two_clients_converge_and_state_is_set(huddle, write_notebook):
    write_notebook("a.ipynb", ["x = 1", "y = 2"])
    async with huddle.open("a.ipynb") as a, huddle.open("a.ipynb") as b:
        assert a.state.get("path") == "a.ipynb"
        assert a.state.get("dirty") is False
        assert a.state.get("hash") == await contents_hash(huddle, "a.ipynb")
        assert [str(c["source"]) for c in b.cells] == ["x = 1", "y = 2"]
        a.source(0).insert(0, "# é\n")
        b.source(0).insert(len(str(b.source(0)).encode()), "  # b")
        await a.wait_for(lambda: str(a.source(0)) == str(b.source(0)) and "# b" in str(a.source(0)))
        await b.wait_for(lambda: str(b.source(0)).startswith("# é"))
        assert str(a.source(0)) == str(b.source(0))


async def test_ten_clients_typing_in_one_cell_converge(huddle, write_notebook):
    write_notebook("ten.ipynb", [""])
    room, session = await huddle.room_id("ten.ipynb")
    clients = [huddle.client(room, session) for _ in range(10)]
    for c in clients:
        await c.connect()
    try:
        async with asyncio.timeout(20):
            await asyncio.gather(*(c.synced.wait() for c in clients))
        for round_ in range(5):
            for i, c in enumerate(clients):
                c.source(0).insert(0, f"<{i}.{round_}>")
        expected_len = sum(len(f"<{i}.{r}>") for i in range(10) for r in range(5))
        for c in clients:
            await c.wait_for(lambda c=c: len(str(c.source(0))) == expected_len, timeout=20)
        texts = {str(c.source(0)) for c in clients}
        assert len(texts) == 1
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_save_reply_comes_after_file_is_on_disk(huddle, write_notebook, jp_root_dir):
    write_notebook("s.ipynb", ["old"])
    async with huddle.open("s.ipynb") as client:
        client.source(0).insert(0, "new ")
        assert await client.save(request_id=3) == "success"
        assert read_nb(jp_root_dir, "s.ipynb").cells[0].source == "new old"
        await client.wait_for(lambda: client.state.get("dirty") is False)
        await client.wait_for(lambda: client.state.get("hash") is not None)
        assert client.state.get("hash") == await contents_hash(huddle, "s.ipynb")


async def test_autosave_writes_valid_nbformat_with_ints(huddle, write_notebook, jp_root_dir):
    write_notebook("auto.ipynb", ["1+1"], execution_count=4)
    async with huddle.open("auto.ipynb") as client:
        client.source(0).insert(0, "a = ")
        client.state["dirty"] = True  # what JupyterLab does on an edit

        def saved() -> bool:
            return read_nb(jp_root_dir, "auto.ipynb").cells[0].source == "a = 1+1"

        await client.wait_for(lambda: client.state.get("dirty") is False and saved(), timeout=10)
    raw = json.loads((jp_root_dir / "auto.ipynb").read_text())
    nbformat.validate(raw)
    assert raw["cells"][0]["execution_count"] == 4
    assert isinstance(raw["nbformat"], int)
    assert "execution_state" not in raw["cells"][0]


async def test_untouched_metadata_is_preserved(huddle, jp_root_dir):
    nb = nbformat.v4.new_notebook(metadata={"nbgrader": {"points": 2, "weight": 1.0},
                                            "widgets": {"state": {"m": {"v": [1, 2.5]}}}})
    nb.cells = [nbformat.v4.new_markdown_cell("text", attachments={"x.png": {"image/png": "AA=="}}),
                nbformat.v4.new_code_cell("1", metadata={"tags": ["keep"], "custom": {"n": 3}})]
    nbformat.write(nb, str(jp_root_dir / "meta.ipynb"))
    before = json.loads((jp_root_dir / "meta.ipynb").read_text())
    async with huddle.open("meta.ipynb") as client:
        client.source(1).insert(0, "x = ")
        assert await client.save() == "success"
    after = json.loads((jp_root_dir / "meta.ipynb").read_text())
    # what Huddle adds of its own: since when the notebook has versions (docs/HISTORY.md)
    assert set(after["metadata"].pop("huddle")) == {"history"}
    assert after["metadata"] == before["metadata"]
    assert after["cells"][0] == before["cells"][0]
    assert after["cells"][1]["metadata"] == before["cells"][1]["metadata"]
    assert after["cells"][1]["source"] == ["x = 1"]


async def test_text_files_sync_and_keep_crlf(huddle, jp_root_dir):
    (jp_root_dir / "notes.txt").write_bytes(b"one\r\ntwo\r\n")
    async with huddle.open("notes.txt", "text", "file") as client:
        assert str(client.text) == "one\ntwo\n"
        client.text.insert(0, "zero\n")
        assert await client.save() == "success"
    assert (jp_root_dir / "notes.txt").read_bytes() == b"zero\r\none\r\ntwo\r\n"


async def test_empty_notebook_opens_with_one_cell(huddle, jp_root_dir):
    nbformat.write(nbformat.v4.new_notebook(), str(jp_root_dir / "empty.ipynb"))
    async with huddle.open("empty.ipynb") as client:
        assert len(client.cells) == 1


async def test_presence_relayed_and_removed_when_a_socket_closes(huddle, write_notebook):
    write_notebook("p.ipynb")
    async with huddle.open("p.ipynb") as watcher:
        async with huddle.open("p.ipynb") as other:
            await other.send(awareness_update(777, 1, {"user": {"name": "Other"}}))
            await watcher.wait_for(lambda: 777 in watcher.awareness)
        # no removal message was sent by "other": the server must tell the watcher
        await watcher.wait_for(lambda: 777 not in watcher.awareness, timeout=5)


async def test_unknown_session_is_told_to_reload(huddle, write_notebook):
    write_notebook("r.ipynb")
    room, _ = await huddle.room_id("r.ipynb")
    for session in ("stale-session", None):
        client = huddle.client(room, session)
        await client.connect()
        code, reason = await client.wait_closed()
        assert code == 1003
        payload = json.loads(reason)
        assert payload["reason"] == "unknown_session"
        assert payload["reloadable"] is True


async def wait_evicted(rooms) -> None:
    await eventually(lambda: not len(rooms), 10, "every room to be evicted")


async def test_client_of_an_evicted_room_merges_its_offline_edits_once(huddle, write_notebook):
    """A laptop that slept while its room was evicted comes back: the room reloads the same
    history from the store, so its offline edit merges once and nothing is duplicated."""
    write_notebook("sleep.ipynb", ["a", "b"])
    rooms = huddle.extension.rooms
    room, session = await huddle.room_id("sleep.ipynb")
    sleeper = huddle.client(room, session)
    await sleeper.connect()
    await sleeper.synced.wait()
    await sleeper.close()
    await wait_evicted(rooms)
    sleeper.source(0).insert(0, "offline ")
    await sleeper.connect()
    async with huddle.open("sleep.ipynb") as other:
        await other.wait_for(lambda: str(other.source(0)) == "offline a")
        assert [str(c["source"]) for c in other.cells] == ["offline a", "b"]
        assert [str(c["source"]) for c in sleeper.cells] == ["offline a", "b"]
    await sleeper.close()


async def test_client_of_a_rebuilt_history_must_reload_not_duplicate(huddle, write_notebook):
    """When the stored history is gone (store deleted or corrupt), the room is rebuilt from
    the file with a new epoch: an old tab is told to reload instead of doubling every cell."""
    write_notebook("lost.ipynb", ["a", "b"])
    rooms = huddle.extension.rooms
    room, session = await huddle.room_id("lost.ipynb")
    sleeper = huddle.client(room, session)
    await sleeper.connect()
    await sleeper.synced.wait()
    await sleeper.close()
    await wait_evicted(rooms)
    await rooms.store.delete(room)
    sleeper.source(0).insert(0, "offline ")
    await sleeper.connect()
    code, reason = await sleeper.wait_closed()
    assert code == 1003
    assert json.loads(reason)["reason"] == "unknown_session"
    async with huddle.open("lost.ipynb") as fresh:
        assert [str(c["source"]) for c in fresh.cells] == ["a", "b"]


async def test_missing_and_broken_files_close_with_4xxx(huddle, write_notebook, jp_root_dir):
    write_notebook("gone.ipynb")
    room, session = await huddle.room_id("gone.ipynb")
    (jp_root_dir / "gone.ipynb").unlink()
    client = huddle.client(room, session)
    await client.connect()
    assert (await client.wait_closed())[0] == 4404

    (jp_root_dir / "broken.ipynb").write_text("{not json")
    room, session = await huddle.room_id("broken.ipynb")
    client = huddle.client(room, session)
    await client.connect()
    code, reason = await client.wait_closed()
    assert code == 4400
    assert len(reason.encode()) <= 123

    client = huddle.client("json:notebook:no-such-id", session)
    await client.connect()
    assert (await client.wait_closed())[0] == 4404
    assert len(huddle.extension.rooms) == 0


async def test_global_awareness_room_needs_no_session(huddle):
    async with huddle.client("JupyterLab:globalAwareness", None) as a, \
            huddle.client("JupyterLab:globalAwareness", None) as b:
        await a.synced.wait()
        await a.send(awareness_update(5, 1, {"user": {"name": "A"}, "current": None}))
        await b.wait_for(lambda: 5 in b.awareness)


async def test_rename_updates_state_path(huddle, write_notebook):
    write_notebook("old.ipynb")
    async with huddle.open("old.ipynb") as client:
        response = await huddle.request("PATCH", "api/contents/old.ipynb", {"path": "new.ipynb"})
        assert response.code == 200
        await client.wait_for(lambda: client.state.get("path") == "new.ipynb", timeout=5)
        client.source(0).insert(0, "moved = ")
        assert await client.save() == "success"


async def test_last_leave_flushes_and_room_is_evicted(huddle, write_notebook, jp_root_dir):
    write_notebook("evict.ipynb", ["x"])
    rooms = huddle.extension.rooms
    async with huddle.open("evict.ipynb") as client:
        client.source(0).insert(0, "y")
        await client.wait_for(lambda: len(rooms) == 1)
    await wait_evicted(rooms)
    assert read_nb(jp_root_dir, "evict.ipynb").cells[0].source == "yx"


async def test_failed_save_is_reported_and_retried(huddle, write_notebook, jp_root_dir):
    write_notebook("dir/f.ipynb", ["x"])
    async with huddle.open("dir/f.ipynb") as client:
        # Make the path unwritable for real (even for root): its folder becomes a file.
        (jp_root_dir / "dir").rename(jp_root_dir / "dir.moved")
        (jp_root_dir / "dir").write_text("not a folder")
        client.source(0).insert(0, "lost? ")

        assert await client.save(request_id=1) == "failed"
        # every peer is told why (the web app shows "Save failed: ...")
        await client.wait_for(lambda: bool(client.state.get("save_error")))
        assert "dir/f.ipynb" in client.state.get("save_error")
        # Restore the folder: the autosave retry writes the edit.
        (jp_root_dir / "dir").unlink()
        (jp_root_dir / "dir.moved").rename(jp_root_dir / "dir")
        await client.wait_for(
            lambda: read_nb(jp_root_dir, "dir/f.ipynb").cells[0].source == "lost? x", timeout=15)
        await client.wait_for(lambda: client.state.get("save_error") is None)


async def test_cells_from_clients_keep_jupyterlab_schema(huddle, write_notebook, jp_root_dir):
    write_notebook("schema.ipynb", ["a"])
    async with huddle.open("schema.ipynb") as client:
        with client.doc.transaction():
            client.cells.append(Map({
                "id": "new-cell", "cell_type": "markdown", "source": Text("**b**"),
                "metadata": Map({}),
            }))
        assert await client.save() == "success"
    nb = read_nb(jp_root_dir, "schema.ipynb")
    assert [c.cell_type for c in nb.cells] == ["code", "markdown"]
    assert nb.cells[1].id == "new-cell"


@pytest.mark.parametrize(("fmt", "needle", "mime"), [
    ("ipynb", '"live edit = 1"', "application/x-ipynb+json"),
    ("html", ">live<", "text/html"),  # syntax-highlighted: one token per span
    ("markdown", "live edit = 1", "text/markdown"),
    ("python", "live edit = 1", "text/x-python"),
])
async def test_export_converts_the_live_document(huddle, write_notebook, jp_root_dir, fmt,
                                                 needle, mime):
    write_notebook("exp.ipynb", ["x"])
    room, _ = await huddle.room_id("exp.ipynb")
    async with huddle.open("exp.ipynb") as client, huddle.open("exp.ipynb") as witness:
        with client.doc.transaction():
            text = client.source(0)
            del text[0:1]
            text.insert(0, "live edit = 1")
        await witness.wait_for(lambda: str(witness.source(0)) == "live edit = 1")
        response = await huddle.request("GET", f"api/huddle/export/{room}?format={fmt}")
        assert response.code == 200
        assert response.headers["Content-Type"].startswith(mime)
        assert "exp." in response.headers["Content-Disposition"]
        assert needle in response.body.decode()
    bad = await huddle.request("GET", f"api/huddle/export/{room}?format=pdf")
    assert bad.code == 400


async def test_html_export_loads_nothing_from_the_network(huddle, jp_root_dir):
    """The HTML export opens offline: nbconvert's lab template would load require.js,
    MathJax, the widget manager and Mermaid from CDNs; none of those scripts is left."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "version_minor": 0}}
    nb.cells = [nbformat.v4.new_markdown_cell("# Offline $e^{i\\pi}$"),
                nbformat.v4.new_code_cell("print('offline')", outputs=[
                    nbformat.v4.new_output("stream", name="stdout", text="offline\n")])]
    nbformat.write(nb, str(jp_root_dir / "offline.ipynb"))
    room, _ = await huddle.room_id("offline.ipynb")
    async with huddle.open("offline.ipynb"):
        response = await huddle.request("GET", f"api/huddle/export/{room}?format=html")
    assert response.code == 200
    body = response.body.decode()
    assert "Offline" in body
    assert "<style" in body  # the lab template's CSS, inlined
    loads = r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?([^\"'\s>]+)"
    fetched = re.findall(loads, body, flags=re.IGNORECASE)
    assert not [url for url in fetched if not url.startswith(("data:", "#"))], fetched
    for cdn in ("cdnjs", "unpkg.com", "jsdelivr", "require.js", "MathJax.js", "embed-amd"):
        assert cdn not in body, cdn
