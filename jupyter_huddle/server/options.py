"""Every ``HuddleApp`` option: its traitlet, its check, and the settings built from it.

``HuddleOptions`` is mixed into ``HuddleApp`` (it is not a ``Configurable`` of its own), so
each option is still ``HuddleApp.<name>`` in config files, on the command line and in
``jupyter huddle --help-all``. The app reads the options once, through the frozen settings
objects built here, and hands those inward.
"""

from __future__ import annotations

import logging
from typing import Any

from traitlets import Bool, Float, HasTraits, Int, List, Unicode, validate

from ..collab.history import HistorySettings
from ..collab.review import ReviewLimits
from ..collab.settings import CollabSettings
from ..kernels.dispatcher import DispatcherSettings
from ..kernels.limits import QueueLimits
from ..kernels.outputs import OutputLimits
from ..kernels.service import ExecutionSettings
from .widget_options import WidgetOptions


class HuddleStartupError(SystemExit):
    """Refuse to start. A SystemExit, because Jupyter Server logs and swallows ordinary
    extension errors and would serve on without Huddle: a bad config value or a clashing
    extension must stop the server with a clear message instead."""


def refuse(message: str) -> HuddleStartupError:
    """The error to raise for a bad option or set-up, logged where the server logs."""
    logging.getLogger("ServerApp").critical(message)
    return HuddleStartupError(f"jupyter_huddle: {message}")


