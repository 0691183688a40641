"""py-spy sampling of a server under load, and a summary of the collapsed stacks.

``py-spy record --format raw`` writes one line per distinct stack: ``frame;frame;... count``
with frames like ``func (path/file.py:123)``. The summary gives, over all samples:
- self time per function (the innermost frame),
- inclusive time per function (once per stack it appears in),
- self time per package (first path component under site-packages, or the stdlib module).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

# Server start-up and event-loop frames under every busy stack; left out of the inclusive table.
ROOT_FRAMES = {"<module>", "_run_module_as_main", "_run_code", "Application.launch_instance",
               "JupyterApp.launch_instance", "ServerApp.start", "ServerApp.start_ioloop",
               "BaseAsyncIOLoop.start", "BaseEventLoop.run_forever", "BaseEventLoop._run_once",
               "Handle._run"}
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


class Recorder:
    """Run ``py-spy record`` against a PID until ``stop()`` (non-blocking sampling, idle
    samples included so that busy time can be told from time waiting in the selector)."""

    def __init__(self, pid: int, out: Path, rate: int = 100):
        self.out = out
        self.rate = rate
        self.proc: subprocess.Popen[bytes] | None = None
        exe = shutil.which("py-spy")
        if exe is None:
            raise RuntimeError("py-spy is not installed (pip install py-spy)")
        out.parent.mkdir(parents=True, exist_ok=True)
        self.cmd = [exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
                    "--nonblocking", "--idle", "--threads", "--output", str(out)]
        self.stderr = out.with_suffix(".log")
        self.t0 = 0.0
        self.duration = 0.0

    def start(self) -> Recorder:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL,
                                     stderr=self.stderr.open("wb"))
        time.sleep(1.0)  # let it attach before the measured phase starts
        self.t0 = time.perf_counter()
        return self

    def stop(self, timeout: float = 60) -> None:
        if self.proc is None:
            return
        self.duration = time.perf_counter() - self.t0
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)


def _package(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/jupyter_huddle/" in path:
        rest = path.split("/jupyter_huddle/", 1)[1]
        return "jupyter_huddle/" + rest.split("/", 1)[0].removesuffix(".py")
    if "/lib/python3" in path:
        tail = path.split("/lib/python3", 1)[1].split("/", 1)[-1]
        return "stdlib:" + tail.split("/", 1)[0].removesuffix(".py")
    return path or "?"


def _short(frame: str) -> str:
    m = FRAME.match(frame)
    if not m:
        return frame
    file = m.group("file")
    for marker in ("site-packages/", "/work/main/", "/lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({file})"


def summarize(raw: Path, top: int = 20) -> dict[str, object]:
    """Percentages are of the *busy* samples of the main thread (the event loop); samples
    waiting in the selector are counted apart, and other threads are left out."""
    total = 0
    self_fn: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    self_pkg: Counter[str] = Counter()
    idle = 0
    main_samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        parts = stack.split(";")
        thread = next((f for f in parts if f.startswith("thread (")), "")
        frames = [f for f in parts if f and not f.startswith(("thread (", "process "))]
        if not frames:
            continue
        if thread and "MainThread" not in thread:
            # Other threads (aiosqlite, anyio workers, file watching) are sampled idle or not
            # alike with --idle; they are left out (they rarely hold the GIL for long).
            continue
        main_samples += count
        leaf = frames[-1]
        m = FRAME.match(leaf)
        if m and m.group("func").split(".")[-1] in ("select", "poll") and \
                "selectors" in (m.group("file") or ""):
            idle += count
            continue
        total += count
        self_fn[_short(leaf)] += count
        self_pkg[_package(m.group("file") if m else leaf)] += count
        for name in {_short(f) for f in frames}:
            incl_fn[name] += count

    def pct(counter: Counter[str], skip_roots: bool = False) -> list[tuple[str, float]]:
        if not total:
            return []
        items = counter.most_common()
        if skip_roots:  # frames on (nearly) every stack: the event loop and server start-up
            items = [(n, c) for n, c in items
                     if c < 0.9 * total and n.split(" (")[0] not in ROOT_FRAMES]
        return [(name, 100.0 * n / total) for name, n in items[:top]]

    result: dict[str, object] = {
        "samples": total, "idle_samples": idle, "main_samples": main_samples,
        "busy_pct": 100.0 * total / main_samples if main_samples else 0.0,
        "self": pct(self_fn), "inclusive": pct(incl_fn, skip_roots=True), "packages": pct(self_pkg),
    }
    return result


def to_markdown(title: str, summary: dict[str, object]) -> str:
    lines = [f"#### {title}", ""]
    secs = summary.get("seconds")
    lines.append(f"Event-loop thread: {summary['main_samples']} samples"
                 + (f" over {secs:.1f} s at {summary.get('rate_hz')} Hz" if secs else "")
                 + f", busy (not waiting in the selector) in {summary['busy_pct']:.0f}% of them; "
                 f"the tables are percentages of those {summary['samples']} busy samples.")
    lines.append("")
    for key, heading in (("packages", "self time by package/module"),
                         ("self", "self time by function"),
                         ("inclusive",
                          "inclusive time by function (event-loop and start-up frames omitted)")):
        lines.append(f"| {heading} | % of samples |")
        lines.append("|---|---:|")
        for name, p in summary[key]:  # type: ignore[union-attr]
            lines.append(f"| `{name}` | {p:.1f} |")
        lines.append("")
    return "\n".join(lines)
