"""Compiling for a missing-value policy: `not` stays exact under every setting of the
Semantics switches that the JSON can express, when the compiler is told the setting."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import pytest
from hypothesis import given, settings

import audience_dsl
from audience_dsl import Semantics, ast, evaluate, to_audience
from audience_dsl.errors import AudienceWarning, UnsupportedError
from tests.lower.test_negation_property import COUNTEREXAMPLES, NOW, profiles, rules

#: Switches whose flip the compiler follows (every missing-value cell); `wrong_type`
#: (nothing in the JSON selects a wrong-typed value) and `is_any_of_matches_missing`
#: (covered with list comparisons below) are left out.
FOLLOWED = sorted(
    set(COUNTEREXAMPLES)
    - {"wrong_type", "is_any_of_matches_missing", "string_not_equal_case_sensitive"}
)


def _agrees(rule: ast.Node, profile: dict[str, Any], semantics: Semantics, lists: bool) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AudienceWarning)
            audience = to_audience(rule, semantics=semantics, list_comparisons=lists)
    except UnsupportedError:
        return True
    expected = evaluate(rule, profile, now=NOW, semantics=semantics)
    return evaluate(audience, profile, now=NOW, semantics=semantics) == expected


@pytest.mark.parametrize("setting", FOLLOWED)
@settings(max_examples=60)
@given(rule=rules, profile=profiles())
def test_exact_when_compiled_for_the_flipped_setting(
    setting: str, rule: ast.Node, profile: dict[str, Any]
) -> None:
    semantics = dataclasses.replace(Semantics(), **{setting: COUNTEREXAMPLES[setting][0]})
    assert _agrees(rule, profile, semantics, lists=False)


@pytest.mark.parametrize("setting", FOLLOWED)
def test_the_counterexample_is_fixed_by_compiling_for_it(setting: str) -> None:
    value, text, attrs = COUNTEREXAMPLES[setting]
    semantics = dataclasses.replace(Semantics(), **{setting: value})
    profile = {"custom_attributes": attrs}
    compiled = audience_dsl.compile(text, semantics=semantics)
    assert evaluate(text, profile, now=NOW, semantics=semantics) == evaluate(
        compiled, profile, now=NOW, semantics=semantics
    )


@settings(max_examples=150)
@given(rule=rules, profile=profiles())
def test_list_comparisons_are_exact_too(rule: ast.Node, profile: dict[str, Any]) -> None:
    assert _agrees(rule, profile, Semantics(), lists=True)


@settings(max_examples=150)
@given(rule=rules, profile=profiles())
def test_case_insensitive_not_equal_is_exact_with_list_comparisons(
    rule: ast.Node, profile: dict[str, Any]
) -> None:
    semantics = Semantics(string_not_equal_case_sensitive=False)
    assert _agrees(rule, profile, semantics, lists=True)


def test_case_insensitive_not_equal_without_lists_is_refused() -> None:
    semantics = Semantics(string_not_equal_case_sensitive=False)
    with pytest.raises(UnsupportedError, match="may ignore case"):
        audience_dsl.compile('not color = "blue"', semantics=semantics)
    # Comparisons that do not involve string (in)equality are unaffected.
    assert audience_dsl.compile("not age > 3", semantics=semantics)


def test_case_insensitive_not_equal_cannot_be_negated_even_with_lists() -> None:
    # Its complement would be an `equals` that ignores case; Braze has none.
    semantics = Semantics(string_not_equal_case_sensitive=False)
    with pytest.raises(UnsupportedError, match="ignore case"):
        audience_dsl.compile('not color != "blue"', semantics=semantics, list_comparisons=True)
    assert audience_dsl.compile('not color = "blue"', semantics=semantics, list_comparisons=True)


LIST_RULES = [
    'x is any of ("a", "b")',
    'x is any of "a"',
    'x is none of ("a", "b")',
    'not x is any of ("a")',
    'not x is none of ("a", "b")',
    'tags contains any of ("a", "b")',
    'not (tags contains any of ("a", "b"))',
    'not (tags contains any of ("a")) or x is none of "b"',
]
LIST_VALUES: list[Any] = [None, "", "a", "A", "b", "c", [], ["a"], ["b", "c"], ["A"], 5, True]


@pytest.mark.parametrize("text", LIST_RULES)
@pytest.mark.parametrize("value", LIST_VALUES, ids=repr)
def test_list_comparisons_written_in_rules_are_exact(text: str, value: Any) -> None:
    for name, kind in (("x", str | list), ("tags", list)):
        # Wrong-typed values are outside every exact negation (docs/negation.md).
        wrong = not (value is None or isinstance(value, kind))
        profile = {"custom_attributes": {name: value}}
        compiled = audience_dsl.compile(text)
        got = evaluate(compiled, profile, now=NOW)
        want = evaluate(text, profile, now=NOW)
        assert got == want or (wrong and "not" in text), (text, profile)


def test_not_in_stays_not_equal_where_not_equal_may_ignore_case() -> None:
    semantics = Semantics(string_not_equal_case_sensitive=False)
    rule = 'color not in ("blue", "red")'
    compiled = audience_dsl.compile(rule, semantics=semantics, list_comparisons=True)
    assert [c["custom_attribute"]["comparison"] for c in compiled["AND"]] == ["not_equal"] * 2
    profile = {"custom_attributes": {"color": "Blue"}}
    assert evaluate(compiled, profile, now=NOW, semantics=semantics) == evaluate(
        rule, profile, now=NOW, semantics=semantics
    )
    assert audience_dsl.compile(rule, list_comparisons=True)["custom_attribute"]["comparison"] == (
        "is_none_of"
    )
