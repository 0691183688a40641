"""The security tier: a real server, tried as someone holding a share link would try it.

Each module takes one point of the trust boundary (a guest never becomes a member, only
the server speaks as the server, ...) and acts as the attacker: only the guest's cookies,
XSRF sent as a browser sends it, hand-made frames on real sockets.
"""

from __future__ import annotations

from typing import Any

import pytest

FAST_SAVES = {"save_delay_s": 0.1, "max_save_delay_s": 0.5, "room_cleanup_delay_s": 0.5,
              "save_retry_delay_s": 0.2}


@pytest.fixture
def huddle_config() -> dict[str, Any]:
    return dict(FAST_SAVES)
