#!/usr/bin/env bash
# Install everything the tests need, then run the whole suite.
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian's Chromium for the browser tests (never `playwright install`: no internet here).
if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq </dev/null
  as_root apt-get install -y -qq chromium </dev/null >/dev/null
fi

# The web app's packages (the editable install below builds the app with them).
npm ci --prefix frontend --no-audit --no-fund --loglevel=error </dev/null
python3 -m pip install -q -e ".[test,lab]" </dev/null

# Enterprise Gateway for the gateway tier, in a virtualenv of its own (see the script).
bash scripts/gateway_venv.sh

# Node peers for the interop tests (npm's yjs + y-websocket, as JupyterLab uses them).
npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error </dev/null

# The web app's unit tests (type check + node --test).
npm test --prefix frontend --silent </dev/null

# The browser, Node and gateway tiers skip themselves when their tools are missing; here, where
# the tools were just installed, a skip would hide a broken setup: make it a failure.
export HUDDLE_E2E_REQUIRED=1 HUDDLE_INTEROP_REQUIRED=1 HUDDLE_GATEWAY_REQUIRED=1
# On several processes (pytest-xdist, docs/DEVELOPMENT.md): most tests wait on servers,
# kernels, browsers and Node peers, so more workers than cores pay. HUDDLE_TEST_WORKERS=0
# runs the suite in one process.
python3 -m pytest -n "${HUDDLE_TEST_WORKERS:-3}" "$@" </dev/null
