"""A Huddle server in its own process, for tests that launch, stop or kill it."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.parallel import free_port


def isolated_env(home: Path) -> dict[str, str]:
    """Jupyter dirs and a home of the test's own, so no user config or extension leaks in
    and nothing is written to the real home (deleted files' Trash, ~/.ipython)."""
    env = dict(os.environ)
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["IPYTHONDIR"] = str(home / "ipython")
    for name in ("CONFIG", "DATA", "RUNTIME"):
        path = home / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[f"JUPYTER_{name}_DIR"] = str(path)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ServerProcess:
    """``jupyter huddle`` (or another command) on a free port; always stopped by the test."""

    def __init__(self, root: Path, home: Path, *args: str, command: list[str] | None = None,
                 port: int | None = None, token: str | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        self.token = token or secrets.token_hex(8)
        self.env = isolated_env(home)
        self.log_path = home / f"server-{self.port}.log"
        base = command or [sys.executable, "-m", "jupyter_huddle"]
        self.argv = [*base, f"--port={self.port}", "--no-browser", "--ServerApp.port_retries=0",
                     f"--IdentityProvider.token={self.token}",
                     f"--ServerApp.root_dir={root}", *args]
        self.process: subprocess.Popen[bytes] | None = None
        self.http_url = f"http://127.0.0.1:{self.port}/"
        self.ws_url = f"ws://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 60) -> ServerProcess:
        self._log = self.log_path.open("ab")
        # A session of its own: the kernels the server starts share its process group, so a
        # last-resort kill reaches them too.
        self.process = subprocess.Popen(self.argv, cwd=self.root, env=self.env,
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                urllib.request.urlopen(f"{self.http_url}api/status?token={self.token}", timeout=2)
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)  # polling for the port to open, under the deadline
        self.stop()
        raise TimeoutError(f"server did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        """GET an API path with the token: (status, body)."""
        request = urllib.request.Request(
            self.http_url + path, headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as err:
            return int(err.code), err.read()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        if sig == signal.SIGINT:
            # jupyter_server asks for confirmation on the first ^C; a second one skips it
            time.sleep(0.2)
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> int:
        """SIGKILL the server (not its kernels): a crash, for crash-recovery tests."""
        assert self.process is not None
        self.process.kill()
        code = self.process.wait(30)
        self._log.close()
        return code

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def run_to_exit(argv: list[str], home: Path, cwd: Path, timeout: float = 60,
                extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = isolated_env(home)
    env.update(extra_env or {})
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
