"""The compiler's promise, checked against the reference evaluator.

For generated rules (``not``, sugar, nesting) and generated profiles (missing, blank,
``null``, boundary values, times exactly X days from ``now``), a rule and the JSON it
compiles to select the same users, or the compiler refuses with UnsupportedError.
"""

from __future__ import annotations

import dataclasses
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audience_dsl import AudienceWarning, UnsupportedError, ast, compile, to_audience
from audience_dsl.evaluator import evaluate
from audience_dsl.language.ast import Comparison as C
from audience_dsl.semantics import Semantics, WrongType

NOW = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
INSTANT = "2024-01-10T12:00:00Z"  # the before/after value used by generated rules
DAYS = (0, 1, 2, 7)

# One name per type, so that no generated rule mixes types on one attribute.
STRINGS = ("blue", "Blue", "red", " blue", "bluebird")
NUMBERS = (0, 0.0, 1, 2.5, 3, -1, 18, 30)
TAGS = ("a", "b", "A")
REGEXES = ("^b", "blue", "e$", "x")


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


# ---- rules -------------------------------------------------------------------------------


def _attr(name: str, comparison: C, value: Any = None) -> ast.Attribute:
    return ast.Attribute(name=name, comparison=comparison, value=value)


string_leaves = st.one_of(
    st.builds(
        _attr, st.just("color"), st.sampled_from([C.EQUALS, C.NOT_EQUAL]), st.sampled_from(STRINGS)
    ),
    st.builds(
        _attr, st.just("color"), st.sampled_from([C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX]),
        st.sampled_from(REGEXES),
    ),
    st.builds(
        lambda values, negated: ast.In(name="color", values=tuple(values), negated=negated),
        st.lists(st.sampled_from(STRINGS), min_size=1, max_size=3), st.booleans(),
    ),
)  # fmt: skip
number_leaves = st.one_of(
    st.builds(
        _attr, st.just("age"),
        st.sampled_from([C.EQUALS, C.NOT_EQUAL, C.GREATER_THAN, C.GREATER_THAN_OR_EQUAL_TO,
                         C.LESS_THAN, C.LESS_THAN_OR_EQUAL_TO]),
        st.sampled_from(NUMBERS),
    ),
    st.builds(
        lambda pair: ast.Between(name="age", low=min(pair), high=max(pair)),
        st.tuples(st.sampled_from(NUMBERS), st.sampled_from(NUMBERS)),
    ),
    st.builds(
        lambda values, negated: ast.In(name="age", values=tuple(values), negated=negated),
        st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=3), st.booleans(),
    ),
)  # fmt: skip
boolean_leaves = st.builds(
    _attr, st.just("vip"), st.sampled_from([C.EQUALS, C.NOT_EQUAL]), st.booleans()
)
array_leaves = st.one_of(
    st.builds(
        _attr, st.just("tags"), st.sampled_from([C.INCLUDES_VALUE, C.DOES_NOT_INCLUDE_VALUE]),
        st.sampled_from(TAGS),
    ),
    st.builds(
        lambda values, every: (ast.ContainsAll if every else ast.ContainsAny)(
            name="tags", values=tuple(values)
        ),
        st.lists(st.sampled_from(TAGS), min_size=1, max_size=3), st.booleans(),
    ),
)  # fmt: skip
time_leaves = st.one_of(
    st.builds(
        _attr, st.just("seen"),
        st.sampled_from([C.LESS_THAN_X_DAYS_AGO, C.GREATER_THAN_X_DAYS_AGO,
                         C.LESS_THAN_X_DAYS_IN_THE_FUTURE, C.GREATER_THAN_X_DAYS_IN_THE_FUTURE]),
        st.sampled_from(DAYS),
    ),
    st.builds(_attr, st.just("seen"), st.sampled_from([C.BEFORE, C.AFTER]), st.just(INSTANT)),
)  # fmt: skip
builtin_leaves = st.one_of(
    st.builds(
        lambda channel, comparison, state: ast.Subscription(
            channel=channel, comparison=comparison, state=state
        ),
        st.sampled_from(ast.Channel), st.sampled_from([C.IS, C.IS_NOT]), st.sampled_from(ast.State),
    ),
    st.builds(
        lambda comparison: ast.LastUsedApp(comparison=comparison, value=INSTANT),
        st.sampled_from([C.AFTER, C.BEFORE]),
    ),
)  # fmt: skip
existence_leaves = st.builds(
    _attr,
    st.sampled_from(["color", "age", "vip", "tags", "seen"]),
    st.sampled_from([C.EXISTS, C.DOES_NOT_EXIST]),
)
leaves = st.one_of(
    string_leaves, number_leaves, boolean_leaves, array_leaves, time_leaves, builtin_leaves,
    existence_leaves,
)  # fmt: skip


