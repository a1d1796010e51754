"""A local Braze-compatible endpoint for tests and demonstrations.

* :mod:`audience_dsl.testing.endpoint` — :class:`LocalBraze`, the endpoint itself;
* :mod:`audience_dsl.testing.plugin` — the ``local_braze`` pytest fixture (registered as a
  plugin, so users' tests only name it);
* :mod:`audience_dsl.testing.demo` — the demonstration and ``python -m audience_dsl.testing``.

The names below are loaded on first use, so importing the plugin costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "PERMISSION",
    "SAMPLE_PROFILES",
    "Accepted",
    "Delivery",
    "LocalBraze",
    "Received",
    "demo",
    "local_braze",
    "main",
]

_HOMES = {
    "PERMISSION": "endpoint",
    "Accepted": "endpoint",
    "Delivery": "endpoint",
    "LocalBraze": "endpoint",
    "Received": "endpoint",
    "SAMPLE_PROFILES": "demo",
    "demo": "demo",
    "main": "demo",
    "local_braze": "plugin",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'audience_dsl.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"audience_dsl.testing.{home}"), name)
