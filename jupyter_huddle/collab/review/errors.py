"""Why a review action is refused. Each refusal writes nothing."""

from __future__ import annotations

from ..errors import CollabError


class CommentError(CollabError):
    """A review action is refused: a bad anchor, body, status or suggestion."""


class UnknownThread(CommentError):
    """No thread (or message) with that id."""


class NotAuthor(CommentError):
    """Only a message's author may change it."""


class TooLarge(CommentError):
    """A message longer than a message may be."""


class TooManyThreads(CommentError):
    """A notebook, or one person on it, holds as many threads as allowed."""


class TooManyActions(CommentError):
    """One person writes faster than ``ReviewLimits.actions_per_minute``."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many review actions; try again in {int(retry_after_s) + 1} s")
        self.retry_after_s = retry_after_s
