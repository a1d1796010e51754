"""What compiling loads: never the sender, the local endpoint, the evaluator or pydantic.

Start-up time itself is measured by benchmarks/run.py; this pins the imports it rests on.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

UNWANTED = (
    "pydantic",
    "httpx",
    "audience_dsl.sender",
    "audience_dsl.testing",
    "audience_dsl.evaluator",
    "audience_dsl.braze.models",
    "audience_dsl.braze.validate",
)

LIBRARY = """
import audience_dsl
audience_dsl.compile('eye_color = "blue" and (age > 3 or push is opted_in)')
"""

COMMAND_LINE = """
import contextlib, io, sys
from audience_dsl.cli import main
sys.argv = ["audience-dsl", "compile", 'eye_color = "blue" and last_purchase < 2 days']
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main()
    except SystemExit as stop:
        assert not stop.code, stop.code
"""


@pytest.mark.parametrize("program", [LIBRARY, COMMAND_LINE], ids=["library", "command line"])
def test_compiling_loads_only_what_it_uses(program: str) -> None:
    report = "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", program + report], capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert "audience_dsl.language.parser" in loaded  # the probe did compile
    assert [m for m in loaded if m.startswith(UNWANTED)] == []


def test_the_public_names_still_load_on_use() -> None:
    import audience_dsl
    from audience_dsl.evaluator import evaluate

    for name in audience_dsl.__all__:
        assert getattr(audience_dsl, name) is not None, name
    assert audience_dsl.evaluate is evaluate
    assert set(audience_dsl.__all__) <= set(dir(audience_dsl))
    with pytest.raises(AttributeError):
        audience_dsl.no_such_name  # noqa: B018
