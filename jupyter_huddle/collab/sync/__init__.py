"""The sync protocol and the live room: frames in and out (``codec``), each peer's bounded
outbox (``connection``), the room that applies and relays updates (``room``), presence
(``awareness``), what an update would change (``update_inspect``), the shared full state
for crowds (``full_state``), the checks applied to peers' updates (``guard``, ``locks``),
copies from another history held apart (``held``, ``stale``), and close codes."""
