"""The thread client against the local endpoint (shared scenarios in scenarios.py)."""

from __future__ import annotations

import pytest

from tests.sender.scenarios import *  # noqa: F403 - the shared scenarios and fixtures


@pytest.fixture
def mode() -> str:
    return "sync"
