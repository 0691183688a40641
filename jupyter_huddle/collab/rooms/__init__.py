"""Which rooms are open and for how long: the manager (join, leave, eviction, capacity),
its table by room and file id, the files behind open rooms (outside changes, renames,
deletions), shared first loads, and returning freed memory to the system."""
