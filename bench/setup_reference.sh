#!/usr/bin/env bash
# Create bench/.venv-reference with the reference RTC server (jupyter-collaboration 5.0.4,
# which brings jupyter_server_ydoc, pycrdt-websocket and pycrdt-store). Idempotent: a venv
# that already imports jupyter_server_ydoc is left alone. Git-ignored (.venv-*).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-reference"
python="${PYTHON:-python3}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import jupyter_server_ydoc" 2>/dev/null; then
    echo "reference venv ready: $venv"
    exit 0
fi
"$python" -m venv "$venv"
# (this machine's pip config lists extra local indexes; drop pip's "is ignored" notices)
quiet() { "$@" 2> >(grep -v "is ignored: it is neither" >&2); }
quiet "$venv/bin/python" -m pip install --quiet --upgrade pip
quiet "$venv/bin/python" -m pip install --quiet "jupyter-collaboration==5.0.4"
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
for name in ("jupyter-collaboration", "jupyter-server-ydoc", "pycrdt-websocket", "pycrdt-store",
             "pycrdt", "jupyter-server", "tornado"):
    try:
        print(f"{name}=={md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name}: not installed")
PY
echo "reference venv ready: $venv"
