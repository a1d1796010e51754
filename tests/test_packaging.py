"""The grammar ships inside the package, and an installed package finds it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from audience_dsl.language.grammar import grammar_text

ROOT = Path(__file__).resolve().parents[1]
GRAMMAR = ROOT / "grammar" / "audience.lark"
EXAMPLE = 'eye_color = "blue" and (last_purchase < 2 days or push is opted_in)'


def test_the_parser_uses_the_reference_grammar() -> None:
    assert grammar_text() == GRAMMAR.read_text(encoding="utf-8")


def test_an_installed_package_carries_the_grammar(tmp_path: Path) -> None:
    # pytest puts the checkout first on sys.path, so ask a fresh interpreter in an empty
    # folder which copy an import finds: the installed one, unless the install is editable.
    found = subprocess.run(
        [sys.executable, "-I", "-c", "import audience_dsl; print(audience_dsl.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    package = Path(found).resolve().parent
    if package == ROOT / "audience_dsl":
        pytest.skip("the installed package is the checkout (editable); the wheel test covers this")
    assert (package / "grammar" / "audience.lark").is_file()
    assert (package / "grammar" / "audience.lark").read_text(encoding="utf-8") == GRAMMAR.read_text(
        encoding="utf-8"
    )


def test_the_wheel_works_from_an_unrelated_folder(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "audience_dsl/grammar/audience.lark" in names
        assert "audience_dsl/py.typed" in names
        packaged = archive.read("audience_dsl/grammar/audience.lark").decode()
    assert packaged == GRAMMAR.read_text(encoding="utf-8")
    # Import the package from the wheel itself (a zip on sys.path), in an empty folder,
    # so neither the checkout nor an installed copy can be what is found.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import audience_dsl, json; "
        "assert audience_dsl.__file__.startswith(sys.argv[1]), audience_dsl.__file__; "
        "print(json.dumps(audience_dsl.compile(sys.argv[2])))"
    )
    run = subprocess.run(
        [sys.executable, "-I", "-c", script, str(wheel), EXAMPLE],
        cwd=elsewhere, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert '"less_than_x_days_ago"' in run.stdout


def test_the_grammar_has_no_conflicts_or_terminal_collisions() -> None:
    pytest.importorskip("interegular")
    from lark import Lark

    # strict=True turns shift/reduce conflicts and colliding terminals into errors.
    Lark(grammar_text(), parser="lalr", lexer="basic", strict=True)
