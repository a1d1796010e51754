"""The examples in README.md and docs/language.md are run as doctests."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    ROOT / "README.md",
    *(
        ROOT / "docs" / name
        for name in ("language.md", "decisions.md", "schemas.md", "embedding.md")
    ),
]


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_examples(path: Path) -> None:
    result = doctest.testfile(
        str(path),
        module_relative=False,
        optionflags=doctest.ELLIPSIS,
        raise_on_error=False,
        verbose=False,
    )
    assert result.failed == 0, f"{result.failed} example(s) failed in {path.name}"


MODULES = [
    "audience_dsl",
    "audience_dsl.schema",
    "audience_dsl.printer",
    "audience_dsl.formatter",
    "audience_dsl.decompiler",
    "audience_dsl.evaluator",
    "audience_dsl.braze",
    "audience_dsl.strategies",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    import importlib

    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
