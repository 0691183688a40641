"""Start Huddle and the reference server (jupyter-collaboration 5.0.4) as subprocesses.

Each server gets a fresh temporary root directory (also its working directory, where the
reference keeps its ``.jupyter_ystore.db``), its own JUPYTER_CONFIG_DIR / DATA_DIR /
RUNTIME_DIR, a free loopback port and a token. The extension set is given explicitly on the
command line so that neither server loads the other's collaboration extension, and both
load the same unrelated extensions (none). Both run with the same launcher,
``<python> -m jupyter_server``: Huddle with the system interpreter, the reference with
``bench/.venv-reference/bin/python``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REFERENCE_VENV = BENCH_DIR / ".venv-reference"
REFERENCE_PYTHON = REFERENCE_VENV / "bin" / "python"

# Extensions present in one or both environments that have nothing to do with RTC; both
# servers run without them so the comparison is between the collaboration stacks only.
UNRELATED_EXTENSIONS = ("jupyterlab", "jupyter_lsp", "jupyter_server_terminals", "notebook_shim",
                        "nbclassic", "notebook", "jupyter_collaboration")

SIDES = ("huddle", "reference")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_reference_venv() -> None:
    """Create bench/.venv-reference if it is missing (runs setup_reference.sh)."""
    if REFERENCE_PYTHON.exists():
        probe = subprocess.run([str(REFERENCE_PYTHON), "-c", "import jupyter_server_ydoc"],
                               capture_output=True)
        if probe.returncode == 0:
            return
    print("creating the reference venv (bench/setup_reference.sh) ...", file=sys.stderr)
    subprocess.run(["bash", str(BENCH_DIR / "setup_reference.sh")], check=True)


def extension_flags(side: str) -> list[str]:
    enabled = {name: False for name in UNRELATED_EXTENSIONS}
    enabled["jupyter_server_fileid"] = True
    if side == "huddle":
        enabled["jupyter_huddle"] = True
        enabled["jupyter_server_ydoc"] = False
    else:
        enabled["jupyter_server_ydoc"] = True
        enabled["jupyter_huddle"] = False
    return [f"--ServerApp.jpserver_extensions={enabled!r}"]


@dataclass
class Server:
    side: str
    fixtures: list[Path] = field(default_factory=list)
    extra_args: list[str] = field(default_factory=list)
    token: str = "bench-token"
    port: int = 0
    pid: int = 0
    tmp: Path | None = None
    root: Path | None = None
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    startup_s: float = 0.0
    nice: int = 0  # negative: run at a higher priority than other work on the machine

    # --- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> Server:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{self.side}-"))
        self.root = self.tmp / "root"
        self.root.mkdir()
        for fixture in self.fixtures:
            # A copy, not a link: saving writes the file in place.
            shutil.copyfile(fixture, self.root / fixture.name)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("JUPYTER") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        for name in ("config", "data", "runtime"):
            d = self.tmp / name
            d.mkdir()
            env[f"JUPYTER_{name.upper()}_DIR"] = str(d)
        env["JUPYTER_PLATFORM_DIRS"] = "0"
        env["PYTHONUNBUFFERED"] = "1"
        if os.environ.get("BENCH_SERVER_PYTHONPATH"):  # diagnostics only (e.g. a gc logger)
            env["PYTHONPATH"] = os.environ["BENCH_SERVER_PYTHONPATH"]
        python = sys.executable if self.side == "huddle" else str(REFERENCE_PYTHON)
        self.port = free_port()
        cmd = [
            python, "-m", "jupyter_server",
            "--allow-root", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            *extension_flags(self.side),
            *self.extra_args,
        ]
        self.log_path = self.tmp / "server.log"
        log = self.log_path.open("wb")
        t0 = time.perf_counter()
        nice = self.nice
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=(lambda: os.nice(nice)) if nice else None)
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.side} server exited early:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.http_base}api/status?token={self.token}",
                                            timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.side} server did not start:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)
        self.startup_s = time.perf_counter() - t0
        try:
            self._check_extension()
        except RuntimeError:
            self.stop()
            raise
        return self

    def _check_extension(self) -> None:
        text = self.log_text()
        wanted = "jupyter_huddle" if self.side == "huddle" else "jupyter_server_ydoc"
        unwanted = "jupyter_server_ydoc" if self.side == "huddle" else "jupyter_huddle"
        if not re.search(rf"{wanted}\s*\|\s*extension was successfully loaded", text):
            raise RuntimeError(f"{self.side}: {wanted} did not load:\n{text[-3000:]}")
        if re.search(rf"{unwanted}\s*\|\s*extension was successfully loaded", text):
            raise RuntimeError(f"{self.side}: {unwanted} loaded too")

    def pause(self) -> None:
        """SIGSTOP the server while the other side is measured: no background CPU at all."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)
                os.kill(self.pid, signal.SIGTERM)  # the server only, by its id
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self.tmp is not None and not os.environ.get("BENCH_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses --------------------------------------------------------------------------
    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    # --- measurements -----------------------------------------------------------------------
    def rss_bytes(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process (all its threads)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is state (field 3); utime/stime are fields 14/15 -> index 11/12
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def log_problems(self, since: int = 0) -> dict[str, object]:
        """Error/warning lines and tracebacks written to the server log after offset ``since``."""
        text = self.log_text()[since:]
        lines = [ln for ln in text.splitlines() if "is not trusted" not in ln]
        errors = [ln for ln in lines if ln.startswith(("[E ", "[C ")) or " ERROR " in ln]
        warnings = [ln for ln in lines if ln.startswith("[W ")]
        tracebacks = sum(1 for ln in lines if ln.startswith("Traceback"))
        return {"errors": len(errors), "warnings": len(warnings), "tracebacks": tracebacks,
                "first_errors": errors[:3], "first_warnings": warnings[:3]}

    def log_size(self) -> int:
        return len(self.log_text())


def system_busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine (all cores) since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def wait_quiet(max_wait: float = 20.0, threshold_pct: float = 30.0) -> float:
    """Wait (at most ``max_wait`` s) until the machine is mostly idle: other work on this
    shared 2-core box (test suites, builds) otherwise lands in the middle of a measurement.
    Returns the busy% (100 = one core) of the last 0.5 s window."""
    if max_wait <= 0:
        return float("nan")
    deadline = time.monotonic() + max_wait
    while True:
        b0, t0 = system_busy_seconds(), time.perf_counter()
        time.sleep(0.5)
        busy = 100.0 * (system_busy_seconds() - b0) / (time.perf_counter() - t0)
        if busy < threshold_pct or time.monotonic() > deadline:
            return busy


class CpuMeter:
    """CPU% of the server, this client and everything else over an interval (100 = 1 core)."""

    def __init__(self, server: Server):
        self.server = server
        self.cpu0 = server.cpu_seconds()
        self.t0 = time.perf_counter()
        self.self0 = time.process_time()
        self.sys0 = system_busy_seconds()

    def read(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        server = self.server.cpu_seconds() - self.cpu0
        client = time.process_time() - self.self0
        total = system_busy_seconds() - self.sys0
        return {
            "server_cpu_pct": 100.0 * server / wall,
            "client_cpu_pct": 100.0 * client / wall,
            "other_cpu_pct": max(0.0, 100.0 * (total - server - client) / wall),
            "wall_s": wall,
        }


def git_info(checkout: Path | None = None) -> dict[str, object]:
    """Which Huddle source a server started now would run (it is installed editable), or
    the commit of another ``checkout``."""
    git: dict[str, object] = {}
    with contextlib.suppress(Exception):
        root = checkout if checkout is not None else BENCH_DIR.parent
        git["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                       capture_output=True, text=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "jupyter_huddle"], cwd=root,
                                 capture_output=True, text=True).stdout.splitlines()
        git["uncommitted_server_files"] = len(changed)
    return git


def machine_info() -> dict[str, object]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    versions = {}
    with contextlib.suppress(Exception):
        out = subprocess.run(
            [str(REFERENCE_PYTHON), "-c",
             "import importlib.metadata as m;"
             "print(' '.join(f'{n}=={m.version(n)}' for n in ('jupyter-collaboration',"
             "'jupyter-server-ydoc','pycrdt-websocket','pycrdt-store','pycrdt','jupyter-server',"
             "'tornado')))"],
            capture_output=True, text=True, timeout=30)
        versions["reference"] = out.stdout.strip()
    import importlib.metadata as md
    versions["huddle"] = " ".join(
        f"{n}=={md.version(n)}" for n in ("jupyter-huddle", "pycrdt", "jupyter-server", "tornado",
                                           "websockets"))
    return {"git": git_info(), "nproc": os.cpu_count(), "cpu_model": model, "mem_mib": mem,
            "python": sys.version.split()[0], "kernel": os.uname().release, "versions": versions}
