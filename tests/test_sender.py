"""The thread client against the local endpoint (shared scenarios in sender_scenarios.py)."""

from __future__ import annotations

import pytest

from tests.sender_scenarios import *  # noqa: F403 - the shared scenarios and fixtures


@pytest.fixture
def mode() -> str:
    return "sync"
