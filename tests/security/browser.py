"""Browser tests of the security tier: the e2e tier's fixtures (Chromium through Playwright, a
``jupyter huddle`` process, users in browser contexts of their own) re-exported for a test
module to import, plus the attacker's tools: a tap on a page's room socket that sees and can
inject what "the server" sends, and a raw socket opened from a guest's page with only the
guest's cookie.

Imported by the modules that need a browser, not by this tier's conftest: the e2e tier
replaces pytest-jupyter's event-loop fixture (``jp_asyncio_loop``), which the other security
modules, with their in-process servers, need as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (  # noqa: F401  (fixtures, re-exported)
    UserPage,
    Users,
    _e2e_tools,
    browser,
    huddle_app_server,
    jp_asyncio_loop,
    jp_server_cleanup,
    module_artifacts,
    users,
)
from tests.e2e.test_webapp import (  # noqa: F401  (_bundle_built: an autouse fixture)
    _bundle_built,
    cell,
    cells,
    open_notebook,
    write_notebook,
)
from tests.e2e.test_webapp_sharing import create_link, join, wait_for  # noqa: F401
from tests.support.parallel import clear_once
from tests.support.yclient import parse_awareness, read_var_uint

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "security"
MESSAGE_AWARENESS = 1


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``tests/artifacts/security/`` (git-ignored): screenshots and logs of this tier's
    browser tests. Its own folder, so that the e2e tier's artifacts are left alone; emptied
    once per run."""
    clear_once(ARTIFACTS)
    return ARTIFACTS


def awareness_entries(message: bytes) -> list[tuple[int, int, Any]]:
    """(client id, clock, state) of a y-websocket awareness message; [] for other messages."""
    if message[:1] != bytes([MESSAGE_AWARENESS]):
        return []
    length, pos = read_var_uint(message, 1)
    return parse_awareness(message[pos:pos + length])


@dataclass
class RoomTap:
    """A page's notebook-room socket, routed through the test: everything passes, what the
    server sends is recorded, and ``inject`` delivers a frame to the page as if the server had
    sent it (a server that failed to strip a forged state, say)."""

    received: list[bytes] = field(default_factory=list)
    sockets: list[Any] = field(default_factory=list)

    def route(self, ws: Any) -> None:
        server = ws.connect_to_server()
        ws.on_message(lambda message: server.send(message))

        def from_server(message: str | bytes) -> None:
            data = message.encode() if isinstance(message, str) else bytes(message)
            self.received.append(data)
            ws.send(message)
        server.on_message(from_server)
        self.sockets.append(ws)

    def states_of(self, client_id: int) -> list[Any]:
        """Every state the server sent the page for ``client_id``, in order."""
        return [state for message in list(self.received)
                for cid, _clock, state in awareness_entries(message) if cid == client_id]

    def inject(self, message: bytes) -> None:
        self.sockets[-1].send(message)


def tap_room(user: UserPage) -> RoomTap:
    """Tap the user's notebook-room sockets; call before the page opens the notebook."""
    tap = RoomTap()
    user.page.route_web_socket(re.compile(r"/api/collaboration/room/json:notebook:"), tap.route)
    return tap


# Runs in a guest's page: opens a socket of its own to the notebook's room with nothing but the
# guest's cookie (and the XSRF token the page can read), as a hand-written client would, and
# publishes awareness entries. Returns the client id the server announced as its own. The
# socket stays open (window.__forgerSocket: the test's, not the app's), so its entries stay.
FORGE_SCRIPT = """
async ({ path, entries }) => {
  const xsrf = decodeURIComponent((document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || '');
  const reply = await fetch(`/api/collaboration/session/${encodeURIComponent(path)}`, {
    method: 'PUT', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-XSRFToken': xsrf },
    body: JSON.stringify({ format: 'json', type: 'notebook' }),
  });
  if (!reply.ok) throw new Error(`session: ${reply.status}`);
  const { fileId, sessionId } = await reply.json();
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const room = `/api/collaboration/room/json:notebook:${fileId}`;
  const ws = new WebSocket(`${scheme}//${location.host}${room}`
                           + `?sessionId=${encodeURIComponent(sessionId)}`);
  ws.binaryType = 'arraybuffer';
  window.__forgerSocket = ws;
  const varuint = (n) => {
    const out = [];
    for (; n > 127; n = Math.floor(n / 128)) out.push((n % 128) | 128);
    out.push(n);
    return out;
  };
  const readVaruint = (bytes, pos) => {
    let value = 0;
    for (let scale = 1; ; scale *= 128) {
      const byte = bytes[pos++];
      value += (byte & 127) * scale;
      if (byte < 128) return [value, pos];
    }
  };
  const announced = await new Promise((resolve, reject) => {
    ws.onerror = () => reject(new Error('the room socket failed'));
    ws.onclose = (event) => reject(new Error(`the room socket closed: ${event.code}`));
    ws.onmessage = (event) => {
      const bytes = new Uint8Array(event.data);
      if (bytes[0] !== 2) return;
      const [length, start] = readVaruint(bytes, 1);
      const notice = JSON.parse(new TextDecoder().decode(bytes.subarray(start, start + length)));
      if (notice.type === 'server_presence') resolve(notice.client_id);
    };
  });
  const body = [...varuint(entries.length)];
  for (const [clientId, clock, state] of entries) {
    const json = new TextEncoder().encode(JSON.stringify(state));
    body.push(...varuint(clientId), ...varuint(clock), ...varuint(json.length), ...json);
  }
  ws.send(new Uint8Array([1, ...varuint(body.length), ...body]));
  return announced;
}
"""


def forge_presence(user: UserPage, path: str, entries: list[tuple[int, int, Any]]) -> int:
    """Publish ``entries`` (client id, clock, state) into ``path``'s room from a socket of
    the user's own; the client id the server announced to that socket."""
    return int(user.page.evaluate(FORGE_SCRIPT, {"path": path, "entries": entries}))


def my_username(server: Any, user: UserPage) -> str:
    response = user.context.request.get(f"{server.http_url}api/me")
    assert response.ok, response.status
    return str(response.json()["identity"]["username"])


def huddle_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
                  artifacts: Path, *args: str) -> Iterator[Any]:
    """A ``jupyter huddle`` process for one module (the e2e tier's), its log kept."""
    with huddle_app_server(tmp_path_factory.mktemp("trust"),
                           module_artifacts(request.module, artifacts), *args) as server:
        yield server
