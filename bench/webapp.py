"""Huddle's web app in headless Chromium: opening a long notebook, remote typing, bundle size.

    python -m bench.webapp [--runs 7] [--cells 1000] [--keystrokes 200] [--no-save]
                           [--baseline CHECKOUT]

One ``jupyter lab`` subprocess with Huddle *and* JupyterLab (+ jupyter-docprovider, so
JupyterLab co-edits through Huddle's rooms), driven by Playwright with Debian's Chromium
(``/usr/bin/chromium``; never ``playwright install``).

- ``open``: a notebook of ``--cells`` two-line code cells (``bench/fixtures.py``), opened in
  Huddle's app (``/huddle/notebooks/<path>``) and in JupyterLab (``/lab/workspaces/<fresh
  workspace>/tree/<path>``), alternately (the order flips every run), each time in a fresh
  browser context (empty cache) on a fresh copy of the file (a cold room on the server).
  Measured inside the page: from navigation start (``performance.timeOrigin``) to the
  first animation frame in which the first cell's CodeMirror editor is in the viewport,
  editable (``contenteditable=true``) and shows the cell's source. Between runs the kernels
  JupyterLab started are shut down and the machine is let go quiet. Also recorded: the
  JavaScript bytes each page loaded (``decodedBodySize`` of its scripts).
- ``typing``: two browser contexts (two users) on one notebook in Huddle's app; user A
  presses a key ``--keystrokes`` times at the end of cell 1, one at a time; user B's page
  records when it shows each new character. Latency is from A's ``keydown`` to the first
  animation frame after the character is in B's editor (the frame that paints it), both as
  ``performance.timeOrigin + performance.now()`` (one machine, one clock). 10 keystrokes
  of warm-up are not counted.
- ``bundle``: bytes of the minified ``app.js`` and ``app.css`` in ``jupyter_huddle/static``
  (what ``npm run build`` wrote), raw and gzip -9.

With ``--baseline CHECKOUT`` (another checkout of Huddle, e.g. a ``git worktree`` of an
older commit, with its app built by ``npm run build --prefix frontend`` there), a second
server runs that checkout's package (``PYTHONPATH``), and each measurement above is taken on
both, side by side in one run: ``open`` alternates the three pages (this tree, the baseline,
JupyterLab), ``typing`` runs on each, and the bundle of each is reported.

Results: ``bench/results/webapp.json``; a Markdown summary is printed for the "Web app"
section of docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import fixtures
from .servers import UNRELATED_EXTENSIONS, free_port, git_info, machine_info, wait_quiet
from .stats import percentile, summary

RESULTS = Path(__file__).resolve().parent / "results"
STATIC = Path(__file__).resolve().parents[1] / "jupyter_huddle" / "static"
CHROMIUM = os.environ.get("HUDDLE_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}
OPEN_TIMEOUT_MS = 120_000
WARMUP_KEYSTROKES = 10

# Records, from navigation start, the first frame in which `window.__benchReady()` holds.
# A MutationObserver re-checks on every DOM change; the time is taken in the next animation
# frame (the one that paints the change).
READY_PROBE = """
(() => {
  window.__readyAt = null;
  const check = () => {
    if (window.__readyAt !== null || !window.__benchReady || !window.__benchReady()) return;
    requestAnimationFrame(() => {
      if (window.__readyAt === null) window.__readyAt = performance.now();
    });
  };
  new MutationObserver(check).observe(document,
    { childList: true, subtree: true, attributes: true, characterData: true });
  const tick = () => { check(); if (window.__readyAt === null) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
})();
"""

# `window.__benchReady` for each app: the first cell's editor, in view, editable, showing
# `source`.
READY_CHECK = """
(() => {
  const selector = %s;
  const source = %s;
  window.__benchReady = () => {
    const editor = document.querySelector(selector);
    if (!editor || editor.getAttribute('contenteditable') !== 'true') return false;
    const r = editor.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.bottom <= 0 || r.top >= innerHeight) return false;
    return (editor.textContent || '').includes(source);
  };
})();
"""
SELECTORS = {
    "huddle": ".hd-cells > .hd-cell .cm-content",
    "jupyterlab": ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .cm-content",
}

SCRIPT_BYTES = """() => performance.getEntriesByType('resource')
  .filter((e) => e.initiatorType === 'script' || /\\.js(\\?|$)/.test(e.name))
  .reduce((sum, e) => sum + (e.decodedBodySize || 0), 0)"""

# Typing: A stamps every keydown; B counts the typed key in cell 1's editor (text nodes
# only: remote cursors' name flags are skipped) and stamps the frame that paints each one.
KEYDOWN_PROBE = """(key) => {
  window.__keydowns = [];
  window.addEventListener('keydown', (event) => {
    if (event.key === key) window.__keydowns.push(performance.timeOrigin + performance.now());
  }, true);
}"""
RENDER_PROBE = """([key, cellIndex]) => {
  window.__renders = [];
  const content = document.querySelectorAll('.hd-cells > .hd-cell')[cellIndex]
    .querySelector('.cm-content');
  const count = () => {
    let n = 0;
    const walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement && node.parentElement.closest('.cm-ySelectionCaret')) continue;
      for (const ch of node.data) if (ch === key) n++;
    }
    return n;
  };
  let seen = count();
  window.__seenCount = seen;
  new MutationObserver(() => {
    const now = count();
    if (now <= seen) return;
    const fresh = now - seen;
    seen = now;
    requestAnimationFrame(() => {
      const at = performance.timeOrigin + performance.now();
      for (let i = 0; i < fresh; i++) window.__renders.push(at);
      window.__seenCount = window.__renders.length;
    });
  }).observe(content, { childList: true, subtree: true, characterData: true });
}"""


def _log(msg: str) -> None:
    print(msg, flush=True)


# --- the server ----------------------------------------------------------------------------

class LabServer:
    """``python -m jupyterlab`` with Huddle (and jupyter-docprovider, found in the
    environment) on a free loopback port, in a temporary root with Jupyter dirs of its own;
    no other server extension. (``servers.Server`` runs one collaboration stack without
    JupyterLab; this benchmark needs both apps on one server.)"""

    def __init__(self, pythonpath: Path | None = None) -> None:
        # Another checkout's package instead of the installed one (--baseline).
        self.pythonpath = pythonpath
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-webapp-"))
        self.root = self.tmp / "root"
        self.root.mkdir()
        self.port = free_port()
        self.token = "bench-token"
        self.http_base = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> LabServer:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("JUPYTER") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        for name in ("config", "data", "runtime"):
            (self.tmp / name).mkdir()
            env[f"JUPYTER_{name.upper()}_DIR"] = str(self.tmp / name)
        env["PYTHONUNBUFFERED"] = "1"
        if self.pythonpath is not None:
            env["PYTHONPATH"] = str(self.pythonpath)
        enabled = {name: False for name in UNRELATED_EXTENSIONS}
        enabled.update(jupyterlab=True, jupyter_huddle=True, jupyter_server_fileid=True,
                       jupyter_server_ydoc=False)
        cmd = [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}", f"--ServerApp.jpserver_extensions={enabled!r}",
               "--ServerApp.log_level=WARN"]
        log = (self.tmp / "server.log").open("wb")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log()[-3000:]}")
            with contextlib.suppress(OSError):
                http(self, "GET", "api/status")
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def log(self) -> str:
        return (self.tmp / "server.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the server only, by its id
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if not os.environ.get("BENCH_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def http(server: LabServer, method: str, path: str) -> Any:
    request = urllib.request.Request(f"{server.http_base}{path}", method=method,
                                     headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


def shut_down_kernels(server: LabServer) -> None:
    """JupyterLab starts the notebook's kernel when it opens it: stop them between runs."""
    for session in http(server, "GET", "api/sessions"):
        http(server, "DELETE", f"api/sessions/{session['id']}")


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# --- open -----------------------------------------------------------------------------------

