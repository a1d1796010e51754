"""Every ``console`` example in docs/cli.md runs, and prints what the page shows.

The page's blocks marked ``file=NAME`` are written to a fresh folder first; each ``$``
line runs there in a shell where ``audience-dsl`` is this checkout's command line; its
standard output then standard error must match the lines that follow (``...`` alone
stands for any lines, inside a line for any text); ``(exit status N)`` ends the output of
a command that fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "cli.md"
_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```\s*$", re.S | re.M)
_STATUS = re.compile(r"^\(exit status (\d+)\)$")


@dataclass
class Example:
    command: str
    expected: list[str]
    status: int
    line: int


def page_parts(text: str) -> tuple[dict[str, str], list[Example]]:
    files: dict[str, str] = {}
    examples: list[Example] = []
    for match in _FENCE.finditer(text):
        info, body = match.group(1).strip(), match.group(2)
        line = text.count("\n", 0, match.start()) + 2
        named = re.match(r"\w+ file=(\S+)$", info)
        if named:
            files[named.group(1)] = body
        elif info == "console":
            current: Example | None = None
            for offset, raw in enumerate(body.split("\n")[:-1]):
                if raw.startswith("$ "):
                    current = Example(raw[2:], [], 0, line + offset)
                    examples.append(current)
                elif current is not None:
                    status = _STATUS.match(raw)
                    if status:
                        current.status = int(status.group(1))
                    else:
                        current.expected.append(raw)
    return files, examples


def _pattern(lines: list[str]) -> re.Pattern[str]:
    parts = []
    for line in lines:
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*".join(re.escape(p) for p in line.split("...")) + r"\n")
    return re.compile("".join(parts) + r"\Z")


def matches(expected: list[str], actual: str) -> bool:
    return _pattern(expected).match(actual) is not None


def shell(folder: Path) -> dict[str, str]:
    """The environment of the examples: this checkout's ``audience-dsl`` first on PATH."""
    bin_dir = folder / ".bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "audience-dsl"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m audience_dsl "$@"\n')
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if k not in ("BRAZE_REST_API_KEY", "FORCE_COLOR", "COLUMNS")}
    env.update(NO_COLOR="1", PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=str(ROOT))
    return env


def run(example: Example, folder: Path, env: dict[str, str]) -> tuple[str, int]:
    done = subprocess.run(["bash", "-c", example.command], cwd=folder, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=60, check=False)
    return done.stdout + done.stderr, done.returncode


FILES, EXAMPLES = page_parts(PAGE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here = tmp_path_factory.mktemp("cli-docs")
    for name, body in FILES.items():
        (here / name).write_text(body, encoding="utf-8")
    return here


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 20
    commands = {e.command.split("audience-dsl ", 1)[1].split()[0] for e in EXAMPLES}
    assert commands >= {"compile", "check", "fmt", "decompile", "validate", "preview",
                        "explain", "schema", "send"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"line{e.line}" for e in EXAMPLES])
def test_example(example: Example, folder: Path) -> None:
    output, status = run(example, folder, shell(folder))
    assert status == example.status, output
    assert matches(example.expected, output), (
        f"docs/cli.md line {example.line}: $ {example.command}\n--- expected\n"
        + "\n".join(example.expected) + "\n--- got\n" + output
    )


def test_the_matcher() -> None:
    assert matches(["a ... c", "...", "z"], "a b c\nx\ny\nz\n")
    assert not matches(["a"], "a\nb\n")
    assert matches([], "")
