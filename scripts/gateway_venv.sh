#!/usr/bin/env bash
# Jupyter Enterprise Gateway for the gateway tier (tests/integration/test_gateway.py), in a
# virtualenv of its own: Enterprise Gateway 3.x requires jupyter_server < 2 and
# jupyter_client < 7, which would downgrade what Huddle needs if installed beside it.
# Made once; HUDDLE_GATEWAY_VENV puts it elsewhere (tests/support/gateway.py looks there).
# Tested with jupyter_enterprise_gateway 3.3.0.
set -euo pipefail
venv="${HUDDLE_GATEWAY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/huddle/gateway-venv}"
if [ ! -x "$venv/bin/jupyter-enterprisegateway" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q "jupyter_enterprise_gateway>=3.2,<4" </dev/null
fi