class HuddleOptions(WidgetOptions, HasTraits):
    """The options of ``HuddleApp`` (traitlets with ``config=True``), their checks, and
    the frozen settings objects the app builds from them."""

    save_delay_s = Float(
        1.0, config=True,
        help="Seconds of quiet after an edit before the document is saved (default 1). "
        "Shorter saves sooner but writes more often while people type.",
    )
    max_save_delay_s = Float(
        5.0, config=True,
        help="Longest time, in seconds, an edit waits to be saved even while edits keep "
        "coming (default 5). Bounds what a crash of the whole machine can lose.",
    )
    save_retry_delay_s = Float(
        2.0, config=True,
        help="Seconds before retrying a failed save; doubles per failure up to 60 (default 2).",
    )
    room_cleanup_delay_s = Float(
        60.0, config=True,
        help="Seconds a document stays loaded after its last collaborator leaves (default "
        "60). A reload within this time reuses it.",
    )
    max_frame_bytes = Int(
        256 * 1024 * 1024, config=True,
        help="Largest websocket frame, in bytes, a client may send (default 256 MiB). A "
        "reconnecting tab sends its whole document in one frame.",
    )
    max_peer_queue_bytes = Int(
        64 * 1024 * 1024, config=True,
        help="Bytes queued for one client before it is disconnected with code 1013 "
        "(default 64 MiB). It resyncs when it reconnects; the room never waits for it.",
    )
    max_rooms = Int(
        1000, config=True,
        help="Documents loaded at once (default 1000). Idle ones are evicted first; when "
        "all are in use, new rooms are refused with code 1013.",
    )
    max_awareness_ids_per_connection = Int(
        16, config=True,
        help="Presence (awareness) client ids one connection may announce (default 16).",
    )
    max_awareness_state_bytes = Int(
        64 * 1024, config=True,
        help="Largest presence (awareness) state, in bytes, one client may publish (default "
        "64 KiB; cursors and a name take well under 1 KiB). Every peer stores and parses "
        "each state: a larger one closes the socket with 1009.",
    )
    max_peers_per_room = Int(
        2000, config=True,
        help="Sockets one room accepts (default 2000); more are refused with 1013. Bounds "
        "what a flood of guests can make a room hold.",
    )
    max_sockets_per_user = Int(
        64, config=True,
        help="Room sockets one identity (a member or one guest) may hold at once, "
        "server-wide (default 64: many tabs and documents); more are refused with 1013.",
    )
    stale_tab_retry_s = Float(
        20.0, config=True,
        help="A tab refused because its copy of a document is from an earlier history (the "
        "store was lost and rebuilt from the file) is refused again, before the websocket "
        "upgrade, for this many seconds (default 20): its browser backs off instead of "
        "reconnecting ten times a second. Then one attempt goes through, and whatever was "
        "typed in it meanwhile is kept in a recovery file.",
    )
    max_stale_tabs = Int(
        4096, config=True,
        help="Refused stale tabs remembered at once (default 4096; the oldest are "
        "forgotten first, which costs one more upgrade each).",
    )
    peer_stall_timeout_s = Float(
        30.0, config=True,
        help="A socket with data waiting that accepts none of it for this many seconds is "
        "closed with 1013 (default 30); it resyncs when it reconnects. A socket that never "
        "reads must not hold the server's memory.",
    )
    keepalive_interval_s = Float(
        10.0, config=True,
        help="Every client receives a frame at least this often, in seconds (default 10). "
        "JupyterLab drops a socket that is silent for 30 s.",
    )
    store_path = Unicode(
        "", config=True,
        help="The SQLite file that keeps every document's edit history across restarts. "
        "Default: huddle/store.sqlite in the Jupyter data dir (never the notebook folder). "
        "':memory:' keeps history only while the server runs.",
    )
    max_store_queue_bytes = Int(
        64 * 1024 * 1024, config=True,
        help="Bytes of edits held in memory waiting to be written to the store (default 64 "
        "MiB). While the store is slow or failing (disk full, file removed) edits and saves "
        "go on and clients are told history is not durable; past this bound a document's "
        "waiting edits are dropped from its log, which is rewritten whole from the live "
        "document once writes work again. Larger rides out longer outages with less "
        "rewriting; smaller bounds the server's memory.",
    )
    store_commit_interval_ms = Float(
        50.0, config=True,
        help="Edits are committed to the store in groups at most this many milliseconds "
        "apart (default 50): one transaction per burst, never one per keystroke.",
    )
    compact_after_updates = Int(
        1000, config=True,
        help="Replace a document's logged edits by one verified state after this many "
        "edits (default 1000), and when its room closes. Keeps the store bounded.",
    )
    file_poll_interval_s = Float(
        1.0, config=True,
        help="Seconds between checks of an open file for changes made outside Huddle "
        "(default 1). Filesystem notifications, when available, are faster still.",
    )
    deleted_retention_days = Float(
        7.0, config=True,
        help="Days the history of a deleted file is kept so the work can be recovered "
        "(default 7).",
    )
    server_side_execution = Bool(
        True, config=True,
        help="Run cells on the server, in the notebook's one kernel, with outputs written "
        "into the shared document (default True). Also tells JupyterLab's docprovider to "
        "send its cell runs to Huddle (page config serverSideExecution).",
    )
    max_output_bytes = Int(
        8 * 1024 * 1024, config=True,
        help="Largest single output, in bytes, written into a notebook (default 8 MiB); a "
        "larger one is replaced by a notice.",
    )
    max_execution_output_bytes = Int(
        32 * 1024 * 1024, config=True,
        help="Output bytes one run may write before the rest is dropped with one notice "
        "(default 32 MiB). The code keeps running.",
    )
    output_flush_interval_ms = Float(
        50.0, config=True,
        help="Kernel output is written to the document at most once per this many "
        "milliseconds per cell (default 50): one update per window, not one per print.",
    )
    input_grace_s = Float(
        60.0, config=True,
        help="Seconds after which anyone allowed to run code may answer an input() prompt "
        "the user who ran the cell has not answered (default 60).",
    )
    kernel_watchdog_interval_s = Float(
        2.0, config=True,
        help="How often, in seconds, a running cell checks that its kernel is alive "
        "(default 2): a dead kernel or lost reply never wedges the queue for longer.",
    )
    max_queued_cells_per_notebook = Int(
        10_000, config=True,
        help="Cells one notebook may have queued or running at once, everyone's together "
        "(default 10000: two Run Alls of the largest request). A run that would go past it "
        "is refused whole with 503 until some have run. Higher lets a crowd queue more; "
        "each queued cell holds its source in memory and keeps its notebook loaded.",
    )
    max_queued_cells_per_person = Int(
        5_000, config=True,
        help="Cells one person may have queued or running at once, over every notebook "
        "(default 5000: one Run All of the largest request). A run that would go past it is "
        "refused whole with 429 and Retry-After; running a cell again replaces its queued "
        "run and is not counted twice. Lower keeps one person from filling the queues, but "
        "below a notebook's cell count that person cannot Run All of it.",
    )
    max_recent_runs_per_notebook = Int(
        200, config=True,
        help="Finished runs remembered per open notebook, for the queue view and who last "
        "ran each cell (default 200; without their code, forgotten when the notebook "
        "closes). Higher shows more history and costs memory per open notebook.",
    )
    record_attribution = Bool(
        False, config=True,
        help="Also write who last ran each cell into the notebook file (cell metadata "
        "huddle.last_run_by). Off by default: attribution is live and in server events.",
    )
    save_comments = Bool(
        True, config=True,
        help="Also save review threads into the notebook file (notebook metadata "
        "huddle.comments), so they travel with it and come back on a server without this "
        "one's history. Off: threads live only in this server's store.",
    )
    max_threads_per_notebook = Int(
        5000, config=True,
        help="Review threads one notebook may hold (default 5000); more are refused (409).",
    )
    max_threads_per_person = Int(
        500, config=True,
        help="Open and resolved review threads one person may start on one notebook "
        "(default 500); more are refused (409).",
    )
    comment_actions_per_minute = Int(
        60, config=True,
        help="Review actions (new threads, replies, edits, deletions, status changes) one "
        "person may make per minute (default 60); beyond that they are refused with 429 "
        "and Retry-After.",
    )
    awareness_batch_above_peers = Int(
        16, config=True,
        help="Rooms with more peers than this send presence (cursors, selections) in "
        "batches, one frame per peer per batch, so a class of 300 does not make 90 000 "
        "frames for each round of cursor moves. Smaller rooms send each change at once.",
    )
    awareness_batch_ms = Float(
        100.0, config=True,
        help="How often a batch of presence changes is sent, in milliseconds.",
    )
    owners = List(
        Unicode(), config=True,
        help="Usernames that own every notebook (may edit, run, share). Empty (the "
        "default): everyone who can log in to this server is an owner, as on a personal "
        "server. Set it when the server is shared, e.g. by a class on JupyterHub.",
    )
    member_role = Unicode(
        "viewer", config=True,
        help="The role on every notebook of someone who logs in but is not an owner: "
        "viewer, commenter, runner or editor (owners can change it per notebook).",
    )
    copies_dir = Unicode(
        "huddle-copies", config=True,
        help="Folder (relative to the server root) for students' personal copies "
        "(\"make my copy\"), one subfolder per person.",
    )
    guest_copies = Bool(
        False, config=True,
        help="Let guests (people who came through a share link) make personal copies "
        "(default False). The editor of a copy runs code in its kernel as the server's own "
        "user, with the server's files in reach: turn this on only where copies' kernels "
        "are sandboxed or every guest is trusted.",
    )
    max_copies_per_person = Int(
        20, config=True,
        help="Personal copies one person may keep in their folder under copies_dir "
        "(default 20); beyond that \"make my copy\" is refused (409) until they delete one.",
    )
    max_copy_kernels = Int(
        20, config=True,
        help="Kernels that personal copies may run at once, server-wide. When all are in "
        "use, running a copy is refused with a clear message.",
    )
    share_link_attempts_per_minute = Int(
        10, config=True,
        help="Bad share-link tokens one client may try per minute before it is refused "
        "(429) for the rest of that minute.",
    )
    history_enabled = Bool(
        True, config=True,
        help="Record notebooks' version history (browse, diff, blame, restore; see "
        "docs/HISTORY.md). Off: no versions are recorded and the history API answers 404.",
    )
    version_interval_s = Float(
        300.0, config=True,
        help="A save with changes records a version at most this often while people edit "
        "(default 300 s; the last changes are recorded this long after the previous version "
        "at the latest). Versions are also recorded before restores, before outside changes "
        "are merged, when a notebook closes, and when named.",
    )
    keep_all_versions_days = Float(
        1.0, config=True,
        help="Keep every version this many days (default 1); older ones are thinned to "
        "the newest of each hour.",
    )
    keep_hourly_versions_days = Float(
        7.0, config=True,
        help="Keep the newest version of each hour this many days (default 7); older ones "
        "are thinned to the newest of each day.",
    )
    keep_daily_versions_days = Float(
        90.0, config=True,
        help="Keep the newest version of each day this many days (default 90); older "
        "versions are deleted, except named ones, which stay until their name is removed.",
    )
    save_history_stamp = Bool(
        True, config=True,
        help="Write since when a notebook has versions into its file (notebook metadata "
        "huddle.history, one number), so a server whose store lost the history reports "
        "it missing instead of starting it silently anew. Off: nothing of the history is "
        "written into files.",
    )
    max_named_versions = Int(
        200, config=True,
        help="Named versions one notebook may hold (default 200); more are refused (409).",
    )
    max_undoable_restores = Int(
        8, config=True,
        help="Restores one open notebook keeps undoable at once (default 8; each watches "
        "the document's changes while it is kept).",
    )
    restore_undo_window_s = Float(
        3600.0, config=True,
        help="How long a restore can be undone (default 3600 s).",
    )
    history_actions_per_minute = Int(
        30, config=True,
        help="Names, restores and undos one person may make per minute (default 30); more "
        "are refused with 429 and Retry-After.",
    )
    disable_rtc = Bool(
        False, config=True,
        help="Tell JupyterLab not to use real-time collaboration (page config disableRTC).",
    )

    @validate("save_delay_s", "max_save_delay_s", "save_retry_delay_s", "keepalive_interval_s",
              "store_commit_interval_ms", "file_poll_interval_s", "output_flush_interval_ms",
              "kernel_watchdog_interval_s", "awareness_batch_ms", "peer_stall_timeout_s",
              "stale_tab_retry_s", "version_interval_s", "restore_undo_window_s",
              "keep_all_versions_days", "keep_hourly_versions_days", "keep_daily_versions_days",
              "widget_save_interval_s", "widget_messages_per_second")
    def _positive_seconds(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not value > 0:
            raise refuse(f"HuddleApp.{proposal['trait'].name} must be > 0, got {value}")
        return value

    @validate("room_cleanup_delay_s", "deleted_retention_days", "input_grace_s")
    def _non_negative(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if value < 0:
            raise refuse(f"HuddleApp.{proposal['trait'].name} must be >= 0, got {value}")
        return value

    @validate("member_role")
    def _known_role(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"])
        if value not in ("viewer", "commenter", "runner", "editor"):
            raise refuse(f"HuddleApp.member_role must be viewer, commenter, runner or "
                          f"editor, got {value!r}")
        return value

    @validate("max_frame_bytes", "max_peer_queue_bytes", "max_rooms", "max_store_queue_bytes",
              "max_awareness_ids_per_connection", "compact_after_updates", "max_output_bytes",
              "max_execution_output_bytes", "share_link_attempts_per_minute",
              "awareness_batch_above_peers", "max_copy_kernels", "max_awareness_state_bytes",
              "max_peers_per_room", "max_sockets_per_user", "max_threads_per_notebook",
              "max_stale_tabs",
              "max_threads_per_person", "comment_actions_per_minute", "max_copies_per_person",
              "max_queued_cells_per_notebook", "max_queued_cells_per_person",
              "max_recent_runs_per_notebook", "max_named_versions", "max_undoable_restores",
              "history_actions_per_minute", "widget_max_models", "widget_max_state_bytes",
              "widget_max_message_bytes", "widget_message_burst", "widget_max_saved_state_bytes",
              "widget_max_pending_frames")
    def _positive_count(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value < 1:
            raise refuse(f"HuddleApp.{proposal['trait'].name} must be >= 1, got {value}")
        return value

    def collab_settings(self) -> CollabSettings:
        """The rooms' settings (saving, bounds, store, presence)."""
        return CollabSettings(
            save_delay_s=self.save_delay_s,
            max_save_delay_s=max(self.max_save_delay_s, self.save_delay_s),
            save_retry_delay_s=self.save_retry_delay_s,
            room_cleanup_delay_s=self.room_cleanup_delay_s,
            max_frame_bytes=self.max_frame_bytes,
            max_peer_queue_bytes=self.max_peer_queue_bytes,
            max_rooms=self.max_rooms,
            max_awareness_ids_per_connection=self.max_awareness_ids_per_connection,
            keepalive_interval_s=self.keepalive_interval_s,
            compact_after_updates=self.compact_after_updates,
            file_poll_interval_s=self.file_poll_interval_s,
            deleted_retention_days=self.deleted_retention_days,
            save_comments=self.save_comments,
            awareness_batch_above_peers=self.awareness_batch_above_peers,
            awareness_batch_ms=self.awareness_batch_ms,
            max_awareness_state_bytes=self.max_awareness_state_bytes,
            max_peers_per_room=self.max_peers_per_room,
            max_sockets_per_user=self.max_sockets_per_user,
            peer_stall_timeout_s=self.peer_stall_timeout_s,
            stale_tab_retry_s=self.stale_tab_retry_s,
            max_stale_tabs=self.max_stale_tabs,
        )

    def execution_settings(self) -> ExecutionSettings:
        """The execution service's settings (outputs, queues, run history)."""
        limits = OutputLimits(max_output_bytes=self.max_output_bytes,
                              max_execution_bytes=self.max_execution_output_bytes,
                              flush_interval_s=self.output_flush_interval_ms / 1000)
        return ExecutionSettings(
            dispatcher=DispatcherSettings(limits=limits,
                                          watchdog_interval_s=self.kernel_watchdog_interval_s),
            input_grace_s=self.input_grace_s,
            history_per_notebook=self.max_recent_runs_per_notebook,
            queue=QueueLimits(max_per_notebook=self.max_queued_cells_per_notebook,
                              max_per_person=self.max_queued_cells_per_person),
            # A room closes no sooner than room_cleanup_delay_s after its last user and
            # run: looking for closed ones at that pace (10 s at most) lets go of what
            # execution held for them soon after.
            sweep_interval_s=min(max(self.room_cleanup_delay_s, 0.1), 10.0),
            record_attribution=self.record_attribution,
            widgets=self.widget_settings(),
        )

    def history_settings(self) -> HistorySettings:
        """When versions are recorded and how long they are kept."""
        day = 86400.0
        keep_all = self.keep_all_versions_days * day
        keep_hourly = max(self.keep_hourly_versions_days * day, keep_all)
        return HistorySettings(
            enabled=self.history_enabled,
            version_interval_s=self.version_interval_s,
            keep_all_s=keep_all,
            keep_hourly_s=keep_hourly,
            keep_daily_s=max(self.keep_daily_versions_days * day, keep_hourly),
            max_named_versions=self.max_named_versions,
            max_undoable_restores=self.max_undoable_restores,
            undo_window_s=self.restore_undo_window_s,
            actions_per_minute=self.history_actions_per_minute,
            stamp_files=self.save_history_stamp,
        )

    def review_limits(self) -> ReviewLimits:
        """The bounds on review threads and actions."""
        return ReviewLimits(self.max_threads_per_notebook, self.max_threads_per_person,
                            self.comment_actions_per_minute)
