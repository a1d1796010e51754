"""mypy --strict on an example client: the public API's types let typical code through."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CLIENT = HERE / "typing" / "example_client.py"


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # Errors are reported for the client's file only, as for any installed package;
        # the package itself is held to mypy --strict by its own configuration.
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir=/dev/null",
         "--config-file=", "--follow-imports=silent", *args],
        capture_output=True, text=True, cwd=HERE.parent, timeout=600,
    )  # fmt: skip


pytestmark = pytest.mark.skipif(
    shutil.which("mypy") is None and not (Path(sys.executable).parent / "mypy").exists(),
    reason="mypy is in the test extra",
)


def test_the_example_client_type_checks() -> None:
    result = _mypy(str(CLIENT))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_use_is_caught(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "import audience_dsl\n"
        "audience = audience_dsl.compile('a exists')\n"
        "audience['AND'].append(1)\n"  # not every audience is a group
        "report = audience_dsl.analyze('a')\n"
        "report.diagnostics[0].utf16_column + ''\n",
        encoding="utf-8",
    )
    result = _mypy(str(wrong))
    assert result.returncode == 1
    assert "TypedDict" in result.stdout and "Unsupported operand" in result.stdout
