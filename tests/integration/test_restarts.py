"""Crash and restart a real server process: nothing lost, nothing duplicated."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import urllib.request
from pathlib import Path

import nbformat

from tests.support.restartable import Restartable
from tests.support.waiting import eventually
from tests.support.yclient import YClient

SLOW_SAVES = ("--HuddleApp.save_delay_s=60", "--HuddleApp.max_save_delay_s=120")


def write(root: Path, path: str, *sources: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(root / path))


def sources(client: YClient) -> list[str]:
    return [str(c["source"]) for c in client.cells]


async def synced(*clients: YClient) -> None:
    async with asyncio.timeout(30):
        for client in clients:
            await client.synced.wait()


async def wait_committed(server: Restartable, room: str, expected: list[str]) -> None:
    await eventually(lambda: server.stored_sources(room) == expected, 10,
                     f"{expected} in the store file")


async def test_kill9_with_clients_connected_loses_nothing(restartable):
    server = restartable(*SLOW_SAVES)
    write(server.root, "nb.ipynb", "", "", "")
    server.start()
    clients = [server.client("nb.ipynb") for _ in range(3)]
    for client in clients:
        await client.connect()
    await synced(*clients)

    async def type_tokens(index: int, client: YClient, count: int, tag: str) -> None:
        for n in range(count):
            text = client.source(index)
            text.insert(len(str(text).encode()), f"<{tag}{index}.{n}>")
            await asyncio.sleep(0.005)  # a typist's pace

    typing = [asyncio.create_task(type_tokens(i, c, 40, "a")) for i, c in enumerate(clients)]
    await asyncio.sleep(0.1)  # kill mid-stream, while they type
    server.server.kill()
    await asyncio.gather(*typing)  # they keep typing offline
    server.start()
    for client in clients:
        await client.reconnect()
    await synced(*clients)
    await asyncio.gather(*(type_tokens(i, c, 5, "b") for i, c in enumerate(clients)))
    expected = ["".join(f"<a{i}.{n}>" for n in range(40)) + "".join(
        f"<b{i}.{n}>" for n in range(5)) for i in range(3)]
    for client in clients:
        await client.wait_for(lambda client=client: sources(client) == expected, timeout=20)
    async with server.client("nb.ipynb") as fresh:
        await synced(fresh)
        assert sources(fresh) == expected
    for client in clients:
        await client.close()


async def test_committed_edits_survive_kill9_without_any_client(restartable):
    server = restartable(*SLOW_SAVES)
    write(server.root, "nb.ipynb", "x = 1")
    server.start()
    room, _ = server.session("nb.ipynb")
    async with server.client("nb.ipynb") as client:
        await synced(client)
        client.source(0).insert(0, "# unsaved edit\n")
        await wait_committed(server, room, ["# unsaved edit\nx = 1"])
        server.server.kill()
    # nothing was saved to the file...
    assert nbformat.read(str(server.root / "nb.ipynb"), 4).cells[0].source == "x = 1"
    server.start()
    # ...but the store is newer than the disk, and wins
    async with server.client("nb.ipynb") as reopened:
        await synced(reopened)
        assert sources(reopened) == ["# unsaved edit\nx = 1"]
        assert await reopened.save() == "success"
    assert nbformat.read(str(server.root / "nb.ipynb"), 4).cells[0].source == \
        "# unsaved edit\nx = 1"


async def test_file_changed_while_down_is_merged_with_unsaved_edits(restartable):
    server = restartable(*SLOW_SAVES)
    write(server.root, "nb.ipynb", "ours = 0", "theirs = 0")
    server.start()
    room, _ = server.session("nb.ipynb")
    async with server.client("nb.ipynb") as client:
        await synced(client)
        client.source(0).insert(0, "# unsaved\n")
        await wait_committed(server, room, ["# unsaved\nours = 0", "theirs = 0"])
        server.server.kill()
    nb = nbformat.read(str(server.root / "nb.ipynb"), 4)
    nb.cells[1].source = "theirs = 1"
    nbformat.write(nb, str(server.root / "nb.ipynb"))
    server.start()
    async with server.client("nb.ipynb") as reopened:
        await synced(reopened)
        assert sources(reopened) == ["# unsaved\nours = 0", "theirs = 1"]


async def test_store_deleted_while_down_old_tab_must_reload(restartable):
    server = restartable(*SLOW_SAVES)
    write(server.root, "nb.ipynb", "a", "b")
    server.start()
    suspended = server.client("nb.ipynb")
    await suspended.connect()
    await synced(suspended)
    server.server.stop()
    for suffix in ("", "-wal", "-shm"):
        Path(str(server.store_path) + suffix).unlink(missing_ok=True)
    server.start()
    await suspended.reconnect()
    code, reason = await suspended.wait_closed()
    assert code == 1003
    assert json.loads(reason)["reason"] == "unknown_session"
    async with server.client("nb.ipynb") as fresh:
        await synced(fresh)
        assert sources(fresh) == ["a", "b"]


async def test_graceful_restart_clients_carry_on_and_offline_edits_merge_once(restartable):
    server = restartable()
    write(server.root, "nb.ipynb", "start")
    server.start()
    a, b = server.client("nb.ipynb"), server.client("nb.ipynb")
    await a.connect()
    await b.connect()
    await synced(a, b)
    code = await asyncio.to_thread(server.server.stop, signal.SIGTERM)
    assert code == 0
    a.source(0).insert(0, "offline ")  # typed while the server was down
    server.start()
    await a.reconnect()
    await b.reconnect()
    await b.wait_for(lambda: sources(b) == ["offline start"], timeout=20)
    b.source(0).insert(len("offline start"), " again")
    await a.wait_for(lambda: sources(a) == ["offline start again"], timeout=20)
    assert len(a.cells) == 1
    await a.close()
    await b.close()


async def test_store_stays_bounded_under_many_small_edits(restartable):
    """5 000 one-character edits: the log is compacted to a state plus a bounded tail."""
    server = restartable(*SLOW_SAVES, "--HuddleApp.compact_after_updates=500")
    write(server.root, "nb.ipynb", "")
    server.start()
    room, _ = server.session("nb.ipynb")
    async with server.client("nb.ipynb") as client:
        await synced(client)
        for n in range(5000):
            client.source(0).insert(n, "x")
            if n % 500 == 0:
                await client.flush()
        await wait_committed(server, room, ["x" * 5000])
        con = sqlite3.connect(f"file:{server.store_path}?mode=ro", uri=True)
        rows = con.execute("SELECT length(data) FROM updates WHERE doc_key = ?",
                           (room,)).fetchall()
        con.close()
        state = len(client.doc.get_update())
        stored = sum(size for (size,) in rows)
        # at most one state plus a tail shorter than the compaction threshold
        assert len(rows) <= 501, len(rows)
        assert stored <= state + 500 * 64, (stored, state, len(rows))


async def test_corrupt_store_is_reported_and_replaced(restartable):
    server = restartable()
    write(server.root, "nb.ipynb", "from disk")
    server.store_path.parent.mkdir(parents=True, exist_ok=True)
    server.store_path.write_bytes(b"not a database at all " * 200)
    server.start()
    async with server.client("nb.ipynb") as client:
        await synced(client)
        assert sources(client) == ["from disk"]
        client.source(0).insert(0, "edited ")
        assert await client.save() == "success"
    log = server.server.log()
    assert str(server.store_path) in log
    assert "unusable" in log
    aside = [p.name for p in server.store_path.parent.iterdir()]
    assert any(name.startswith("store.sqlite.broken-") for name in aside)


def comments_api(server: Restartable, method: str, path: str,
                 body: object = None) -> tuple[int, object]:
    assert server.server is not None
    request = urllib.request.Request(
        f"{server.server.http_url}api/huddle/comments/{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {server.token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), json.load(response)
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


async def test_review_threads_survive_a_crash_and_travel_to_a_fresh_server(restartable,
                                                                            tmp_path):
    server = restartable(*SLOW_SAVES)
    write(server.root, "review.ipynb", "total = price * qty", "print(total)")
    server.start()
    room, _ = server.session("review.ipynb")
    async with server.client("review.ipynb") as client:
        await synced(client)
        cell_id = client.cells[0]["id"]
        status, thread = comments_api(server, "POST", room, {
            "anchor": {"cell_id": cell_id, "start": 8, "end": 19}, "body": "qty can be 0?"})
        assert status == 201, thread
        assert isinstance(thread, dict)
        status, _ = comments_api(server, "POST", f"{room}/{thread['id']}/messages",
                                 {"body": "then total is 0, fine"})
        assert status == 201
        client.source(0).insert(0, "# 💰\n")  # the range moves after the thread was made
        await client.flush()

        async def stored() -> None:
            while "# 💰" not in server.stored_sources(room)[0]:
                await asyncio.sleep(0.05)  # polling the store file under a deadline

        await asyncio.wait_for(stored(), 10)
    server.server.kill()  # before any save: the threads are only in the store
    assert "huddle" not in nbformat.read(str(server.root / "review.ipynb"), as_version=4
                                         ).metadata
    server.start()
    status, listing = comments_api(server, "GET", room)
    assert status == 200
    assert isinstance(listing, dict)
    [after_crash] = listing["threads"]
    assert after_crash["id"] == thread["id"]
    assert [m["body"] for m in after_crash["messages"]] == ["qty can be 0?",
                                                            "then total is 0, fine"]
    assert after_crash["position"]["text"] == "price * qty"
    # a clean stop saves the file, threads included in its metadata ...
    server.stop()
    saved = nbformat.read(str(server.root / "review.ipynb"), as_version=4)
    assert [t["id"] for t in saved.metadata["huddle"]["comments"]] == [thread["id"]]
    # ... so a server that never saw this history gets them back from the file
    fresh = restartable(directory=tmp_path / "fresh")
    (fresh.root / "review.ipynb").write_bytes((server.root / "review.ipynb").read_bytes())
    fresh.start()
    fresh_room, _ = fresh.session("review.ipynb")
    status, listing = comments_api(fresh, "GET", fresh_room)
    assert status == 200
    assert isinstance(listing, dict)
    [reopened] = listing["threads"]
    assert reopened["id"] == thread["id"]
    assert reopened["anchor"]["quote"] == "price * qty"
    assert reopened["position"]["state"] == "attached"
    assert reopened["position"]["text"] == "price * qty"
    assert len(reopened["messages"]) == 2
    # and the re-created anchor follows edits like the original did
    async with fresh.client("review.ipynb") as client:
        await synced(client)
        client.source(0).insert(0, "x = 1\n")
        await client.flush()

        async def moved() -> None:
            while True:
                _, listing = comments_api(fresh, "GET", fresh_room)
                assert isinstance(listing, dict)
                if listing["threads"][0]["position"]["start"] == reopened["position"][
                        "start"] + 6:
                    return
                await asyncio.sleep(0.05)  # polling the API under a deadline

        await asyncio.wait_for(moved(), 10)

