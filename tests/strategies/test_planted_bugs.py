"""The strategies find real bugs: planted in a toy generator, each is found within 100
examples in at least 9 of 10 seeds.

The toy generator turns a rule's AST into Connected Audience JSON the way a user's own
code might: it pushes ``not`` down by hand, then hands the leaves to the compiler. Each
bug rewrites a few leaves the wrong way. The property a user would write compares the
users the generator's JSON selects with the users the project's JSON selects, over
users drawn near the rule (:func:`audience_dsl.strategies.rules_with_profiles`: ten users
per rule, each checked).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import Phase, given, seed, settings
from hypothesis import strategies as st

import audience_dsl
from audience_dsl import strategies
from audience_dsl.errors import AudienceWarning
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C

NOW = strategies.DEFAULT_NOW
SCHEMA = audience_dsl.Schema({"age": "Numeric", "name": "String", "tags": "Array", "seen": "Time"})

Rewrite = Callable[[ast.Node], ast.Node | None]


def _push_not(node: ast.Node, negated: bool = False) -> ast.Node:
    """``not`` moved down to the leaves by De Morgan's laws, as a generator would."""
    if isinstance(node, ast.Not):
        return _push_not(node.operand, not negated)
    if isinstance(node, ast.And | ast.Or):
        flip = {ast.And: ast.Or, ast.Or: ast.And}
        cls = flip[type(node)] if negated else type(node)
        return ast.flat_group(cls, [_push_not(kid, negated) for kid in node.children])
    return ast.Not(operand=node) if negated else node  # type: ignore[arg-type]


def _attr(name: str, comparison: C, value: Any = None) -> ast.Attribute:
    return ast.Attribute(name=name, comparison=comparison, value=value)


def _negated_leaf(node: ast.Node) -> ast.Attribute | None:
    if isinstance(node, ast.Not) and isinstance(node.operand, ast.Attribute):
        return node.operand
    return None


def between_off_by_one(node: ast.Node) -> ast.Node | None:
    """``between`` excludes its upper bound."""
    if isinstance(node, ast.Between):
        return ast.And(children=(_attr(node.name, C.GREATER_THAN_OR_EQUAL_TO, node.low),
                                 _attr(node.name, C.LESS_THAN, node.high)))  # fmt: skip
    return None


def wrong_complement_of_greater_than(node: ast.Node) -> ast.Node | None:
    """``not (x > v)`` becomes ``x < v`` (or missing): users at exactly v are lost."""
    leaf = _negated_leaf(node)
    if leaf is not None and leaf.comparison is C.GREATER_THAN:
        return ast.Or(children=(_attr(leaf.name, C.LESS_THAN, leaf.value),
                                _attr(leaf.name, C.DOES_NOT_EXIST)))  # fmt: skip
    return None


_COMPLEMENT = {
    C.MATCHES_REGEX: C.DOES_NOT_MATCH_REGEX,
    C.LESS_THAN: C.GREATER_THAN_OR_EQUAL_TO,
    C.LESS_THAN_OR_EQUAL_TO: C.GREATER_THAN,
    C.INCLUDES_VALUE: C.DOES_NOT_INCLUDE_VALUE,
}


def negation_forgets_missing(node: ast.Node) -> ast.Node | None:
    """``not`` over a leaf becomes the opposite comparison alone, which users who lack
    the attribute do not match."""
    leaf = _negated_leaf(node)
    if leaf is not None and leaf.comparison in _COMPLEMENT:
        return _attr(leaf.name, _COMPLEMENT[leaf.comparison], leaf.value)
    return None


def case_slip(node: ast.Node) -> ast.Node | None:
    """String ``=`` sent as an anchored regex, which Braze matches ignoring case."""
    if (isinstance(node, ast.Attribute) and node.comparison is C.EQUALS
            and isinstance(node.value, str) and node.value):  # fmt: skip
        return _attr(node.name, C.MATCHES_REGEX, f"^{re.escape(node.value)}$")
    return None


def not_in_as_or(node: ast.Node) -> ast.Node | None:
    """``x not in (a, b)`` as an OR of ``!=`` (which everyone with a value matches)."""
    if isinstance(node, ast.In) and node.negated and isinstance(node.values, tuple):
        parts = [_attr(node.name, C.NOT_EQUAL, v) for v in node.values]
        return ast.flat_group(ast.Or, parts)
    return None


def days_off_by_one(node: ast.Node) -> ast.Node | None:
    """A relative-day window one day too wide."""
    if (isinstance(node, ast.Attribute) and node.comparison in ast.RELATIVE_DAYS
            and isinstance(node.value, int)):  # fmt: skip
        return _attr(node.name, node.comparison, node.value + 1)
    return None


