"""The widget socket's server side without a server: the page's bounded queue and the
``widget_*`` options."""

from __future__ import annotations

import pytest

from jupyter_huddle.collab.sync.close_codes import CloseCode
from jupyter_huddle.server.handlers.widgets import PagePeer
from jupyter_huddle.server.options import HuddleOptions


def peer(limit: int) -> tuple[PagePeer, list[tuple[int, str]]]:
    closes: list[tuple[int, str]] = []
    return PagePeer(limit, lambda code, reason: closes.append((code, reason))), closes


async def test_frames_wait_in_order_text_and_bytes():
    page, closes = peer(3)
    page.send("a")
    page.send(b"\x00b")
    await page.wait()
    assert page.take_all() == ["a", b"\x00b"]
    assert page.take_all() == []
    assert not closes


def test_a_page_that_stops_reading_is_cut_off_and_its_queue_dropped():
    page, closes = peer(3)
    for n in range(3):
        page.send(str(n))
    page.send("one too many")
    assert closes == [(CloseCode.TRY_AGAIN_LATER, "page too slow: widget queue full")]
    assert page.take_all() == []  # nothing of it is written any more
    page.send("after")
    assert page.take_all() == []
    page.close(1008, "again")
    assert len(closes) == 1  # closed once


def test_a_close_from_the_core_keeps_what_was_queued():
    page, closes = peer(10)
    page.send('{"type":"refused"}')
    page.close(1008, "too many refused widget messages")
    assert closes == [(1008, "too many refused widget messages")]
    # (the handler's close writes these before the close frame)
    assert page.take_all() == ['{"type":"refused"}']


def test_widget_options_become_the_widget_settings():
    options = HuddleOptions(widgets_enabled=False, widget_max_message_bytes=4096,
                            widget_messages_per_second=2.5, widget_message_burst=7,
                            widget_save_interval_s=0.5, widget_max_pending_frames=9)
    widgets = options.execution_settings().widgets
    assert widgets.enabled is False
    assert (widgets.max_message_bytes, widgets.messages_per_second, widgets.message_burst,
            widgets.save_interval_s, widgets.max_pending_frames) == (4096, 2.5, 7, 0.5, 9)
    defaults = HuddleOptions().widget_settings()
    assert (defaults.max_models, defaults.max_state_bytes, defaults.max_saved_state_bytes) == (
        2000, 32 * 2**20, 8 * 2**20)


@pytest.mark.parametrize(("name", "value"), [
    ("widget_max_models", 0), ("widget_max_state_bytes", -1),
    ("widget_max_message_bytes", 0), ("widget_message_burst", 0),
    ("widget_max_saved_state_bytes", 0), ("widget_max_pending_frames", 0),
    ("widget_messages_per_second", 0.0), ("widget_save_interval_s", -2.0),
])
def test_widget_options_out_of_range_stop_the_server(name, value):
    with pytest.raises(SystemExit, match=f"HuddleApp.{name} must be"):
        HuddleOptions(**{name: value})
