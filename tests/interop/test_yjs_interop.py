"""Interop with the real JavaScript stack JupyterLab runs: yjs, y-websocket and @jupyter/ydoc.

Each test starts ``peer.mjs`` (a Node process) and drives it over stdin/stdout with JSON
lines; the Node peer holds its document in @jupyter/ydoc's YNotebook or YFile, exactly as
JupyterLab's docprovider does, and talks to the server through y-websocket's
``WebsocketProvider``. A pycrdt ``YClient`` is the second party where one is needed, so every
edit crosses the server between two independent CRDT implementations.

Run ``npm ci --prefix tests/interop`` first; without ``node_modules`` the module is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.support.yclient import awareness_update

HERE = Path(__file__).parent
PEER_SCRIPT = HERE / "peer.mjs"
NODE = shutil.which("node")
REQUIRED_PACKAGES = ("yjs", "y-websocket", "ws", "lib0", "@jupyter/ydoc")
_missing = [name for name in REQUIRED_PACKAGES if not (HERE / "node_modules" / name).is_dir()]

_why_not = (
    "interop tests need Node.js (`node` is not on PATH)" if NODE is None
    else f"interop tests need the Node packages {', '.join(_missing)}: "
    "run `npm ci --prefix tests/interop`" if _missing
    else ""
)
if _why_not:
    # scripts/test.sh installs the peers and sets this: there a skip would hide a failure.
    if os.environ.get("HUDDLE_INTEROP_REQUIRED") == "1":
        pytest.fail(_why_not, pytrace=False)
    pytest.skip(_why_not, allow_module_level=True)

# Every wait inside Node has its own timeout (NODE_WAIT_MS); the Python side waits a little
# longer, so a stuck wait is reported by Node with what it was waiting for.
NODE_WAIT_MS = 10_000
ANSWER_TIMEOUT_S = NODE_WAIT_MS / 1000 + 5
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 5

EMOJI_TEXT = "héllo wörld 🎉 👩‍👩‍👧 中文 ✓"


class NodePeerError(AssertionError):
    """The Node peer answered a command with an error, or died."""


class NodePeer:
    """A Node process running ``peer.mjs``; ``call`` sends one command and awaits its answer."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.client_id: int | None = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._stderr: list[str] = []
        self._ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[0] = self._ready
        self._reader = asyncio.create_task(self._read_answers())
        self._stderr_reader = asyncio.create_task(self._read_stderr())

    @classmethod
    async def start(cls) -> NodePeer:
        assert NODE is not None
        process = await asyncio.create_subprocess_exec(
            NODE, str(PEER_SCRIPT), cwd=HERE,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=64 * 1024 * 1024,
        )
        peer = cls(process)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await peer._ready
        except BaseException:
            await peer.stop()
            raise
        return peer

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    async def _read_answers(self) -> None:
        assert self.process.stdout is not None
        try:
            async for line in self.process.stdout:
                answer = json.loads(line)
                future = self._pending.pop(answer.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(answer)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(NodePeerError(
                        f"the Node peer exited (code {self.process.returncode}) before "
                        f"answering; stderr:\n{self.stderr}"))
            self._pending.clear()

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self._stderr.append(line.decode("utf-8", "replace"))

    async def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send a command; return its answer, or raise NodePeerError with the reason."""
        assert self.process.stdin is not None
        if self.process.returncode is not None or self._reader.done():
            raise NodePeerError(f"the Node peer has exited (code {self.process.returncode}); "
                                f"stderr:\n{self.stderr}")
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self.process.stdin.write(json.dumps({"id": request_id, "cmd": cmd, **args}).encode()
                                 + b"\n")
        await self.process.stdin.drain()
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                answer = await future
        except TimeoutError:
            raise NodePeerError(f"no answer to {cmd} within {ANSWER_TIMEOUT_S} s; stderr:\n"
                                f"{self.stderr}") from None
        if not answer["ok"]:
            raise NodePeerError(f"{cmd} failed: {answer['error']}")
        return answer

    async def connect(self, huddle: Any, room: str, session_id: str | None,
                      kind: str = "notebook", token: str | None = "default") -> dict[str, Any]:
        answer = await self.call(
            "connect", serverUrl=f"{huddle.ws_url}api/collaboration/room", room=room,
            sessionId=session_id, token=huddle.token if token == "default" else token,
            kind=kind, timeoutMs=NODE_WAIT_MS)
        self.client_id = answer["clientId"]
        return answer

    async def open(self, huddle: Any, path: str, fmt: str = "json",
                   doc_type: str = "notebook") -> dict[str, Any]:
        """Do what JupyterLab does to open a document: the session PUT, then the room."""
        room, session_id = await huddle.room_id(path, fmt, doc_type)
        return await self.connect(huddle, room, session_id,
                                  kind="notebook" if doc_type == "notebook" else "file")

    async def kill(self) -> None:
        """Die without leaving the room: no awareness removal, no close handshake."""
        if self.process.returncode is None:
            self.process.kill()
        await self._wait_exit()

    async def stop(self) -> None:
        """Close stdin (the peer leaves its room and exits); kill it if it does not."""
        if self.process.returncode is None and self.process.stdin is not None:
            with contextlib.suppress(ConnectionError):
                self.process.stdin.close()
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
        await self._wait_exit()

    async def _wait_exit(self) -> None:
        await self.process.wait()
        await asyncio.gather(self._reader, self._stderr_reader, return_exceptions=True)


StartPeer = Callable[[], Awaitable[NodePeer]]


@pytest.fixture
def node_peer(huddle: Any, jp_asyncio_loop: asyncio.AbstractEventLoop) -> Iterator[StartPeer]:
    """Start Node peers with ``await node_peer()``; all are stopped after the test, before
    the server (this fixture depends on ``huddle``, so it is torn down first)."""
    peers: list[NodePeer] = []

    async def start() -> NodePeer:
        peer = await NodePeer.start()
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        jp_asyncio_loop.run_until_complete(peer.stop())


def write_rich_notebook(root: Path, path: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.0"},
        "huddle_test": {"nested": [1, 2.5, "ü"], "flag": True},
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            "x = 41\nx + 1", execution_count=3, metadata={"tags": ["answer"]},
            outputs=[
                nbformat.v4.new_output("stream", name="stdout", text="computing…\n"),
                nbformat.v4.new_output("execute_result", data={"text/plain": "42"},
                                       execution_count=3),
            ],
        ),
        nbformat.v4.new_markdown_cell("# Tïtle 🎉\n\n*emphasis*"),
        nbformat.v4.new_raw_cell("raw\tcontent"),
        nbformat.v4.new_code_cell(""),
    ]
    nbformat.write(nb, str(root / path))
    return nb


def read_saved_notebook(root: Path, path: str) -> nbformat.NotebookNode:
    nb = nbformat.read(str(root / path), as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    return nb


async def contents_hash(huddle: Any, path: str) -> str:
    response = await huddle.request("GET", f"api/contents/{path}?content=0&hash=1")
    assert response.code == 200, response.body
    return str(json.loads(response.body)["hash"])


# --- loading -------------------------------------------------------------------------------

async def test_node_client_sees_the_notebook_loaded_from_disk(huddle, node_peer):
    expected = write_rich_notebook(Path(huddle.root), "rich.ipynb")
    peer = await node_peer()
    await peer.open(huddle, "rich.ipynb")

    answer = await peer.call("read")
    notebook, state, types = answer["notebook"], answer["state"], answer["types"]

    assert (notebook["nbformat"], notebook["nbformat_minor"]) == (4, 5)
    assert types["nbformat"] == types["nbformat_minor"] == "number"
    assert types["execution_count"] == ["number", None, None, "object"]  # 3, -, -, null
    assert notebook["metadata"] == expected.metadata
    assert state["path"] == "rich.ipynb"
    assert len(notebook["cells"]) == len(expected.cells)
    for got, want in zip(notebook["cells"], expected.cells, strict=True):
        assert got["id"] == want.id
        assert got["cell_type"] == want.cell_type
        assert got["source"] == want.source
        assert {k: v for k, v in got["metadata"].items() if k != "trusted"} == want.metadata
        if want.cell_type == "code":
            assert got["execution_count"] == want.execution_count
            assert got["outputs"] == want.outputs
    assert isinstance(notebook["cells"][0]["execution_count"], int)


async def test_node_and_python_clients_hold_the_same_document(huddle, node_peer):
    write_rich_notebook(Path(huddle.root), "same.ipynb")
    peer = await node_peer()
    await peer.open(huddle, "same.ipynb")
    async with huddle.open("same.ipynb") as client:
        node_view = (await peer.call("read"))["notebook"]
        assert [c["source"] for c in node_view["cells"]] == [
            str(client.source(i)) for i in range(len(client.cells))]
        assert [c["id"] for c in node_view["cells"]] == [c["id"] for c in client.cells]


# --- editing -------------------------------------------------------------------------------

async def test_edits_flow_both_ways_in_one_cell(huddle, node_peer, write_notebook):
    write_notebook("edit.ipynb", ["start"])
    peer = await node_peer()
    await peer.open(huddle, "edit.ipynb")
    async with huddle.open("edit.ipynb") as client:
        # Node types at the end of cell 0: Python sees it.
        await peer.call("insertText", cell=0, index=-1, text=" " + EMOJI_TEXT)
        expected = "start " + EMOJI_TEXT
        await client.wait_for(lambda: str(client.source(0)) == expected)

        # Python types at the end: Node sees it, after the emoji (offsets agree).
        source = client.source(0)
        source += " 🐍 ñ"
        expected += " 🐍 ñ"
        await peer.call("waitText", cell=0, equals=expected, timeoutMs=NODE_WAIT_MS)

        # Node types in the middle, after the multi-unit emoji (a UTF-16 offset).
        offset = len(("start " + EMOJI_TEXT).encode("utf-16-le")) // 2
        await peer.call("insertText", cell=0, index=offset, text="|🧪|")
        expected = "start " + EMOJI_TEXT + "|🧪|" + " 🐍 ñ"
        await client.wait_for(lambda: str(client.source(0)) == expected)
        assert (await peer.call("read"))["notebook"]["cells"][0]["source"] == expected


async def test_concurrent_edits_converge(huddle, node_peer, write_notebook):
    write_notebook("race.ipynb", ["mid"])
    first, second = await node_peer(), await node_peer()
    await first.open(huddle, "race.ipynb")
    await second.open(huddle, "race.ipynb")
    async with huddle.open("race.ipynb") as client:
        parts = ["⟨node-1 é⟩", "⟨node-2 🎈⟩", "⟨python 中⟩"]
        # Three writers at the same position and at the ends, without waiting for each other.
        source = client.source(0)
        source.insert(0, parts[2])
        await asyncio.gather(
            first.call("insertText", cell=0, index=0, text=parts[0]),
            second.call("insertText", cell=0, index=0, text=parts[1]),
            first.call("insertText", cell=0, index=-1, text="!end"),
        )
        await client.wait_for(
            lambda: all(p in str(client.source(0)) for p in [*parts, "!end"]))
        final = str(client.source(0))
        for peer in (first, second):
            answer = await peer.call("waitText", cell=0, equals=final, timeoutMs=NODE_WAIT_MS)
            assert answer["source"] == final
        assert final.endswith("mid!end")
        assert sorted(final.removesuffix("mid!end").split("⟩")[:-1]) == sorted(
            p.removesuffix("⟩") for p in parts)


async def test_cell_inserted_through_jupyter_ydoc_is_saved_as_valid_nbformat(
        huddle, node_peer, write_notebook):
    write_notebook("cells.ipynb", ["print('first')"])
    peer = await node_peer()
    await peer.open(huddle, "cells.ipynb")
    async with huddle.open("cells.ipynb") as client:
        markdown = await peer.call("insertCell", index=1, cell={
            "cell_type": "markdown", "source": "## Résumé ✨", "metadata": {"tags": ["new"]}})
        code = await peer.call("insertCell", index=2, cell={
            "cell_type": "code", "source": "1 + 1", "metadata": {}})
        raw = await peer.call("insertCell", index=0, cell={"cell_type": "raw", "source": ""})
        assert code["cellCount"] == 3
        assert raw["cellCount"] == 4
        await client.wait_for(lambda: len(client.cells) == 4)

        # Python types into the new code cell, then Node asks for a save.
        await peer.call("insertText", cell=3, index=-1, text="  # 🧮")
        await client.wait_for(lambda: str(client.source(3)) == "1 + 1  # 🧮")
        save = await peer.call("save")
        assert save["reply"] == {"type": "save", "responseTo": save["requestId"],
                                 "status": "success"}

    saved = read_saved_notebook(Path(huddle.root), "cells.ipynb")
    assert [c.cell_type for c in saved.cells] == ["raw", "code", "markdown", "code"]
    assert [c.source for c in saved.cells] == ["", "print('first')", "## Résumé ✨",
                                               "1 + 1  # 🧮"]
    assert saved.cells[2].id == markdown["cellId"]
    assert saved.cells[3].id == code["cellId"]
    assert saved.cells[0].id == raw["cellId"]
    assert saved.cells[2].metadata == {"tags": ["new"]}
    assert saved.cells[3].execution_count is None
    assert saved.cells[3].outputs == []
    assert "execution_state" not in saved.cells[3]
    assert len({c.id for c in saved.cells}) == 4


# --- saving --------------------------------------------------------------------------------

# Autosave far away: only the RAW save request can put the edit on disk in time.
@pytest.mark.parametrize("huddle_config", [
    {"save_delay_s": 30.0, "max_save_delay_s": 60.0, "room_cleanup_delay_s": 0.5},
])
async def test_raw_save_replies_success_once_the_file_is_on_disk(
        huddle, node_peer, write_notebook):
    write_notebook("save.ipynb", ["a = 1"])
    peer = await node_peer()
    await peer.open(huddle, "save.ipynb")
    await peer.call("insertText", cell=0, index=-1, text="  # sauvé 💾")

    # The edit and the save request travel on the same socket, in that order.
    save = await peer.call("save")
    assert save["reply"] == {"type": "save", "responseTo": 1, "status": "success"}
    on_disk = read_saved_notebook(Path(huddle.root), "save.ipynb")
    assert on_disk.cells[0].source == "a = 1  # sauvé 💾"

    # The server records the save in the shared state, before replying: the hash is what the
    # contents API reports, so JupyterLab does not think the file changed under it.
    state = (await peer.call("read"))["state"]
    assert state["dirty"] is False
    assert state["hash"] == await contents_hash(huddle, "save.ipynb")

    # Save ids count up per provider; each reply answers its own request.
    again = await peer.call("save")
    assert again["reply"] == {"type": "save", "responseTo": 2, "status": "success"}


# --- presence ------------------------------------------------------------------------------

@pytest.mark.parametrize("leave", ["close", "kill"])
async def test_awareness_is_relayed_and_removed_when_node_leaves(
        huddle, node_peer, write_notebook, leave):
    write_notebook("aware.ipynb")
    peer = await node_peer()
    await peer.open(huddle, "aware.ipynb")
    user = {"username": "nodé", "name": "Nodé Client 🚀", "initials": "NC", "color": "#ff0000"}
    async with huddle.open("aware.ipynb") as client:
        await peer.call("setAwareness", state={"user": user, "cursors": [], "tag": "nodé 🚀"})
        node_id = peer.client_id
        await client.wait_for(lambda: client.awareness.get(node_id, {}).get("tag") == "nodé 🚀")
        assert client.awareness[node_id]["cursors"] == []
        # who it is comes from the server, whatever the client claims
        stamped = client.awareness[node_id]["user"]
        assert stamped["username"] != "nodé"
        assert stamped["name"] != "Nodé Client 🚀"
        assert stamped["color"]  # the server has no colour for it: the client's is kept

        # Python's presence reaches Node's y-protocols Awareness.
        python_id = client.doc.client_id
        await client.send(awareness_update(python_id, 1, {"user": {"name": "Pÿthon 🐍"},
                                                          "tag": "Pÿthon 🐍"}))
        seen = await peer.call("waitAwareness", matching={"tag": "Pÿthon 🐍"},
                               timeoutMs=NODE_WAIT_MS)
        assert seen["clientId"] == python_id

        # A field update (as the cursor extension does) also arrives.
        await peer.call("setAwarenessField", field="cursors", value=[{"anchor": 1, "head": 3}])
        await client.wait_for(lambda: client.awareness.get(node_id, {}).get("cursors")
                              == [{"anchor": 1, "head": 3}])

        if leave == "close":
            await peer.call("close")  # y-websocket sends a null state, then closes
        else:
            await peer.kill()  # only the server can tell the others
        await client.wait_for(lambda: node_id not in client.awareness)


async def test_newcomer_node_client_sees_existing_presence(huddle, node_peer, write_notebook):
    write_notebook("late.ipynb")
    first = await node_peer()
    await first.open(huddle, "late.ipynb")
    await first.call("setAwareness", state={"user": {"name": "early"}, "tag": "early bird 🐦"})
    # Wait until the server has it: a Python client that joins later is sent it on join.
    async with huddle.open("late.ipynb") as client:
        await client.wait_for(lambda: any(
            s.get("tag") == "early bird 🐦" for s in client.awareness.values()))
    late = await node_peer()
    await late.open(huddle, "late.ipynb")
    seen = await late.call("waitAwareness", matching={"tag": "early bird 🐦"},
                           timeoutMs=NODE_WAIT_MS)
    assert seen["clientId"] == first.client_id


# --- text files ----------------------------------------------------------------------------

async def test_text_file_room_syncs_with_a_node_yfile(huddle, node_peer):
    original = "line one\nlïne two 🌍\n"
    (Path(huddle.root) / "notes.md").write_text(original, encoding="utf-8")
    peer = await node_peer()
    await peer.open(huddle, "notes.md", "text", "file")

    answer = await peer.call("read")
    assert answer["source"] == original
    assert answer["state"]["path"] == "notes.md"

    async with huddle.open("notes.md", "text", "file") as client:
        assert str(client.text) == original
        await peer.call("insertText", index=0, text="# Títle 📝\n")
        expected = "# Títle 📝\n" + original
        await client.wait_for(lambda: str(client.text) == expected)

        text = client.text
        text += "ending ✓\n"
        expected += "ending ✓\n"
        await peer.call("waitText", equals=expected, timeoutMs=NODE_WAIT_MS)

        save = await peer.call("save")
        assert save["reply"]["status"] == "success"
    assert (Path(huddle.root) / "notes.md").read_text(encoding="utf-8") == expected


async def test_crlf_text_file_is_lf_for_the_editor_and_crlf_on_disk(huddle, node_peer):
    # CodeMirror counts "\r\n" as one character and Y.Text as two: the editor gets LF.
    (Path(huddle.root) / "dos.txt").write_bytes("one\r\ntwo 🅱\r\n".encode())
    peer = await node_peer()
    await peer.open(huddle, "dos.txt", "text", "file")
    assert (await peer.call("read"))["source"] == "one\ntwo 🅱\n"

    await peer.call("insertText", index=-1, text="three\n")
    save = await peer.call("save")
    assert save["reply"]["status"] == "success"
    assert (Path(huddle.root) / "dos.txt").read_bytes() == "one\r\ntwo 🅱\r\nthree\r\n".encode()


# --- refusals as y-websocket sees them ------------------------------------------------------

async def test_unknown_session_closes_with_1003_and_a_json_reason(
        huddle, node_peer, write_notebook):
    write_notebook("stale.ipynb")
    room, _session_id = await huddle.room_id("stale.ipynb")
    peer = await node_peer()
    with pytest.raises(NodePeerError, match="code=1003") as failure:
        await peer.connect(huddle, room, "a-session-from-before-a-restart")
    reason = str(failure.value).split("reason=", 1)[1]
    assert json.loads(reason) == {"reason": "unknown_session",
                                  "sessionId": "a-session-from-before-a-restart",
                                  "reloadable": True}


# --- review anchors as Yjs resolves them ----------------------------------------------------

async def test_yjs_resolves_the_servers_comment_anchors_in_non_ascii_text(
        huddle, node_peer, write_notebook):
    """The web app resolves anchors with Yjs; the server made them with pycrdt. Both must
    agree, also after emoji and accents are typed before and inside the range."""
    write_notebook("anchors.ipynb", [f"# {EMOJI_TEXT}\nvalue = 'ünïcode 🎈 here'"])
    room, _ = await huddle.room_id("anchors.ipynb")
    peer = await node_peer()
    await peer.open(huddle, "anchors.ipynb")
    async with huddle.open("anchors.ipynb") as client:
        text = str(client.source(0))
        start = len(text[:text.index("ünïcode")].encode("utf-16-le")) // 2
        end = start + len("ünïcode 🎈".encode("utf-16-le")) // 2
        response = await huddle.request("POST", f"api/huddle/comments/{room}", {
            "anchor": {"cell_id": client.cells[0]["id"], "start": start, "end": end},
            "body": "quote check"})
        assert response.code == 201, response.body
        thread = json.loads(response.body)
        assert thread["anchor"]["quote"] == "ünïcode 🎈"
        seen = (await peer.call("waitThread", threadId=thread["id"]))["thread"]

        async def yjs_range() -> tuple[int, int]:
            first = await peer.call("resolvePosition", position=seen["anchor"]["start"])
            last = await peer.call("resolvePosition", position=seen["anchor"]["end"])
            return first["index"], last["index"]

        assert await yjs_range() == (start, end)
        # Node types an emoji line before the range and accents inside it
        prefix = "🧪 é 🐍\n"
        await peer.call("insertText", cell=0, index=0, text=prefix)
        inside = start + len(prefix.encode("utf-16-le")) // 2 + 3  # after "ünï"
        await peer.call("insertText", cell=0, index=inside, text="ß✓")
        expected = prefix + text[:text.index("ünïcode") + 3] + "ß✓" + text[
            text.index("ünïcode") + 3:]
        await client.wait_for(lambda: str(client.source(0)) == expected)
        node_start, node_end = await yjs_range()
        listed = json.loads((await huddle.request(
            "GET", f"api/huddle/comments/{room}")).body)["threads"][0]["position"]
        assert (listed["start"], listed["end"]) == (node_start, node_end)
        assert listed["text"] == "ünïß✓code 🎈"
