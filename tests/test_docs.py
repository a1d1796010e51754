"""Every ``>>>`` example in README.md, docs/*.md and the package's docstrings runs."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_examples(path: Path) -> None:
    result = doctest.testfile(
        str(path),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        raise_on_error=False,
        verbose=False,
    )
    assert result.failed == 0, f"{result.failed} example(s) failed in {path.name}"
    if path.name not in ("decisions.md", "architecture.md"):
        assert result.attempted > 0, f"{path.name} has no examples"


def _modules() -> list[str]:
    """Every module of the package, found by walking it (so a new module is never missed)."""
    import pkgutil

    import audience_dsl

    names = ["audience_dsl"]
    for info in pkgutil.walk_packages(audience_dsl.__path__, "audience_dsl."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return sorted(names)


MODULES = _modules()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    import importlib

    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