def _trees(
    base: st.SearchStrategy[ast.Node], negations: bool = True
) -> st.SearchStrategy[ast.Node]:
    def extend(kids: st.SearchStrategy[ast.Node]) -> st.SearchStrategy[ast.Node]:
        groups = st.one_of(
            st.lists(kids, min_size=1, max_size=3).map(lambda c: ast.And(children=tuple(c))),
            st.lists(kids, min_size=1, max_size=3).map(lambda c: ast.Or(children=tuple(c))),
        )
        if not negations:
            return groups
        return st.one_of(groups, kids.map(lambda k: ast.Not(operand=k)))

    return st.recursive(base, extend, max_leaves=8)


rules = _trees(leaves)
push_leaves = st.builds(
    lambda c, s: ast.Subscription(channel=ast.Channel.PUSH, comparison=c, state=s),
    st.sampled_from([C.IS, C.IS_NOT]),
    st.sampled_from(ast.State),
)
rules_without_time = _trees(
    st.one_of(
        string_leaves, number_leaves, boolean_leaves, array_leaves, existence_leaves, push_leaves
    )
)

# ---- profiles ----------------------------------------------------------------------------

BLANKS = st.sampled_from([None, "", []])
OFFSETS = st.sampled_from(
    [timedelta(0), timedelta(seconds=1), -timedelta(seconds=1), timedelta(hours=12)]
)


@st.composite
def times(draw: st.DrawFn) -> str:
    """An ISO time exactly k days from now (or from INSTANT), give or take a second."""
    base = draw(st.sampled_from([NOW, datetime(2024, 1, 10, 12, tzinfo=UTC)]))
    days = draw(st.integers(-8, 8))
    instant = base + timedelta(days=days) + draw(OFFSETS)
    if draw(st.booleans()):
        return _iso(instant)
    if draw(st.booleans()):
        return instant.date().isoformat()  # a date alone is midnight UTC
    return instant.strftime("%Y-%m-%dT%H:%M:%S+0000")


GOOD: dict[str, st.SearchStrategy[Any]] = {
    "color": st.sampled_from(STRINGS),
    "age": st.sampled_from(NUMBERS),
    "vip": st.booleans(),
    "tags": st.lists(st.sampled_from(TAGS), min_size=1, max_size=3, unique=True),
    "seen": times(),
}
WRONG: dict[str, st.SearchStrategy[Any]] = {
    "color": st.sampled_from([5, True, ["blue"]]),
    "age": st.sampled_from(["3", True, [1]]),
    "vip": st.sampled_from(["true", 1]),
    "tags": st.sampled_from(["a", 3]),
    "seen": st.sampled_from(["yesterday", 12345, "3001-01-01"]),
}


@st.composite
def profiles(draw: st.DrawFn, wrong_types: bool = False) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for name, good in GOOD.items():
        choices = [good, BLANKS, st.just("<absent>")]
        if wrong_types:
            choices.append(WRONG[name])
        value = draw(st.one_of(*choices))
        if value != "<absent>":
            attrs[name] = value
    profile: dict[str, Any] = {"custom_attributes": attrs}
    for key in ("push_subscribe", "email_subscribe"):
        state = draw(st.sampled_from([None, "opted_in", "subscribed", "unsubscribed"]))
        if state is not None:
            profile[key] = state
    apps = draw(st.lists(times(), max_size=2))
    if apps or draw(st.booleans()):
        profile["apps"] = [{"last_used": t} for t in apps]
    return profile


def _agrees(rule: ast.Node, profile: dict[str, Any], semantics: Semantics) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AudienceWarning)  # e.g. "< 0 days" selects nobody
            audience = to_audience(rule)
    except UnsupportedError:
        return True
    expected = evaluate(rule, profile, now=NOW, semantics=semantics)
    return evaluate(audience, profile, now=NOW, semantics=semantics) == expected


# ---- the properties ------------------------------------------------------------------------


@settings(max_examples=2000)
@given(rules, profiles())
def test_negation_push_down_is_exact(rule: ast.Node, profile: dict[str, Any]) -> None:
    assert _agrees(rule, profile, Semantics())


@settings(max_examples=200)
@given(_trees(leaves, negations=False), profiles(wrong_types=True))
def test_rules_without_not_agree_on_any_data(rule: ast.Node, profile: dict[str, Any]) -> None:
    """Without ``not`` (sugar and nesting only), even wrong-typed values agree."""
    assert _agrees(rule, profile, Semantics())


#: Semantics settings (other than the default) under which lower.py's pinned complements
#: stay exact. Every other flipped cell has a counterexample in COUNTEREXAMPLES.
EXACT_WHEN_FLIPPED = {
    "time_matches_missing": True,
    "never_used_app_matches": True,
    "strict_before_after": False,
    "day_boundary_inclusive": True,
    "subscribed_includes_opted_in": True,
}


@pytest.mark.parametrize("setting", sorted(EXACT_WHEN_FLIPPED))
@settings(max_examples=100)
@given(rule=rules, profile=profiles())
def test_exact_under_other_settings(setting: str, rule: ast.Node, profile: dict[str, Any]) -> None:
    semantics = dataclasses.replace(Semantics(), **{setting: EXACT_WHEN_FLIPPED[setting]})
    assert _agrees(rule, profile, semantics)