def open_once(browser: Any, server: LabServer, side: str, path: str, source: str,
              workspace: str) -> dict[str, float]:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        selector = SELECTORS["jupyterlab" if side == "jupyterlab" else "huddle"]
        context.add_init_script(READY_CHECK % (json.dumps(selector), json.dumps(source)))
        context.add_init_script(READY_PROBE)
        page = context.new_page()
        url = (f"{server.http_base}huddle/notebooks/{path}" if side != "jupyterlab"
               else f"{server.http_base}lab/workspaces/{workspace}/tree/{path}")
        page.goto(f"{url}?token={server.token}", wait_until="commit")
        page.wait_for_function("() => window.__readyAt !== null", timeout=OPEN_TIMEOUT_MS,
                               polling=100)
        ready_ms = float(page.evaluate("window.__readyAt"))
        script_bytes = float(page.evaluate(SCRIPT_BYTES))
        return {"ready_ms": ready_ms, "script_bytes": script_bytes}
    finally:
        context.close()


def bench_open(browser: Any, server: LabServer, runs: int, cells: int,
               baseline: LabServer | None = None) -> dict[str, Any]:
    source = fixtures.code_notebook(cells).cells[0].source.splitlines()[0]
    servers = {"huddle": server, "jupyterlab": server}
    if baseline is not None:
        servers["baseline"] = baseline
    sides = list(servers)
    samples: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    for run in range(-1, runs):  # run -1: warm-up (server imports, Chromium start), not kept
        # Each side goes first in turn.
        order = sides[run % len(sides):] + sides[:run % len(sides)]
        for side in order:
            name = f"open-{side}-{run + 1}.ipynb"
            on = servers[side]
            shutil.copyfile(fixtures.cells_fixture(cells), on.root / name)
            wait_quiet()
            result = open_once(browser, on, side, name, source, f"bench-{side}-{run + 1}")
            shut_down_kernels(on)
            if run >= 0:
                samples[side].append(result)
                _log(f"  open run {run + 1} {side:10} {result['ready_ms']:7.0f} ms "
                     f"({result['script_bytes'] / 1e6:.2f} MB of JavaScript)")
    huddle = [s["ready_ms"] for s in samples["huddle"]]
    lab = [s["ready_ms"] for s in samples["jupyterlab"]]
    compared: dict[str, Any] = {}
    if baseline is not None:
        base = [s["ready_ms"] for s in samples["baseline"]]
        compared = {
            "baseline_ms": summary(base),
            "vs_baseline": summary([h / b for h, b in zip(huddle, base, strict=True)]),
            "baseline_script_bytes": statistics.median(
                s["script_bytes"] for s in samples["baseline"]),
        }
    return {
        **compared,
        "cells": cells,
        "runs": runs,
        "samples": samples,
        "huddle_ms": summary(huddle),
        "jupyterlab_ms": summary(lab),
        "ratio": summary([h / j for h, j in zip(huddle, lab, strict=True)]),
        "huddle_script_bytes": statistics.median(s["script_bytes"] for s in samples["huddle"]),
        "jupyterlab_script_bytes": statistics.median(
            s["script_bytes"] for s in samples["jupyterlab"]),
    }


