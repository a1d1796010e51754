"""The public Hypothesis strategies draw only valid things, and shrink."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import audience_dsl
from audience_dsl import Schema, ast, strategies
from audience_dsl.errors import AudienceWarning
from audience_dsl.language.printer import print_rule

NOW = datetime(2024, 6, 1, tzinfo=UTC)


@settings(max_examples=150)
@given(strategies.rules())
def test_rules_compile_and_print_back(rule: ast.Expr) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudienceWarning)
        audience_dsl.to_audience(rule)
    assert audience_dsl.parse(print_rule(rule)).expr == rule


@settings(max_examples=100)
@given(strategies.rule_texts(max_leaves=6, builtins=False))
def test_rule_texts_compile(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudienceWarning)
        audience_dsl.compile(text)


@settings(max_examples=100)
@given(strategies.audiences())
def test_audiences_validate_and_decompile(audience: dict[str, Any]) -> None:
    audience_dsl.validate(audience)
    text = audience_dsl.decompile(audience)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudienceWarning)
        assert audience_dsl.compile(text) is not None


@st.composite
def rule_and_profile(draw: st.DrawFn) -> tuple[ast.Expr, dict[str, Any]]:
    schema = draw(strategies.schemas(min_size=2, max_size=4))
    return draw(strategies.rules(schema=schema)), draw(strategies.profiles(schema, now=NOW))


@settings(max_examples=200)
@given(rule_and_profile())
def test_profiles_fit_and_the_compiled_rule_agrees(pair: tuple[ast.Expr, dict[str, Any]]) -> None:
    rule, profile = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudienceWarning)
        audience = audience_dsl.to_audience(rule)
    expected = audience_dsl.evaluate(rule, profile, now=NOW)
    assert audience_dsl.evaluate(audience, profile, now=NOW) == expected


@given(strategies.schemas(min_size=3, max_size=3))
def test_schemas_have_the_asked_size(schema: Schema) -> None:
    assert len(schema) == 3


@pytest.mark.parametrize(
    "make",
    [
        lambda: strategies.rules(max_leaves=0),
        lambda: strategies.schemas(min_size=0),
        lambda: strategies.schemas(min_size=3, max_size=2),
        lambda: strategies.rules(schema={}),
        lambda: strategies.rules(max_leaves=True),
    ],
)
def test_bad_bounds_are_refused(make: Any) -> None:
    with pytest.raises(InvalidArgument):
        make().example()