def contains_all_as_any(node: ast.Node) -> ast.Node | None:
    """``contains all`` sent as ``contains any``."""
    if isinstance(node, ast.ContainsAll) and isinstance(node.values, tuple):
        return ast.ContainsAny(name=node.name, values=node.values)
    return None


def at_least_as_more_than(node: ast.Node) -> ast.Node | None:
    """``>=`` sent as ``>``."""
    if isinstance(node, ast.Attribute) and node.comparison is C.GREATER_THAN_OR_EQUAL_TO:
        return _attr(node.name, C.GREATER_THAN, node.value)
    return None


#: Each bug, with the part of the language the generator's feature covers: the rules a
#: user would draw to test that feature (``rules(..., comparisons=..., sugar=...)``).
BUGS: list[tuple[Rewrite, dict[str, Any]]] = [
    (between_off_by_one, {"sugar": ["between"], "comparisons": ["greater_than", "less_than"]}),
    (wrong_complement_of_greater_than,
     {"sugar": False, "comparisons": ["greater_than", "less_than", "equals"]}),
    (negation_forgets_missing,
     {"sugar": False, "comparisons": ["matches_regex", "less_than", "includes_value"]}),
    (case_slip, {"sugar": False, "comparisons": ["equals", "not_equal"]}),
    (not_in_as_or, {"sugar": ["in", "not in"], "comparisons": ["equals"]}),
    (days_off_by_one, {"sugar": False, "comparisons": sorted(ast.RELATIVE_DAYS)}),
    (contains_all_as_any,
     {"sugar": ["contains any", "contains all"], "comparisons": ["includes_value"]}),
    (at_least_as_more_than,
     {"sugar": False, "comparisons": ["greater_than_or_equal_to", "less_than_or_equal_to"]}),
]  # fmt: skip


def toy_generator(rule: ast.Node, bug: Rewrite | None) -> dict[str, Any]:
    """The rule as Connected Audience JSON, with ``bug`` planted at every leaf it fits."""

    def leaf(node: ast.Node) -> ast.Node:
        if bug is None:
            return node
        changed = bug(node)
        return node if changed is None else changed

    pushed = _push_not(rule)
    if isinstance(pushed, ast.Not):
        rewritten = leaf(pushed)
    else:
        rewritten = ast.map_leaves(pushed, lambda n: n)
        rewritten = _map_negated_leaves(rewritten, leaf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudienceWarning)
        return audience_dsl.to_audience(rewritten)


def _map_negated_leaves(node: ast.Node, function: Callable[[ast.Node], ast.Node]) -> ast.Node:
    """Like ``ast.map_leaves``, but a ``not`` over a leaf counts as one leaf."""
    if isinstance(node, ast.Not) or not ast.children(node):
        return function(node)
    kids = [_map_negated_leaves(kid, function) for kid in ast.children(node)]
    return type(node)(children=tuple(kids))  # type: ignore[call-arg]


def _reference(rule: ast.Node) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudienceWarning)
        return audience_dsl.to_audience(rule)


def rule_and_profiles(feature: dict[str, Any]) -> st.SearchStrategy[Any]:
    """What a user writes: a rule over the schema, and users drawn near it."""
    return strategies.rules_with_profiles(
        schema=SCHEMA, now=NOW, max_leaves=3, builtins=False, **feature
    )


def examples_to_find(
    bug: Rewrite | None, feature: dict[str, Any], seed_value: int, budget: int = 100
) -> int | None:
    """How many examples a seeded run needs to find ``bug`` (None: not found)."""
    count = 0

    @seed(seed_value)
    @settings(max_examples=budget, database=None, derandomize=False, deadline=None,
              phases=[Phase.generate])  # fmt: skip
    @given(rule_and_profiles(feature))
    def property_(pair: tuple[ast.Expr, list[dict[str, Any]]]) -> None:
        nonlocal count
        count += 1
        rule, users = pair
        reference, generated = _reference(rule), toy_generator(rule, bug)
        for user in users:
            expected = audience_dsl.evaluate(reference, user, now=NOW)
            assert audience_dsl.evaluate(generated, user, now=NOW) == expected

    try:
        property_()
    except AssertionError:
        return count
    return None


def test_the_toy_generator_without_a_bug_agrees() -> None:
    assert examples_to_find(None, {}, 0, budget=50) is None


@pytest.mark.parametrize(("bug", "feature"), BUGS, ids=[bug.__name__ for bug, _ in BUGS])
def test_each_planted_bug_is_found_within_100_examples_in_9_of_10_seeds(
    bug: Rewrite, feature: dict[str, Any]
) -> None:
    found = [examples_to_find(bug, feature, seed_value) for seed_value in range(10)]
    assert sum(n is not None for n in found) >= 9, found