# --- typing ---------------------------------------------------------------------------------

def bench_typing(browser: Any, server: LabServer, keystrokes: int) -> dict[str, Any]:
    name = "typing.ipynb"
    shutil.copyfile(fixtures.cells_fixture(10), server.root / name)
    contexts = [browser.new_context(viewport=VIEWPORT) for _ in range(2)]
    try:
        writer, reader = (context.new_page() for context in contexts)
        for page in (writer, reader):
            page.goto(f"{server.http_base}huddle/notebooks/{name}?token={server.token}")
            page.wait_for_function(
                "() => document.querySelector('.hd-status')?.textContent === 'Live'"
                " && document.querySelectorAll('.hd-cells .cm-content').length > 1",
                timeout=OPEN_TIMEOUT_MS)
        key, cell_index = "q", 1  # the fixture's sources have no "q"
        writer.evaluate(KEYDOWN_PROBE, key)
        reader.evaluate(RENDER_PROBE, [key, cell_index])
        writer.locator(".hd-cells > .hd-cell").nth(cell_index).locator(".cm-content").click()
        writer.keyboard.press("End")
        wait_quiet()
        for i in range(1, WARMUP_KEYSTROKES + keystrokes + 1):
            writer.keyboard.press(key)
            reader.wait_for_function("(n) => window.__seenCount >= n", arg=i, timeout=10_000,
                                     polling="raf")
        downs = writer.evaluate("window.__keydowns")[WARMUP_KEYSTROKES:]
        renders = reader.evaluate("window.__renders")[WARMUP_KEYSTROKES:]
    finally:
        for context in contexts:
            context.close()
    latencies = [r - d for d, r in zip(downs, renders, strict=True)]
    return {
        "keystrokes": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "min_ms": min(latencies),
        "latencies_ms": latencies,
    }


