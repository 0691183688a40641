"""A document and its file: the backend interface the server implements (``backend``),
loading, merging and saving through a binding (``binding``), the save schedule
(``saver``), and checks that a compacted history replays to the live document
(``history``)."""
