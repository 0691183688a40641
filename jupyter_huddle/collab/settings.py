"""The collaboration core's settings: one frozen object, built once by the extension app."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CollabSettings:
    """The core's tuning, one frozen object built by the extension app; units in the names."""

    # Saving: after this much quiet...
    save_delay_s: float = 1.0
    # ...but never later than this after the first unsaved change.
    max_save_delay_s: float = 5.0
    # Wait before retrying a failed save; doubles up to 60 s while it keeps failing.
    save_retry_delay_s: float = 2.0
    # Keep a room loaded this long after its last peer leaves (a reload reuses it).
    room_cleanup_delay_s: float = 60.0
    # Largest websocket frame accepted from a peer (a whole-notebook SyncStep2 is one frame).
    max_frame_bytes: int = 256 * 1024 * 1024
    # Bytes queued for one peer before it is cut off with 1013 (it resyncs on reconnect).
    max_peer_queue_bytes: int = 64 * 1024 * 1024
    # Rooms loaded at once; idle rooms are evicted first to make space.
    max_rooms: int = 1000
    # Awareness client ids one connection may announce (a tab uses one per document).
    max_awareness_ids_per_connection: int = 16
    # Every peer receives some frame at least this often (y-websocket drops sockets silent
    # for 30 s).
    keepalive_interval_s: float = 10.0
    # Replace a document's update log by one verified state after this many updates.
    compact_after_updates: int = 1000
    # How often an open file is checked for changes made outside Huddle, when filesystem
    # notifications are not available (and as a safety net when they are).
    file_poll_interval_s: float = 1.0
    # Keep the history of a deleted file this long, so the work can be recovered.
    deleted_retention_days: float = 7.0
    # Rooms with more peers than this send presence in batches (one frame per batch to
    # each peer, whoever moved), so presence traffic grows with the room, not its square.
    awareness_batch_above_peers: int = 16
    # How often a batch goes out.
    awareness_batch_ms: float = 100.0
    # Write review threads into the notebook file's metadata (huddle.comments).
    save_comments: bool = True
    # Largest presence (awareness) state one client may publish, in bytes: every peer
    # stores and parses it.
    max_awareness_state_bytes: int = 64 * 1024
    # Sockets in one room: a class (or a flood of guests) cannot grow a room past this.
    max_peers_per_room: int = 2000
    # Room sockets one identity (a member, or one guest) may hold at once, server-wide.
    max_sockets_per_user: int = 64
    # A peer with bytes waiting that takes none of them for this long is cut off (1013):
    # a socket that never reads must not pin memory.
    peer_stall_timeout_s: float = 30.0
    # A tab refused because its copy is from another history is refused again before the
    # websocket upgrade for this long (no reconnect storm; then one attempt goes through
    # to keep what was typed meanwhile), and this many such tabs are remembered.
    stale_tab_retry_s: float = 20.0
    max_stale_tabs: int = 4096