# --- bundle ---------------------------------------------------------------------------------

def bench_bundle(static: Path = STATIC) -> dict[str, Any]:
    sizes: dict[str, Any] = {}
    for name in ("app.js", "app.css"):
        data = (static / name).read_bytes()
        sizes[name] = {"bytes": len(data), "gzip_bytes": len(gzip.compress(data, 9))}
    fonts = static / "fonts"
    sizes["fonts_bytes"] = sum(f.stat().st_size for f in fonts.iterdir()) if fonts.is_dir() else 0
    return sizes


# --- report ---------------------------------------------------------------------------------

def baseline_markdown(result: dict[str, Any]) -> list[str]:
    """This tree against --baseline, side by side (empty without one)."""
    if "baseline" not in result:
        return []
    o, t, tb = result["open"], result["typing"], result["baseline"]["typing"]
    hm, bm, ratio = o["huddle_ms"], o["baseline_ms"], o["vs_baseline"]
    js, bjs = result["bundle"]["app.js"], result["baseline"]["bundle"]["app.js"]
    return [
        "",
        f"Against the baseline checkout at commit {result['baseline']['git'].get('commit')}, "
        "side by side in the same run:",
        "",
        "| what | this tree | baseline | this/baseline |",
        "|---|---:|---:|---:|",
        f"| {o['cells']} cells: navigation → first cell visible and editable "
        f"(median [min–max] of {o['runs']}) | {hm['median']:.0f} ms [{hm['min']:.0f}–"
        f"{hm['max']:.0f}] | {bm['median']:.0f} ms [{bm['min']:.0f}–{bm['max']:.0f}] | "
        f"{ratio['median']:.2f}× [{ratio['min']:.2f}–{ratio['max']:.2f}] |",
        f"| keystroke → remote render p50 / p95 / p99 ({t['keystrokes']} keystrokes) | "
        f"{t['p50_ms']:.1f} / {t['p95_ms']:.1f} / {t['p99_ms']:.1f} ms | "
        f"{tb['p50_ms']:.1f} / {tb['p95_ms']:.1f} / {tb['p99_ms']:.1f} ms | "
        f"{t['p50_ms'] / tb['p50_ms']:.2f}× (p50) |",
        f"| `app.js` minified (gzipped) | {js['bytes']:,} ({js['gzip_bytes']:,}) | "
        f"{bjs['bytes']:,} ({bjs['gzip_bytes']:,}) | {js['bytes'] / bjs['bytes']:.2f}× |",
        f"| JavaScript loaded by the open page (decoded) | "
        f"{o['huddle_script_bytes'] / 1e6:.2f} MB | {o['baseline_script_bytes'] / 1e6:.2f} MB | "
        f"{o['huddle_script_bytes'] / o['baseline_script_bytes']:.2f}× |",
    ]


