"""A real Jupyter Enterprise Gateway on loopback, with local kernels, for the gateway tier.

Enterprise Gateway 3.x pins jupyter_server < 2 and jupyter_client < 7: it cannot share the
test environment (it would downgrade what Huddle needs). It runs from a virtualenv of its
own (``scripts/gateway_venv.sh`` makes it; ``HUDDLE_GATEWAY_VENV`` or
``~/.cache/huddle/gateway-venv``), as it would on a machine of its own. Its kernels are this
environment's ``python3`` (a kernelspec written for the gateway), so they run the same
ipykernel as the local kernels of the other tiers.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.parallel import free_port
from tests.support.server_process import isolated_env

VENV_ENV = "HUDDLE_GATEWAY_VENV"
REQUIRED_ENV = "HUDDLE_GATEWAY_REQUIRED"


def gateway_venv() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huddle"
    return Path(os.environ.get(VENV_ENV) or default / "gateway-venv")


def gateway_command() -> Path | None:
    """The gateway's launcher, or None when its virtualenv is not made."""
    command = gateway_venv() / "bin" / "jupyter-enterprisegateway"
    return command if command.exists() else None


def write_kernelspec(data_dir: Path) -> None:
    """``python3`` for the gateway: this environment's interpreter and ipykernel."""
    spec = data_dir / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (gateway)", "language": "python",
    }))


class Gateway:
    """One Enterprise Gateway process: started, stopped, killed and started again on the
    same port and token (its kernels do not survive it)."""

    def __init__(self, home: Path, command: Path) -> None:
        self.port = free_port()
        self.token = secrets.token_hex(8)
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = isolated_env(home)
        write_kernelspec(home / "data")
        # The gateway's venv must not see this environment's packages; its kernels do
        # (their interpreter is this one), through their own sys.path.
        self.env.pop("PYTHONPATH", None)
        self.log_path = home / "gateway.log"
        self.argv = [str(command), "--ip=127.0.0.1", f"--port={self.port}", "--port_retries=0",
                     f"--EnterpriseGatewayApp.auth_token={self.token}",
                     # a crashed kernel is restarted at once (the default polls every 3 s)
                     "--KernelRestarter.time_to_dead=0.5",
                     # tests run as root in containers, which it refuses by default
                     "--EnterpriseGatewayApp.unauthorized_users=[]",
                     # jupyter_server's gateway client lists kernels (off by default)
                     "--EnterpriseGatewayApp.list_kernels=True"]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Gateway:
        log = self.log_path.open("ab")
        # A session of its own: a last-resort kill of its group reaches its kernels too.
        self.process = subprocess.Popen(self.argv, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.process.returncode}:\n"
                                   f"{self.log()}")
            if self.answers():
                return self
            time.sleep(0.1)  # polling for the port to open, under the deadline
        self.stop()
        raise TimeoutError(f"the gateway did not answer within {timeout} s:\n{self.log()}")

    def answers(self) -> bool:
        """Whether it answers an authenticated request (its kernelspecs)."""
        request = urllib.request.Request(f"{self.url}/api/kernelspecs",
                                         headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def kernels(self) -> list[dict[str, object]]:
        request = urllib.request.Request(f"{self.url}/api/kernels",
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return list(json.load(response))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20) -> None:
        """Stop it as an operator would (SIGTERM: it shuts its kernels down); a group kill
        if it does not end in time."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)

    def kill(self) -> None:
        """A crash of the gateway's host: SIGKILL the gateway and its kernels (each in a
        session of its own, so not in its process group)."""
        process = self.process
        assert process is not None
        kernels = _children(process.pid)
        os.killpg(process.pid, signal.SIGKILL)
        for pid in kernels:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(30)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
