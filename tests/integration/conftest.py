"""Fixtures of the integration tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.restartable import Restartable


@pytest.fixture
def restartable(tmp_path):
    created: list[Restartable] = []

    def make(*args: str, directory: Path | None = None) -> Restartable:
        server = Restartable(directory or tmp_path, *args)
        created.append(server)
        return server

    yield make
    for server in created:
        server.stop()