#: For every other switch: a rule whose compiled negation is not exact once it is flipped.
COUNTEREXAMPLES: dict[str, tuple[Any, str, dict[str, Any]]] = {
    "string_equals_matches_missing": (True, 'not color = "blue"', {}),
    "string_not_equal_matches_missing": (False, 'not color != "blue"', {}),
    "is_any_of_matches_missing": (True, "", {}),  # not reachable from the DSL; see below
    "regex_matches_missing": (True, "not color ~ /b/", {}),
    "number_equals_zero_matches_missing": (False, "not age = 0", {}),
    "number_not_equal_matches_missing": (False, "not age != 3", {}),
    "greater_than_matches_missing": (True, "not age > 3", {}),
    "greater_than_or_equal_to_matches_missing": (True, "not age >= 3", {}),
    "less_than_matches_missing": (False, "not age < 3", {}),
    "less_than_or_equal_to_matches_missing": (False, "not age <= 3", {}),
    "boolean_equals_matches_missing": (True, "not vip", {}),
    "boolean_not_equal_matches_missing": (False, "not vip != true", {}),
    "includes_value_matches_missing": (True, 'not tags contains "a"', {}),
    "does_not_include_value_matches_missing": (False, 'not tags does not contain "a"', {}),
    "wrong_type": (WrongType.AS_MISSING, "not color ~ /b/", {"color": 5}),
    "string_not_equal_case_sensitive": (False, 'not color = "Blue"', {"color": "blue"}),
}


def test_every_switch_is_classified() -> None:
    fields = {f.name for f in dataclasses.fields(Semantics)}
    assert fields == set(EXACT_WHEN_FLIPPED) | set(COUNTEREXAMPLES)


@pytest.mark.parametrize("setting", sorted(set(COUNTEREXAMPLES) - {"is_any_of_matches_missing"}))
def test_flipped_cell_breaks_the_pinned_complement(setting: str) -> None:
    value, text, attrs = COUNTEREXAMPLES[setting]
    semantics = dataclasses.replace(Semantics(), **{setting: value})
    profile = {"custom_attributes": attrs}
    assert evaluate(text, profile, now=NOW, semantics=semantics) != evaluate(
        compile(text), profile, now=NOW, semantics=semantics
    )


def test_wrong_types_break_negation_under_the_default() -> None:
    """As the research says: nothing in the JSON selects a wrong-typed value."""
    text = 'not color = "blue"'
    profile = {"custom_attributes": {"color": 5}}
    assert evaluate(text, profile, now=NOW) is True
    assert evaluate(compile(text), profile, now=NOW) is False


# ---- refused negations: the closest JSON is wrong for some user --------------------------

REFUSED = [
    # (negated rule, the closest JSON a user could write instead, a profile where they differ)
    ("not seen after 2024-01-10", "seen before 2024-01-10 or seen does not exist",
     {"custom_attributes": {"seen": "2024-01-10"}}),
    ("not seen before 2024-01-10", "seen after 2024-01-10 or seen does not exist",
     {"custom_attributes": {"seen": "2024-01-10T00:00:00Z"}}),
    ("not seen < 2 days", "seen > 2 days or seen does not exist",
     {"custom_attributes": {"seen": _iso(NOW + timedelta(days=1))}}),
    ("not seen < 2 days", "seen > 2 days or seen does not exist",
     {"custom_attributes": {"seen": _iso(NOW - timedelta(days=2))}}),
    ("not seen > 2 days", "seen < 2 days or seen does not exist",
     {"custom_attributes": {"seen": _iso(NOW + timedelta(days=3))}}),
    ("not seen < 2 days from now", "seen > 2 days from now or seen does not exist",
     {"custom_attributes": {"seen": _iso(NOW - timedelta(days=1))}}),
    ("not seen > 2 days from now", "seen < 2 days from now or seen does not exist",
     {"custom_attributes": {"seen": _iso(NOW + timedelta(days=2))}}),
    ("not last_used_app after 2024-01-10", "last_used_app before 2024-01-10", {}),
    ("not last_used_app before 2024-01-10", "last_used_app after 2024-01-10",
     {"apps": [{"last_used": "2024-01-10T00:00:00Z"}]}),
]  # fmt: skip


@pytest.mark.parametrize(("negated", "closest", "profile"), REFUSED)
def test_refused_negation_has_no_exact_json(
    negated: str, closest: str, profile: dict[str, Any]
) -> None:
    with pytest.raises(UnsupportedError):
        compile(negated)
    assert evaluate(negated, profile, now=NOW) != evaluate(compile(closest), profile, now=NOW)


@settings(max_examples=100)
@given(rules_without_time, profiles())
def test_preview_agrees_with_evaluate(rule: ast.Node, profile: dict[str, Any]) -> None:
    from audience_dsl.evaluator import preview

    users = [profile, {"custom_attributes": {}}, profile]
    result = preview(rule, users, now=NOW)
    assert result.matched == sum(evaluate(rule, u, now=NOW) for u in users)
