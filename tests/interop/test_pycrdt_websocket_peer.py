"""Interop with a third-party Python peer: pycrdt's ``Provider`` over pycrdt-websocket's channel.

pycrdt-websocket 0.16 moved its client provider into pycrdt: ``pycrdt.Provider`` syncs a
``Doc`` through any ``pycrdt.Channel``, and pycrdt-websocket keeps the channel for httpx-ws
websockets (``pycrdt.websocket.websocket.HttpxWebsocket``). That pair is how pycrdt-websocket's
own tests connect a client, so it is the peer here, unchanged; each holds a jupyter_ydoc
``YNotebook`` on its doc. Nothing of ours is on its side of the wire but a tap on its channel.

The provider speaks only sync messages: it ignores presence and RAW messages and never sends
either, so it cannot ask for a save or see a refusal. The channel below notes the RAW frames
the provider passes over, so a test can wait for a refusal without the provider knowing of it.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import pytest

try:
    import httpx
    from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
    from jupyter_ydoc import YNotebook
    from pycrdt import Doc, Provider
    from pycrdt.websocket.websocket import HttpxWebsocket
except ImportError as missing:
    _why_not = (f"the pycrdt-websocket peer needs {missing.name}: "
                "pip install -e '.[test]' installs pycrdt-websocket and httpx-ws")
    # scripts/test.sh sets this: there a skip would hide a failure.
    if os.environ.get("HUDDLE_INTEROP_REQUIRED") == "1":
        pytest.fail(_why_not, pytrace=False)
    pytest.skip(_why_not, allow_module_level=True)

from tests.support.guests import guest_in
from tests.support.yclient import read_var_string

WAIT_S = 10
RAW = 2
EMOJI_TEXT = "héllo wörld 🎉 👩‍👩‍👧 中文 ✓"


class TappedChannel(HttpxWebsocket):
    """pycrdt-websocket's channel, telling ``on_frame`` of every frame it hands over and
    keeping the close code (the channel itself turns a close into the end of iteration)."""

    def __init__(self, websocket: Any, path: str, on_frame: Callable[[bytes], None],
                 on_close: Callable[[int], None]) -> None:
        super().__init__(websocket, path)
        self._on_frame = on_frame
        self._on_close = on_close

    async def recv(self) -> bytes:
        try:
            message = await super().recv()
        except WebSocketDisconnect as closed:
            self._on_close(closed.code)
            raise
        self._on_frame(message)
        return message


class PycrdtPeer:
    """What a peer's tests look at: its YNotebook, the RAW messages that reached it, and an
    event for every change to either."""

    def __init__(self) -> None:
        self.notebook = YNotebook(Doc())
        self.raw: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self._changed = asyncio.Event()

    @property
    def doc(self) -> Doc[Any]:
        return self.notebook.ydoc

    def source(self, index: int) -> str:
        return str(self.notebook.ycells[index]["source"])

    def on_frame(self, frame: bytes) -> None:
        if frame[:1] == bytes([RAW]):
            self.raw.append(json.loads(read_var_string(frame, 1)[0]))
            self._changed.set()

    def on_close(self, code: int) -> None:
        self.close_code = code
        self._changed.set()

    def on_change(self, _event: Any) -> None:
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:
        """Wait until ``predicate()`` holds, checking after each change to the doc or RAW."""
        async with asyncio.timeout(timeout):
            while True:
                self._changed.clear()
                if predicate():
                    return
                await self._changed.wait()


@asynccontextmanager
async def pycrdt_peer(url: str, headers: dict[str, str] | None = None
                      ) -> AsyncIterator[PycrdtPeer]:
    """Connect a peer to a room URL (http://…); yield it once synced; leave on exit, after
    what it has queued is sent."""
    peer = PycrdtPeer()
    subscription = peer.doc.observe(peer.on_change)
    path = url.split("?", 1)[0]
    try:
        # trust_env off: a proxy in the environment must not sit between the peer and us.
        # session_class is httpx-ws's default, named so that mypy can bind its type variable.
        async with (
            httpx.AsyncClient(trust_env=False) as client,
            aconnect_ws(url, client, headers=headers or {},
                        session_class=AsyncWebSocketSession) as websocket,
            Provider(peer.doc, TappedChannel(websocket, path, peer.on_frame,
                                             peer.on_close)) as provider,
        ):
            async with asyncio.timeout(WAIT_S):
                await provider.synced.wait()
            yield peer
    finally:
        peer.doc.unobserve(subscription)


def room_url(huddle: Any, room: str, session_id: str, token: str | None) -> str:
    query = f"sessionId={quote(session_id)}" + (f"&token={quote(token)}" if token else "")
    return f"{huddle.http_url}api/collaboration/room/{room}?{query}"


async def open_url(huddle: Any, path: str) -> str:
    """The room URL JupyterLab would open for ``path``, as the server's owner."""
    room, session_id = await huddle.room_id(path)
    return room_url(huddle, room, session_id, huddle.token)


def write_notebook_with_outputs(root: Path, path: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                  "language": "python"},
                   "huddle_test": {"nested": [1, 2.5, "ü"]}}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "x = 41\nx + 1", execution_count=3, metadata={"tags": ["answer"]},
            outputs=[nbformat.v4.new_output("execute_result", data={"text/plain": "42"},
                                            execution_count=3)]),
        nbformat.v4.new_markdown_cell(f"# Tïtle {EMOJI_TEXT}"),
        nbformat.v4.new_raw_cell("raw\tcontent"),
    ]
    nbformat.write(nb, str(root / path))
    return nb


