"""What a share-link guest may reach: an explicit allowlist of (handler class, methods).

Everything else answers 403 to a guest before its handler runs (``ServerAccess``): Jupyter's
own routes, other extensions' routes, and Huddle's owner-only routes (links, grants, roles,
presenting, the user list). Classes are matched exactly, so a subclass registered by another
extension is not let in by inheritance. Each route listed here still checks the guest's role
on the notebook it names.

Not listed on purpose: ``PATCH /api/me`` (jupyter_server answers it by setting a Jupyter
login cookie for whoever asks, which would make a guest a member), and every route that
changes who may do what.
"""

from __future__ import annotations

from collections.abc import Mapping

from jupyter_server.services.api.handlers import IdentityHandler

from .handlers.classroom import CopyHandler
from .handlers.comments import (
    MessageHandler,
    MessagesHandler,
    ThreadActionHandler,
    ThreadsHandler,
)
from .handlers.execute import (
    ExecuteHandler,
    InputHandler,
    KernelActionHandler,
    QueueHandler,
    RequestHandler,
)
from .handlers.export import ExportHandler
from .handlers.history import (
    HistoryViewHandler,
    RestoreHandler,
    UndoHandler,
    VersionHandler,
    VersionsHandler,
)
from .handlers.home import HomeHandler
from .handlers.room import RoomWebSocketHandler
from .handlers.session import CollaborationSessionHandler
from .handlers.share import KernelHandler, MyAccessHandler, ShareLinkHandler
from .handlers.static import BundleHandler
from .handlers.widgets import WidgetWebSocketHandler

_READ = frozenset({"GET", "HEAD"})

GUEST_ROUTES: Mapping[type, frozenset[str]] = {
    # the app's pages and bundle; the share link's own landing page and its form
    HomeHandler: _READ,
    BundleHandler: _READ,
    ShareLinkHandler: _READ | {"POST"},
    # who am I (reading only)
    IdentityHandler: _READ,
    # the notebook's document
    CollaborationSessionHandler: frozenset({"PUT"}),
    RoomWebSocketHandler: frozenset({"GET"}),
    ExportHandler: _READ,
    MyAccessHandler: _READ,
    # running cells, by role
    KernelHandler: frozenset({"POST"}),
    ExecuteHandler: frozenset({"POST"}),
    QueueHandler: _READ,
    RequestHandler: frozenset({"DELETE"}),
    InputHandler: frozenset({"POST"}),
    KernelActionHandler: frozenset({"POST"}),
    # live widgets: everyone who reads receives; sending needs execute (checked inside)
    WidgetWebSocketHandler: frozenset({"GET"}),
    # review threads, by role
    ThreadsHandler: _READ | {"POST"},
    MessagesHandler: frozenset({"POST"}),
    MessageHandler: frozenset({"PATCH", "DELETE"}),
    ThreadActionHandler: frozenset({"POST"}),
    # version history of their notebook, by role (reading: read; naming, restoring: edit)
    VersionsHandler: _READ | {"POST"},
    VersionHandler: _READ | {"PATCH"},
    RestoreHandler: frozenset({"POST"}),
    UndoHandler: frozenset({"POST"}),
    HistoryViewHandler: _READ | {"POST"},
    # personal copies (when HuddleApp.guest_copies allows them)
    CopyHandler: frozenset({"POST"}),
}
