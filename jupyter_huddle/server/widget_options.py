"""The ``HuddleApp.widget_*`` options (docs/WIDGETS.md, "Bounds") and the settings built
from them.

A mixin of ``HuddleOptions``, kept apart only for size: each option is still
``HuddleApp.<name>``, and its range is checked by ``HuddleOptions``' validators with the
others.
"""

from __future__ import annotations

from traitlets import Bool, Float, HasTraits, Int

from ..kernels.widgets.settings import WidgetSettings

MIB = 2**20


class WidgetOptions(HasTraits):
    """Live Jupyter widgets: on or off, and the bounds of their state and traffic."""

    widgets_enabled = Bool(
        True, config=True,
        help="Live Jupyter widgets (ipywidgets, anywidget) in Huddle's web app, one state "
        "per kernel shared by everyone in the notebook (default True). Off: no widget "
        "socket (404) and widget outputs show as their text.",
    )
    widget_max_models = Int(
        2000, config=True,
        help="Live widget models kept per kernel (default 2000). Comms the kernel opens "
        "beyond it are not shared with the pages (a warning is logged).",
    )
    widget_max_state_bytes = Int(
        32 * MIB, config=True,
        help="Widget state kept per kernel, JSON plus binary buffers, in bytes (default "
        "32 MiB). A model that grows past it stops being shared.",
    )
    widget_max_message_bytes = Int(
        1 * MIB, config=True,
        help="Largest frame, in bytes, a page may send on its widget socket (default "
        "1 MiB). Larger ones are refused; twice this closes the socket (1009).",
    )
    widget_messages_per_second = Float(
        60.0, config=True,
        help="Widget messages per second one page may send to the kernel (default 60), "
        "after a burst of widget_message_burst; more are refused, and a page that keeps "
        "flooding is disconnected (1008).",
    )
    widget_message_burst = Int(
        120, config=True,
        help="Widget messages one page may send at once before widget_messages_per_second "
        "applies (default 120).",
    )
    widget_save_interval_s = Float(
        5.0, config=True,
        help="Changed widget state is written into the notebook's metadata at most this "
        "often, in seconds (default 5). Shorter keeps the saved file closer to the live "
        "widgets but saves more often while someone drags a slider.",
    )
    widget_max_saved_state_bytes = Int(
        8 * MIB, config=True,
        help="Widget state larger than this, in bytes, is not written into the notebook "
        "(default 8 MiB; logged): the file would grow by the whole state on every save.",
    )
    widget_max_pending_frames = Int(
        2000, config=True,
        help="Widget frames queued for one page that reads slowly before it is "
        "disconnected (default 2000; code 1013). It gets a fresh snapshot when it comes "
        "back.",
    )

    def widget_settings(self) -> WidgetSettings:
        """The widgets' settings, as the execution service takes them."""
        return WidgetSettings(
            enabled=self.widgets_enabled,
            max_models=self.widget_max_models,
            max_state_bytes=self.widget_max_state_bytes,
            max_message_bytes=self.widget_max_message_bytes,
            messages_per_second=self.widget_messages_per_second,
            message_burst=self.widget_message_burst,
            save_interval_s=self.widget_save_interval_s,
            max_saved_state_bytes=self.widget_max_saved_state_bytes,
            max_pending_frames=self.widget_max_pending_frames,
        )
