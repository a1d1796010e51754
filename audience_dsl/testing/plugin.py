"""The pytest plugin (entry point ``pytest11``): the ``local_braze`` fixtures.

It stays small, and imports the endpoint only when a test asks for a fixture.

* ``local_braze_server`` (session): one running :class:`~audience_dsl.testing.LocalBraze`
  (campaign ``c1``, key ``k1``) with :data:`TEST_LIMITS` and ``now`` =
  :data:`audience_dsl.evaluator.DEFAULT_NOW`, the instant the strategies centre profiles
  on. Inside ``@given``, take one clean endpoint per example with
  ``with local_braze_server.example(profiles=..., now=...) as braze:``.
* ``local_braze`` (function): the same endpoint, clean for the test, with the settings
  of the test's ``@pytest.mark.local_braze(profiles=..., now=..., limits=...)`` marker.

Talk to it with ``braze.client()``: a client told the endpoint's limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from audience_dsl.braze.limits import Limits
    from audience_dsl.testing.endpoint import LocalBraze

__all__ = ["local_braze", "local_braze_server", "test_limits"]

_MARKER = "local_braze"
_SETTINGS = ("profiles", "now", "limits")


def test_limits() -> Limits:
    """Braze's rate limits with one-second "minutes" and ten-second "hours": the same
    counts, so limits are still exercised, at a speed tests can wait for."""
    from audience_dsl.braze.limits import Limits

    return Limits(minute=1.0, hour=10.0)


test_limits.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(profiles=..., now=..., limits=...): settings of the local_braze fixture",
    )


@pytest.fixture(scope="session", name="local_braze_server")
def local_braze_server() -> Iterator[LocalBraze]:
    """One running endpoint for the session; see the module docstring."""
    from audience_dsl.evaluator import DEFAULT_NOW
    from audience_dsl.testing.endpoint import LocalBraze

    with LocalBraze(limits=test_limits(), now=DEFAULT_NOW) as braze:
        yield braze


@pytest.fixture(name="local_braze")
def local_braze(
    request: pytest.FixtureRequest, local_braze_server: LocalBraze
) -> Iterator[LocalBraze]:
    """The session's endpoint, clean for this test, with the test's marker settings."""
    settings: dict[str, Any] = {}
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{_MARKER} takes keyword arguments only")
        unknown = sorted(set(marker.kwargs) - set(_SETTINGS))
        if unknown:
            raise pytest.UsageError(
                f"@pytest.mark.{_MARKER}: unknown {', '.join(unknown)}; "
                f"the settings are {', '.join(_SETTINGS)}"
            )
        settings = dict(marker.kwargs)
    with local_braze_server.example(**settings) as braze:
        yield braze
