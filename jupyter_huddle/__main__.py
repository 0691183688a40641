"""``python -m jupyter_huddle`` is ``jupyter huddle``."""

from __future__ import annotations

from .server.app import main

if __name__ == "__main__":
    main()  # type: ignore[no-untyped-call]  # traitlets' launch_instance is untyped
