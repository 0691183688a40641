"""The ``jupyter huddle`` command and the extension's start-up checks, in real processes."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import urllib.request

import nbformat
import pytest

from tests.support.server_process import ServerProcess, run_to_exit
from tests.support.yclient import YClient, room_url


def put_session(server: ServerProcess, path: str) -> dict:
    request = urllib.request.Request(
        f"{server.http_url}api/collaboration/session/{path}",
        data=json.dumps({"format": "json", "type": "notebook"}).encode(), method="PUT",
        headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x")]
    nbformat.write(nb, str(root / "a.ipynb"))
    return root


async def test_jupyter_huddle_serves_and_flushes_edits_at_shutdown(root, tmp_path):
    # A save delay longer than the test: only the shutdown flush can write the edit.
    server = ServerProcess(root, tmp_path / "home", "--HuddleApp.save_delay_s=60",
                           "--HuddleApp.max_save_delay_s=120",
                           command=["jupyter", "huddle"]).start()
    try:
        model = put_session(server, "a.ipynb")
        url = room_url(server.ws_url, f"json:notebook:{model['fileId']}", model["sessionId"],
                       server.token)
        async with YClient(url) as client, YClient(url) as witness:
            async with asyncio.timeout(20):
                await client.synced.wait()
                await witness.synced.wait()
            client.source(0).insert(0, "saved at shutdown ")
            # Once a second peer has it, the server has applied it.
            await witness.wait_for(lambda: str(witness.source(0)).startswith("saved"))
            code = await asyncio.to_thread(server.stop, signal.SIGTERM)
    finally:
        server.stop()
    assert code == 0, server.log()
    assert nbformat.read(str(root / "a.ipynb"), as_version=4).cells[0].source == \
        "saved at shutdown x"
    assert "127.0.0.1" in server.log()


def test_help_lists_every_traitlet(tmp_path):
    result = run_to_exit(["jupyter", "huddle", "--help-all"], tmp_path / "home", tmp_path)
    assert result.returncode == 0
    for trait in ("save_delay_s", "max_save_delay_s", "room_cleanup_delay_s", "max_frame_bytes",
                  "max_peer_queue_bytes", "max_rooms", "keepalive_interval_s", "disable_rtc"):
        assert f"--HuddleApp.{trait}" in result.stdout


def test_bad_config_value_is_a_clear_error(tmp_path, root):
    result = run_to_exit(["jupyter", "huddle", "--no-browser", "--HuddleApp.save_delay_s=-1"],
                         tmp_path / "home", root)
    assert result.returncode != 0
    assert "save_delay_s must be > 0" in result.stdout + result.stderr


def test_refuses_to_start_next_to_jupyter_server_ydoc(tmp_path, root):
    # An importable extension of that name, enabled in config: the clash to detect.
    fake = tmp_path / "fake"
    (fake / "jupyter_server_ydoc").mkdir(parents=True)
    (fake / "jupyter_server_ydoc" / "__init__.py").write_text(
        "def _jupyter_server_extension_points():\n"
        "    return [{'module': 'jupyter_server_ydoc'}]\n"
        "def _load_jupyter_server_extension(app):\n    pass\n")
    result = run_to_exit(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--port=0",
         "--ServerApp.jpserver_extensions={'jupyter_server_ydoc': True, "
         "'jupyter_huddle': True, 'jupyter_server_fileid': True}"],
        tmp_path / "home", root, extra_env={"PYTHONPATH": str(fake)})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "jupyter_huddle: cannot run alongside jupyter_server_ydoc" in output
