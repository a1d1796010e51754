"""Shared test set-up: Hypothesis profiles.

CI (``CI`` set in the environment) runs the ``ci`` profile: derandomized, so a red run
is reproducible, and without a deadline, so a slow machine does not fail a property.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

#: ``pytester`` runs small pytest sessions in tests of the pytest plugin.
pytest_plugins = ("pytester",)
