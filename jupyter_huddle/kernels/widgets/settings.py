"""What the widget side of the server is configured with (``HuddleApp.widget_*``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WidgetSettings:
    """Bounds of the widget state kept per kernel and of what each page may send."""

    enabled: bool = True
    # Live models kept per kernel; a comm opened beyond it is not shared (logged).
    max_models: int = 2000
    # JSON plus binary buffers kept per kernel; a model that grows past it stops being
    # shared (the pages are told it closed).
    max_state_bytes: int = 32 * 2**20
    # One frame from a page.
    max_message_bytes: int = 2**20
    # What one page may send to the kernel: a token bucket.
    messages_per_second: float = 60.0
    message_burst: int = 120
    # How often changed state is written into the notebook's metadata (and so saved).
    # (each write saves the file: every 2 s cost a slider drag ~5 % of a core in saves)
    save_interval_s: float = 5.0
    # Larger state is not written into the notebook.
    max_saved_state_bytes: int = 8 * 2**20
    # Frames queued for one slow page before it is cut off (the transport's bound).
    max_pending_frames: int = 2000
