"""The table-driven cases of tests/cases/*.jsonl: each rule compiles to its JSON, or fails
with its error class at its line and column."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from tests.helpers import assert_compiles, assert_rejects, load_cases

CASES = [c for c in load_cases() if "dsl" in c and ("json" in c or "error" in c)]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "json" in case:
            assert_compiles(case["dsl"], case["json"], case.get("params"))
        else:
            assert_rejects(
                case["dsl"],
                case["error"],
                case.get("at"),
                case.get("message"),
                case.get("hint"),
                case.get("params"),
            )


def test_the_tables_are_big_enough() -> None:
    errors = [c for c in CASES if "error" in c and "at" in c]
    assert len(CASES) >= 150
    assert len(errors) >= 40
    assert len({c["id"] for c in CASES}) == len(CASES)