def markdown(result: dict[str, Any]) -> str:
    o, t, b = result["open"], result["typing"], result["bundle"]
    hm, jm, ratio = o["huddle_ms"], o["jupyterlab_ms"], o["ratio"]
    js, css = b["app.js"], b["app.css"]
    return "\n".join([
        f"Measured on {result['date']} at commit {result['git'].get('commit')} with "
        f"`{result['command']}` ({result['wall_s'] / 60:.1f} min).",
        "",
        "| what | Huddle's app | JupyterLab 4 | Huddle/JupyterLab |",
        "|---|---:|---:|---:|",
        f"| {o['cells']} cells: navigation → first cell visible and editable "
        f"(median [min–max] of {o['runs']}) | {hm['median']:.0f} ms [{hm['min']:.0f}–"
        f"{hm['max']:.0f}] | {jm['median']:.0f} ms [{jm['min']:.0f}–{jm['max']:.0f}] | "
        f"{ratio['median']:.2f}× [{ratio['min']:.2f}–{ratio['max']:.2f}] |",
        f"| JavaScript loaded by that page (decoded) | {o['huddle_script_bytes'] / 1e6:.2f} MB "
        f"| {o['jupyterlab_script_bytes'] / 1e6:.2f} MB | "
        f"{o['huddle_script_bytes'] / o['jupyterlab_script_bytes']:.2f}× |",
        "",
        f"Keystroke → remote render, two browsers on loopback, {t['keystrokes']} keystrokes: "
        f"p50 **{t['p50_ms']:.1f} ms**, p95 {t['p95_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms "
        f"(min {t['min_ms']:.1f}, max {t['max_ms']:.1f}).",
        "",
        f"Bundle: `app.js` {js['bytes']:,} bytes minified ({js['bytes'] / 2**20:.2f} MiB; "
        f"{js['gzip_bytes']:,} gzipped), `app.css` {css['bytes']:,} bytes "
        f"({css['gzip_bytes']:,} gzipped), KaTeX fonts {b['fonts_bytes']:,} bytes.",
        *baseline_markdown(result),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--keystrokes", type=int, default=200)
    parser.add_argument("--no-save", action="store_true", help="do not write the JSON results")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout of Huddle (app built) to measure side by side")
    args = parser.parse_args(argv)
    for root in (STATIC.parents[1], args.baseline):
        static = root / "jupyter_huddle" / "static" if root is not None else None
        if static is not None and not (static / "app.js").is_file():
            _log(f"{static}/app.js is missing: npm run build --prefix frontend")
            return 2
    started = time.perf_counter()
    result: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "command": "python -m bench.webapp " + shlex.join(sys.argv[1:] if argv is None else argv),
        "git": git_info(),
        "machine": machine_info(),
        "bundle": bench_bundle(),
    }
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(LabServer())
        baseline = None
        if args.baseline is not None:
            baseline = stack.enter_context(LabServer(args.baseline.resolve()))
            result["baseline"] = {
                "path": str(args.baseline), "git": git_info(args.baseline),
                "bundle": bench_bundle(args.baseline / "jupyter_huddle" / "static")}
        browser = stack.enter_context(chromium())
        result["chromium"] = browser.version
        _log(f"open: {args.cells} cells, {args.runs} runs per app")
        result["open"] = bench_open(browser, server, args.runs, args.cells, baseline)
        _log(f"typing: {args.keystrokes} keystrokes")
        result["typing"] = bench_typing(browser, server, args.keystrokes)
        if baseline is not None:
            _log(f"typing on the baseline: {args.keystrokes} keystrokes")
            result["baseline"]["typing"] = bench_typing(browser, baseline, args.keystrokes)
    result["wall_s"] = time.perf_counter() - started
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "webapp.json").write_text(json.dumps(result, indent=1))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
