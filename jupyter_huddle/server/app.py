"""The Jupyter Server extension, and the ``jupyter huddle`` command that launches it."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp

from .._version import __version__
from ..collab.access.copies import PersonalCopies
from ..collab.access.limiter import RateLimiter
from ..collab.access.rights import disconnect_on_rights_change
from ..collab.access.roles import Role
from ..collab.access.service import AccessService
from ..collab.history import HistoryService
from ..collab.review import ReviewService
from ..collab.rooms.manager import RoomManager
from ..collab.store import MemoryStore, ServerStore, SQLiteStore, UpdateStore
from ..kernels.requests import ExecutionRequest
from ..kernels.service import ExecutionService
from .access import ServerAccess
from .contents_backend import ContentsFileBackend
from .contents_folders import ContentsFolders
from .file_watcher import FileWatcher
from .guest_routes import GUEST_ROUTES
from .handlers.classroom import routes as classroom_routes
from .handlers.comments import routes as comment_routes
from .handlers.execute import (
    ExecuteHandler,
    InputHandler,
    KernelActionHandler,
    QueueHandler,
    RequestHandler,
)
from .handlers.export import ExportHandler
from .handlers.history import routes as history_routes
from .handlers.home import STATIC_DIR, HomeHandler
from .handlers.room import RoomWebSocketHandler
from .handlers.session import CollaborationSessionHandler
from .handlers.share import routes as share_routes
from .handlers.static import BundleHandler
from .handlers.widgets import OpenPages, WidgetWebSocketHandler
from .kernel_access import ServerKernels
from .options import HuddleOptions, refuse

# Extensions that register the same /api/collaboration routes: running both would leave
# it to chance which one serves a room.
CONFLICTING_EXTENSIONS = ("jupyter_server_ydoc", "jupyter_server_documents")
CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"
KERNEL_ACTIONS_EVENTS = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"
EXECUTION_SCHEMA_ID = "https://events.jupyter-huddle.dev/huddle/execution/v1"
EXECUTION_SCHEMA_PATH = Path(__file__).parent / "event_schemas" / "execution.yaml"
COMMENTS_SCHEMA_ID = "https://events.jupyter-huddle.dev/huddle/comments/v1"
COMMENTS_SCHEMA_PATH = Path(__file__).parent / "event_schemas" / "comments.yaml"


class HuddleApp(HuddleOptions, ExtensionApp):
    """The extension: builds the core from the options (``HuddleOptions``), registers the
    routes, and listens to the server's contents and kernel events."""

    name = "huddle"
    extension_url = "/huddle"
    default_url = "/huddle"
    load_other_extensions = True
    description = "Huddle: real-time collaborative notebooks with one shared kernel."
    version = __version__
    # Applied only when launched as `jupyter huddle`. Root is allowed there because the
    # server listens on 127.0.0.1 with a token, and containers commonly run as root.
    serverapp_config: dict[str, Any] = {  # noqa: RUF012 - overrides ExtensionApp's attribute
        "jpserver_extensions": {"jupyter_server_fileid": True},
        "allow_root": True,
    }

    def make_store(self) -> UpdateStore:
        """The update store ``store_path`` names (memory for ':memory:')."""
        if self.store_path == ":memory:":
            return MemoryStore()
        path = Path(self.store_path) if self.store_path else (
            Path(jupyter_data_dir()) / "huddle" / "store.sqlite")
        return SQLiteStore(path.expanduser(), commit_interval_ms=self.store_commit_interval_ms,
                           max_queue_bytes=self.max_store_queue_bytes)

    @property
    def server(self) -> Any:
        """The ServerApp this extension is loaded into (set before initialize_settings)."""
        if self.serverapp is None:
            raise RuntimeError("the extension is not linked to a server")
        return self.serverapp

    def initialize_settings(self) -> None:
        """Build the core from the options: rooms over the contents manager and the store,
        execution, review threads and access; then listen to the server's events."""
        # The core logs under "jupyter_huddle.*"; route it through the server's handlers
        # and level, so it appears formatted in the server log like everything else.
        logging.getLogger("jupyter_huddle").parent = self.log
        self._refuse_conflicting_extensions()
        web_settings = self.server.web_app.settings
        self._build_rooms(web_settings)
        page_config = web_settings.setdefault("page_config_data", {})
        page_config["disableRTC"] = self.disable_rtc
        page_config["serverSideExecution"] = self.server_side_execution
        self._build_services()
        self._build_access()
        self._listen_for_kernel_actions()
        self._listen_for_renames()

    def _build_rooms(self, web_settings: dict[str, Any]) -> None:
        # The file id service is another extension that may load after this one: look it
        # up when first needed.
        self.backend = ContentsFileBackend(
            self.server.contents_manager, lambda: web_settings["file_id_manager"]
        )
        # One store object for rooms, bindings and access alike (it falls back inside).
        self.store = ServerStore(self.make_store())
        self.rooms = RoomManager(self.collab_settings(), self.backend, self.store,
                                 self.history_settings())
        root_dir = getattr(self.server.contents_manager, "root_dir", None)
        # Notifications need files on a local disk; other contents managers are polled.
        self.file_watcher = FileWatcher(root_dir, self.rooms.file_changed) if (
            isinstance(root_dir, str) and os.path.isdir(root_dir)) else None
        self.rooms.file_watch = self.file_watcher

    def _build_services(self) -> None:
        self.kernels = ServerKernels(self.server.kernel_manager, self.server.session_manager,
                                     self.backend.path_for)
        self.execution = ExecutionService(self.rooms, self.kernels, self.execution_settings(),
                                          self._emit_execution_event)
        self.server.event_logger.register_event_schema(EXECUTION_SCHEMA_PATH)
        self.server.event_logger.register_event_schema(COMMENTS_SCHEMA_PATH)
        self.review = ReviewService(self.rooms, self.rooms.users, self._emit_comment_event,
                                    self.review_limits())
        self.history = HistoryService(self.rooms, self.store, self.rooms.history_settings)

    def _build_access(self) -> None:
        self.access = AccessService(
            self.store, owners=set(self.owners), member_role=Role(self.member_role),
            limiter=RateLimiter(max_failures=self.share_link_attempts_per_minute),
            open_store=self.rooms.start)
        self.access.listeners.append(disconnect_on_rights_change(self.rooms, self.access))
        self.widget_pages = OpenPages(self.access)
        self.access.listeners.append(self.widget_pages.rights_changed)
        self.server_access = ServerAccess(self.access, guest_copies=self.guest_copies)
        self.copies = PersonalCopies(self.rooms, self.backend,
                                     ContentsFolders(self.server.contents_manager), self.access,
                                     self.copies_dir, self.max_copies_per_person)
        self.server_access.install(self.server.identity_provider, self.server.authorizer,
                                   guest_routes=GUEST_ROUTES)

    def _refuse_conflicting_extensions(self) -> None:
        enabled = self.server.jpserver_extensions
        clash = [name for name in CONFLICTING_EXTENSIONS
                 if enabled.get(name) and importlib.util.find_spec(name) is not None]
        if clash:
            raise refuse(
                f"cannot run alongside {', '.join(clash)}: both serve /api/collaboration. "
                f"Disable it with `jupyter server extension disable {clash[0]}` (or "
                "uninstall jupyter-collaboration) and start again."
            )
        if not enabled.get("jupyter_server_fileid"):
            raise refuse(
                "needs the jupyter_server_fileid extension: enable it with "
                "`jupyter server extension enable jupyter_server_fileid`."
            )

    def _emit_execution_event(self, action: str, request: ExecutionRequest) -> None:
        data: dict[str, Any] = {
            "action": action, "request_id": request.id, "batch_id": request.batch_id,
            "username": request.user.username, "document_id": str(request.room_id),
            "cell_id": request.cell_id, "kernel_id": request.kernel_id,
            "execution_count": request.execution_count,
        }
        if request.reason:
            data["reason"] = request.reason
        self.server.event_logger.emit(schema_id=EXECUTION_SCHEMA_ID, data=data)

    def _emit_comment_event(self, data: dict[str, Any]) -> None:
        self.server.event_logger.emit(schema_id=COMMENTS_SCHEMA_ID, data=data)

    def _listen_for_kernel_actions(self) -> None:
        execution = self.execution

        async def on_kernel_action(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
            kernel_id, action = data.get("kernel_id"), data.get("action")
            if not isinstance(kernel_id, str) or data.get("status") != "success":
                return
            if action == "restart":
                await execution.kernel_restarted(kernel_id, "the kernel restarted")
            elif action == "shutdown":
                await execution.kernel_gone(kernel_id, "the kernel was shut down")
            elif action == "interrupt":
                execution.interrupted(kernel_id)

        self.server.event_logger.add_listener(schema_id=KERNEL_ACTIONS_EVENTS,
                                              listener=on_kernel_action)

    def _listen_for_renames(self) -> None:
        rooms, backend = self.rooms, self.backend

        async def on_contents_event(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
            action, path, source = data.get("action"), data.get("path"), data.get("source_path")
            if not isinstance(path, str):
                return
            if action == "delete":
                await rooms.files_deleted(path)
                return
            if action not in ("rename", "save") or not rooms:
                return
            # Let the file id service record the move first (it listens too).
            await asyncio.sleep(0)
            file_id = backend.known_file_id(path)
            if action == "rename" and isinstance(source, str):
                await rooms.files_moved(source, file_id)
            elif file_id is not None:
                await rooms.refresh_paths(file_id)

        self.server.event_logger.add_listener(schema_id=CONTENTS_EVENTS,
                                              listener=on_contents_event)

    def initialize_handlers(self) -> None:
        """Register Huddle's routes (the guest allowlist is ``guest_routes.GUEST_ROUTES``)."""
        access = self.server_access
        execution = {"service": self.execution, "access": access, "kernels": self.kernels,
                     "backend": self.backend}
        self.handlers.extend([
            (r"/api/collaboration/session/(.+)", CollaborationSessionHandler,
             {"backend": self.backend, "manager": self.rooms, "access": access}),
            (r"/api/collaboration/room/([^/]+)", RoomWebSocketHandler,
             {"manager": self.rooms, "settings": self.rooms.settings, "access": access}),
            (r"/api/kernels/([^/]+)/execute", ExecuteHandler, execution),
            (r"/api/huddle/export/([^/]+)", ExportHandler,
             {"manager": self.rooms, "access": access}),
            (r"/api/huddle/queue/([^/]+)", QueueHandler, execution),
            (r"/api/huddle/requests/([0-9a-f]{1,64})", RequestHandler, execution),
            (r"/api/huddle/requests/([0-9a-f]{1,64})/input", InputHandler, execution),
            (r"/api/huddle/kernels/([^/]+)/(interrupt|restart)", KernelActionHandler,
             execution),
            (r"/api/huddle/widgets/([^/]+)", WidgetWebSocketHandler,
             {"service": self.execution.widgets, "settings": self.execution.settings.widgets,
              "access": access, "pages": self.widget_pages}),
            *comment_routes(self.review, access),
            *history_routes(self.history, access),
            *share_routes(access, self.backend, self.kernels, self.copies_dir,
                          self.max_copy_kernels),
            *classroom_routes(access, self.rooms, self.copies),
            *HomeHandler.web_app_routes(access, self.backend),
            (r"/huddle/static/(.*)", BundleHandler, {"path": str(STATIC_DIR)}),
        ])

    async def _shut_down(self) -> None:
        self.access.close()
        await self.execution.close()  # running cells go idle, then the rooms save
        await self.rooms.close_all()

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        # Open the store now rather than on the first request (tests start it lazily).
        await self.rooms.start()
        # The server is up: move the ~200 000 objects of start-up (modules, Jupyter and
        # Tornado state) out of the collector's reach. Otherwise every full collection
        # scans them all, a ~80 ms pause about once a second under load, which is the
        # whole tail of fan-out latency.
        gc.collect()
        gc.freeze()

    async def stop_extension(self) -> None:
        """At server shutdown: let running cells go idle, flush every room, close the store."""
        # Flush in a task of its own. The contents manager writes through AnyIO worker
        # threads, which AnyIO stops when the *root task* that started them finishes. Run
        # inline, that root task would be Jupyter Server's shutdown task, which stops the
        # event loop before the thread's stop callback can run, and the process would hang
        # at exit waiting for the thread.
        await asyncio.create_task(self._shut_down())
        if self.file_watcher is not None:
            await self.file_watcher.stop()
        await asyncio.sleep(0)


main = launch_new_instance = HuddleApp.launch_instance
