"""A Huddle server that can be stopped and started again (same port, token, data dir),
as after a crash or a restart; the ``restartable`` fixture lives in tests/integration."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path

from pycrdt import Array, Doc

from tests.support.server_process import ServerProcess
from tests.support.yclient import YClient, room_url


class Restartable:
    """One server configuration that can be started again and again (same port, token,
    data dir), as after a crash."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.root = tmp_path / "root"
        self.root.mkdir(parents=True)
        self.home = tmp_path / "home"
        self.args = args
        self.server: ServerProcess | None = None
        self.port: int | None = None
        self.token: str | None = None

    def start(self) -> ServerProcess:
        self.server = ServerProcess(self.root, self.home, *self.args, port=self.port,
                                    token=self.token)
        self.port, self.token = self.server.port, self.server.token
        return self.server.start()

    @property
    def store_path(self) -> Path:
        return self.home / "data" / "huddle" / "store.sqlite"

    def session(self, path: str) -> tuple[str, str]:
        assert self.server is not None
        request = urllib.request.Request(
            f"{self.server.http_url}api/collaboration/session/{path}",
            data=json.dumps({"format": "json", "type": "notebook"}).encode(), method="PUT",
            headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            model = json.load(response)
        return f"json:notebook:{model['fileId']}", model["sessionId"]

    def client(self, path: str) -> YClient:
        assert self.server is not None
        room, session = self.session(path)
        return YClient(room_url(self.server.ws_url, room, session, self.token))

    def stored_sources(self, room: str) -> list[str]:
        """Replay what the store has committed for ``room`` (read-only, like a crash sees)."""
        return stored_sources(self.store_path, room)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def stored_sources(store_path: Path | str, room: str) -> list[str]:
    """The cell sources a store file's committed log replays to, for ``room`` (opened
    read-only, as a crash would leave it)."""
    con = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT data FROM updates WHERE doc_key = ? ORDER BY seq",
                           (room,)).fetchall()
    finally:
        con.close()
    doc: Doc = Doc()
    for (data,) in rows:
        doc.apply_update(data)
    return [str(c["source"]) for c in doc.get("cells", type=Array)]
