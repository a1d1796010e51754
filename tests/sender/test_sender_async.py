"""The asyncio client passes the same scenarios as the thread client."""

from __future__ import annotations

import pytest

from tests.sender.scenarios import *  # noqa: F403 - the shared scenarios and fixtures


@pytest.fixture
def mode() -> str:
    return "async"
