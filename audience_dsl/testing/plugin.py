"""The pytest plugin (entry point ``pytest11``): the ``local_braze`` fixture.

It stays small so that every pytest run in an environment with audience-dsl installed
pays nothing for it: the endpoint is imported only when a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from audience_dsl.testing.endpoint import LocalBraze

__all__ = ["local_braze"]


@pytest.fixture(name="local_braze")
def local_braze() -> Iterator[LocalBraze]:
    """A running :class:`~audience_dsl.testing.LocalBraze` (campaign ``c1``, key ``k1``),
    stopped afterwards."""
    from audience_dsl.testing.endpoint import LocalBraze

    with LocalBraze() as braze:
        yield braze