def saved_notebook(root: Path, path: str) -> nbformat.NotebookNode:
    nb = nbformat.read(str(root / path), as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    return nb


# --- loading -------------------------------------------------------------------------------

async def test_pycrdt_peer_sees_the_notebook_written_to_disk(huddle):
    expected = write_notebook_with_outputs(Path(huddle.root), "disk.ipynb")
    async with pycrdt_peer(await open_url(huddle, "disk.ipynb")) as peer:
        notebook = peer.notebook.get()
        assert notebook["metadata"] == expected.metadata
        assert (notebook["nbformat"], notebook["nbformat_minor"]) == (4, 5)
        assert peer.notebook.path == "disk.ipynb"
        assert len(notebook["cells"]) == len(expected.cells)
        for got, want in zip(notebook["cells"], expected.cells, strict=True):
            assert (got["id"], got["cell_type"], got["source"]) == (
                want.id, want.cell_type, want.source)
            assert {k: v for k, v in got["metadata"].items() if k != "trusted"} == want.metadata
        assert notebook["cells"][0]["execution_count"] == 3
        assert notebook["cells"][0]["outputs"] == expected.cells[0].outputs


# --- editing -------------------------------------------------------------------------------

async def test_pycrdt_peer_edits_reach_our_client_and_the_file(huddle, write_notebook):
    write_notebook("peer_edits.ipynb", ["start"])
    async with (pycrdt_peer(await open_url(huddle, "peer_edits.ipynb")) as peer,
                huddle.open("peer_edits.ipynb") as client):
        source = peer.notebook.ycells[0]["source"]
        source += " " + EMOJI_TEXT
        source.insert(0, "# ✍ ")
        peer.notebook.append_cell({"cell_type": "markdown", "source": "## Résumé ✨",
                                   "metadata": {"tags": ["from-pycrdt"]}})
        expected = "# ✍ start " + EMOJI_TEXT
        await client.wait_for(lambda: len(client.cells) == 2
                              and str(client.source(0)) == expected)
        assert str(client.source(1)) == "## Résumé ✨"
        added_id = client.cells[1]["id"]
        assert await client.save() == "success"

    saved = saved_notebook(Path(huddle.root), "peer_edits.ipynb")
    assert [c.source for c in saved.cells] == [expected, "## Résumé ✨"]
    assert saved.cells[1].cell_type == "markdown"
    assert saved.cells[1].id == added_id
    assert saved.cells[1].metadata == {"tags": ["from-pycrdt"]}
    assert "execution_state" not in saved.cells[0]


async def test_our_clients_edits_reach_the_pycrdt_peer(huddle, write_notebook):
    write_notebook("our_edits.ipynb", ["a = 1"])
    async with (huddle.open("our_edits.ipynb") as client,
                pycrdt_peer(await open_url(huddle, "our_edits.ipynb")) as peer):
        source = client.source(0)
        source += "  # ünïcode 🐍"
        # A whole cell too, built by jupyter_ydoc on our client's doc.
        YNotebook(client.doc).append_cell({"cell_type": "code", "source": "print('中文')",
                                           "metadata": {}, "outputs": []})
        await peer.wait_for(lambda: peer.notebook.cell_number == 2
                            and peer.source(0) == "a = 1  # ünïcode 🐍")
        cell = peer.notebook.get_cell(1)
        assert (cell["cell_type"], cell["source"]) == ("code", "print('中文')")
        assert cell["id"] == client.cells[1]["id"]


async def test_two_pycrdt_peers_converge_on_concurrent_typing(huddle, write_notebook):
    write_notebook("race.ipynb", ["mid"])
    url = await open_url(huddle, "race.ipynb")
    async with (pycrdt_peer(url) as first, pycrdt_peer(url) as second,
                huddle.open("race.ipynb") as client):
        parts = ["⟨first é⟩", "⟨second 🎈⟩"]
        # Both type before either has received the other's edit: at the same position, and
        # one of them at the end too.
        first_text, second_text = (peer.notebook.ycells[0]["source"] for peer in (first, second))
        first_text.insert(0, parts[0])
        second_text.insert(0, parts[1])
        first_text += "!end"

        def complete(text: str) -> bool:
            return all(p in text for p in [*parts, "!end"])

        await first.wait_for(lambda: complete(first.source(0)))
        final = first.source(0)
        await second.wait_for(lambda: second.source(0) == final)
        await client.wait_for(lambda: str(client.source(0)) == final)
        assert final.endswith("mid!end")
        assert sorted(final.removesuffix("mid!end").split("⟩")[:-1]) == sorted(
            p.removesuffix("⟩") for p in parts)


# --- rights --------------------------------------------------------------------------------

async def test_read_only_pycrdt_peer_sees_edits_and_its_writes_are_refused(
        huddle, write_notebook):
    write_notebook("viewed.ipynb", ["shared = True"])
    guest, room, session_id = await guest_in(huddle, "viewed.ipynb", "viewer", "Vera")
    viewer_url = room_url(huddle, room, session_id, token=None)
    async with (huddle.open("viewed.ipynb") as owner,
                pycrdt_peer(viewer_url, {"Cookie": guest.cookie_header()}) as viewer):
        assert viewer.source(0) == "shared = True"
        # The viewer types and adds a cell: the server applies neither and says so.
        viewer.notebook.ycells[0]["source"].insert(len("shared = True"), "; rm -rf ~")
        viewer.notebook.append_cell({"cell_type": "code", "source": "evil()",
                                     "metadata": {}, "outputs": []})
        await viewer.wait_for(lambda: any(r.get("reason") == "read_only" for r in viewer.raw))
        assert viewer.close_code is None  # refused, not disconnected

        # The owner's edit reaches the viewer, beside its own refused text (which only its
        # copy holds: a CRDT does not take back a local edit).
        owner.source(0).insert(0, "# owner ✓\n")
        await viewer.wait_for(
            lambda: viewer.source(0) == "# owner ✓\nshared = True; rm -rf ~")
        assert str(owner.source(0)) == "# owner ✓\nshared = True"
        assert len(owner.cells) == 1
        assert await owner.save() == "success"

    saved = saved_notebook(Path(huddle.root), "viewed.ipynb")
    assert [c.source for c in saved.cells] == ["# owner ✓\nshared = True"]
