"""Property test: random concurrent work by several clients, with disconnects, reconnects
and server restarts in between, always ends with every replica, the server and the saved
file in agreement, a valid notebook, and no cell twice."""

from __future__ import annotations

import asyncio
from typing import Any

import nbformat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Array, Map, Text

from jupyter_huddle.collab.documents.notebook import NotebookDocument
from jupyter_huddle.collab.ids import DocumentRoomId
from jupyter_huddle.collab.rooms.manager import RoomManager
from jupyter_huddle.collab.settings import CollabSettings
from jupyter_huddle.collab.store import MemoryStore
from tests.support.memory_backend import MemoryBackend
from tests.support.memory_peer import MemoryPeer

ROOM = DocumentRoomId("json", "notebook", "nb1")
SETTINGS = CollabSettings(save_delay_s=60, max_save_delay_s=120, room_cleanup_delay_s=0,
                          file_poll_interval_s=3600, compact_after_updates=20)
CLIENTS = 3

op = st.one_of(
    st.tuples(st.just("type"), st.integers(0, CLIENTS - 1), st.integers(0, 9),
              st.integers(0, 30), st.text("abcé😀\n", min_size=1, max_size=4)),
    st.tuples(st.just("erase"), st.integers(0, CLIENTS - 1), st.integers(0, 9),
              st.integers(0, 30), st.integers(1, 5)),
    st.tuples(st.just("insert_cell"), st.integers(0, CLIENTS - 1), st.integers(0, 9),
              st.sampled_from(["code", "markdown", "raw"])),
    st.tuples(st.just("delete_cell"), st.integers(0, CLIENTS - 1), st.integers(0, 9)),
    st.tuples(st.just("move_cell"), st.integers(0, CLIENTS - 1), st.integers(0, 9),
              st.integers(0, 9)),
    st.tuples(st.just("retype"), st.integers(0, CLIENTS - 1), st.integers(0, 9),
              st.sampled_from(["code", "markdown", "raw"])),
    st.tuples(st.just("metadata"), st.integers(0, CLIENTS - 1), st.integers(0, 9),
              st.sampled_from(["tags", "x"]), st.integers(0, 3)),  # tags become ["t<n>"]
    st.tuples(st.just("disconnect"), st.integers(0, CLIENTS - 1)),
    st.tuples(st.just("reconnect"), st.integers(0, CLIENTS - 1)),
    st.tuples(st.just("deliver"),),
    st.tuples(st.just("restart"),),
)


def new_cell(cell_id: str, cell_type: str, source: str = "") -> Map[Any]:
    value: dict[str, Any] = {"id": cell_id, "cell_type": cell_type, "source": Text(source),
                             "metadata": Map({})}
    if cell_type == "code":
        value.update(outputs=Array([]), execution_count=None, execution_state="idle")
    return Map(value)


def copy_cell(ycell: Map[Any], cell_type: str | None = None) -> Map[Any]:
    """How JupyterLab moves or retypes a cell: a new shared cell with the same id."""
    cell = ycell.to_py()
    assert cell is not None  # an integrated map
    return new_cell(cell["id"], cell_type or cell["cell_type"], cell.get("source", ""))


class Client:
    def __init__(self, name: str) -> None:
        self.name = name
        self.peer: MemoryPeer | None = None
        self.doc: Any = None
        self.counter = 0

    @property
    def cells(self) -> Array[Any]:
        return self.doc.get("cells", type=Array)

    def apply(self, action: tuple[Any, ...]) -> None:
        kind, _, *args = action
        cells = self.cells
        n = len(cells)
        if kind == "type" and n:
            text = cells[args[0] % n]["source"]
            text.insert(_offset(text, args[1]), args[2])
        elif kind == "erase" and n:
            text = cells[args[0] % n]["source"]
            chars = str(text)
            start = min(args[1], len(chars))
            end = min(start + args[2], len(chars))
            if end > start:
                byte_start = len(chars[:start].encode())
                del text[byte_start:byte_start + len(chars[start:end].encode())]
        elif kind == "insert_cell":
            self.counter += 1
            cells.insert(args[0] % (n + 1), new_cell(f"{self.name}-{self.counter}", args[1]))
        elif kind == "delete_cell" and n:
            del cells[args[0] % n]
        elif kind == "move_cell" and n > 1:
            source, target = args[0] % n, args[1] % n
            with self.doc.transaction():
                moved = copy_cell(cells[source])
                del cells[source]
                cells.insert(target, moved)
        elif kind == "retype" and n:
            index = args[0] % n
            with self.doc.transaction():
                replacement = copy_cell(cells[index], args[1])
                del cells[index]
                cells.insert(index, replacement)
        elif kind == "metadata" and n:
            key, value = args[1], args[2]
            cells[args[0] % n]["metadata"][key] = [f"t{value}"] if key == "tags" else value


def _offset(text: Text, char_index: int) -> int:
    chars = str(text)
    return len(chars[: min(char_index, len(chars))].encode())


async def run_scenario(actions: list[tuple[Any, ...]]) -> None:
    backend = MemoryBackend()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1", id="c0"),
                nbformat.v4.new_markdown_cell("# two", id="c1")]
    backend.add(ROOM.file_id, "nb.ipynb", nbformat.from_dict(nb))
    store = MemoryStore()
    manager = RoomManager(SETTINGS, backend, store)
    await manager.start()
    session = await manager.session_for(ROOM, "nb.ipynb")
    clients = [Client(f"u{i}") for i in range(CLIENTS)]

    async def connect(client: Client) -> None:
        peer = MemoryPeer(None, client.name, doc=client.doc)
        peer.room = await manager.join(ROOM, peer.conn, session)
        peer.start_sync()
        client.peer, client.doc = peer, peer.doc

    def deliver() -> None:
        for _ in range(10):
            moved = sum(c.peer.pump() for c in clients if c.peer is not None)
            if not moved:
                return

    for client in clients:
        await connect(client)
    deliver()
    for action in actions:
        kind = action[0]
        if kind == "deliver":
            deliver()
        elif kind == "restart":
            for client in clients:
                if client.peer is not None:
                    assert client.peer.room is not None
                    manager.leave(client.peer.room, client.peer.conn)
                    client.peer.detach()
            await manager.close_all()
            manager = RoomManager(SETTINGS, backend, store)
            await manager.start()
            for client in clients:
                client.peer = None
        elif kind == "disconnect":
            client = clients[action[1]]
            if client.peer is not None:
                manager.leave(client.peer.room, client.peer.conn)
                client.peer.detach()
                client.peer = None
        elif kind == "reconnect":
            client = clients[action[1]]
            if client.peer is None:
                await connect(client)
                deliver()
        else:
            clients[action[1]].apply(action)
    for client in clients:
        if client.peer is None:
            await connect(client)
    for _ in range(3):
        deliver()
    room = manager.get(ROOM)
    assert room is not None
    assert isinstance(room.document, NotebookDocument)
    server_cells = room.document.cells.to_py()
    assert server_cells is not None  # an integrated array
    for client in clients:
        assert client.cells.to_py() == server_cells, client.name
    ids = [c["id"] for c in server_cells]
    assert len(ids) == len(set(ids)), ids
    assert server_cells, "never zero cells"
    await manager.close_all()
    saved = backend.files["nb.ipynb"]
    nbformat.validate(saved)
    assert [c["source"] for c in saved["cells"]] == [c["source"] for c in server_cells]
    assert len({c["id"] for c in saved["cells"]}) == len(saved["cells"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=40))
def test_random_concurrent_work_converges(actions):
    asyncio.run(run_scenario(actions))
