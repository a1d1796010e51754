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


# ---- profiles aimed at a rule ------------------------------------------------------------

from hypothesis import HealthCheck, find  # noqa: E402

from audience_dsl.strategies import DEFAULT_NOW  # noqa: E402

AIM = settings(max_examples=500, database=None, derandomize=True)  # reproducible finds


def _value_of(name: str) -> Any:
    return lambda profile: profile["custom_attributes"].get(name, "<absent>")


@pytest.mark.parametrize(
    ("rule", "name", "wanted"),
    [
        ("age > 30", "age", [30, 29, 31, "<absent>", None]),
        ("age between 18 and 65", "age", [18, 17, 65, 66]),
        ("score <= 2.5", "score", [2.5, 2.5000000000000004, 2.4999999999999996]),
        ('tier = "Gold"', "tier", ["Gold", "GOLD", "gold", "gOLD", ""]),
        ('tier ~ "^vip"', "tier", ["vip", "VIP"]),
        ('tags contains all ("a", "b")', "tags", [["a"], ["b"], ["a", "b"], []]),
        ("seen < 2 days", "seen", ["2024-05-30T00:00:00Z", "2024-05-29T23:59:59Z",
                                    "2024-05-30T00:00:01Z", "2024-06-01T00:00:01Z"]),
        ("seen before 2024-01-31T10:00:00Z", "seen",
         ["2024-01-31T10:00:00Z", "2024-01-31T09:59:59Z", "2024-01-31T10:00:01Z"]),
    ],
)  # fmt: skip
def test_profiles_near_a_rule_hit_its_boundaries(rule: str, name: str, wanted: list[Any]) -> None:
    strategy = strategies.profiles(None, now=DEFAULT_NOW, near=rule)
    get = _value_of(name)
    for value in wanted:
        found = find(strategy, lambda p, v=value: get(p) == v and type(get(p)) is type(v),
                     settings=AIM)  # fmt: skip
        assert get(found) == value


def test_profiles_near_take_text_rules_and_audiences_alike() -> None:
    audience = audience_dsl.compile("last_used_app after 2024-05-01T00:00:00Z")
    found = find(
        strategies.profiles(None, near=audience),
        lambda p: [a["last_used"] for a in p.get("apps", [])] == ["2024-05-01T00:00:01Z"],
        settings=AIM,
    )
    assert audience_dsl.evaluate(audience, found, now=DEFAULT_NOW)
    rule = audience_dsl.parse("push is opted_in")
    find(strategies.profiles(None, near=rule), lambda p: "push_subscribe" not in p, settings=AIM)


@settings(max_examples=40)
@given(strategies.profiles(Schema({"n": "Numeric", "s": "String", "t": "Time", "a": "Array"})))
def test_profiles_without_a_rule_fit_their_schema(profile: dict[str, Any]) -> None:
    attrs = profile["custom_attributes"]
    assert attrs.get("n") is None or type(attrs["n"]) in (int, float)
    assert attrs.get("s") is None or type(attrs["s"]) is str
    assert attrs.get("a") is None or type(attrs["a"]) is list
    assert attrs.get("t") is None or audience_dsl.evaluate("t exists", profile, now=NOW)


def test_profiles_near_a_rule_include_wrong_types_unless_told() -> None:
    find(strategies.profiles(None, near="n > 1"),
         lambda p: type(p["custom_attributes"].get("n")) is str, settings=AIM)  # fmt: skip
    quiet = strategies.profiles(None, near="n > 1", wrong_types=False)

    @settings(max_examples=100)
    @given(quiet)
    def no_strings(profile: dict[str, Any]) -> None:
        assert type(profile["custom_attributes"].get("n")) is not str

    no_strings()


@settings(max_examples=60, suppress_health_check=[HealthCheck.filter_too_much,
                                                  HealthCheck.too_slow])  # fmt: skip
@given(st.data())
def test_matching_and_not_matching_agree_with_the_evaluator(data: st.DataObject) -> None:
    rule = data.draw(strategies.rules(schema=SCHEMA_4, max_leaves=4))
    want = data.draw(st.booleans())
    make = strategies.matching if want else strategies.not_matching
    profile = data.draw(make(rule, schema=SCHEMA_4, now=NOW))
    assert audience_dsl.evaluate(rule, profile, now=NOW) is want


SCHEMA_4 = Schema({"age": "Numeric", "name": "String", "tags": "Array", "seen": "Time"})


@settings(max_examples=10, suppress_health_check=[], deadline=None)
@given(st.lists(strategies.profiles(
    Schema({f"a{i}": ["String", "Numeric", "Boolean", "Time", "Array"][i % 5] for i in range(30)}),
    near="a0 = 'x' and a1 > 3 and a3 < 2 days"), min_size=20, max_size=20))  # fmt: skip
def test_twenty_profiles_of_thirty_attributes_pass_the_too_slow_health_check(
    users: list[dict[str, Any]],
) -> None:
    assert len(users) == 20


def test_drawn_profiles_do_not_share_lists() -> None:
    found = find(strategies.profiles(None, near='t contains "a"'),
                 lambda p: p["custom_attributes"].get("t") == ["a"], settings=AIM)  # fmt: skip
    found["custom_attributes"]["t"].append("changed")
    again = find(strategies.profiles(None, near='t contains "a"'),
                 lambda p: p["custom_attributes"].get("t") == ["a"], settings=AIM)  # fmt: skip
    assert again["custom_attributes"]["t"] == ["a"]


# ---- rules people can tune ---------------------------------------------------------------


@settings(max_examples=60)
@given(strategies.rules(schema=SCHEMA_4, comparisons=["greater_than", "equals"], sugar=False,
                        builtins=False))  # fmt: skip
def test_rules_use_only_the_comparisons_asked_for(rule: ast.Expr) -> None:
    for node in ast.walk(rule):
        assert not isinstance(node, ast.Attribute) or node.comparison in ("greater_than", "equals")


@settings(max_examples=80)
@given(strategies.rule_texts(schema=SCHEMA_4))
def test_rule_texts_are_printable_and_skip_the_list_comparisons(text: str) -> None:
    assert ("\\u" not in text and text.isprintable()) or "\n" in text
    assert "is any of" not in text and "is none of" not in text


@pytest.mark.parametrize(
    "make",
    [
        lambda: strategies.rules(schema=SCHEMA_4, comparisons=["bigger"]),
        lambda: strategies.rules(schema=SCHEMA_4, comparisons="equals"),
        lambda: strategies.rules(schema=SCHEMA_4, sugar=["maybe"]),
        lambda: strategies.rules(schema={"b": "Boolean"}, comparisons=["greater_than"],
                                 sugar=False, builtins=False),
        lambda: strategies.profiles(None),
        lambda: strategies.profiles(None, near=42),
        lambda: strategies.profiles(SCHEMA_4, now=datetime(2024, 1, 1)),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused(make: Any) -> None:
    with pytest.raises(InvalidArgument):
        make().example()


@settings(max_examples=60)
@given(strategies.rules(schema=SCHEMA_4, max_depth=2, max_leaves=6))
def test_max_depth_bounds_the_nesting(rule: ast.Expr) -> None:
    from audience_dsl.strategies import _depth

    assert _depth(rule) <= 2


@pytest.mark.parametrize("mistake", strategies.MISTAKES)
def test_each_kind_of_mistake_is_refused_by_compile(mistake: str) -> None:
    @settings(max_examples=40)
    @given(strategies.invalid_rule_texts(mistakes=[mistake], schema=SCHEMA_4, max_leaves=3))
    def refused(text: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AudienceWarning)
            with pytest.raises(audience_dsl.AudienceError):
                audience_dsl.compile(text)

    refused()


def test_mistakes_are_one_edit_away_from_a_valid_rule() -> None:
    from audience_dsl.strategies import _mistake

    assert _mistake('name = "a" and age > 3', "missing quote", 0) == 'name = a" and age > 3'
    assert _mistake('name = "a" and age > 3', "doubled operator", 1) == 'name = "a" and age > > 3'
    assert _mistake('name = "and" and age > 3', "misspelled keyword", 0) == (
        'name = "and" adn age > 3'
    )
    assert _mistake("(a > 1 or b < 2) and c", "unbalanced parenthesis", 1) == (
        "(a > 1 or b < 2 and c"
    )


@settings(max_examples=60)
@given(strategies.trigger_send_bodies(schema=SCHEMA_4))
def test_trigger_send_bodies_pass_the_request_check(body: dict[str, Any]) -> None:
    from audience_dsl.braze.body import check_body

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudienceWarning)
        check_body(body)
    assert ("broadcast" in body) != ("recipients" in body)


@pytest.mark.parametrize(
    "cls",
    [Schema, ast.Rule, ast.Node, ast.Attribute, ast.Subscription, ast.LastUsedApp, ast.In,
     ast.Between, ast.ContainsAny, ast.ContainsAll, ast.And, ast.Or, ast.Not, ast.AllOf,
     ast.AnyOf],
    ids=lambda cls: cls.__name__,
)  # fmt: skip
def test_from_type_draws_each_registered_type(cls: type) -> None:
    @settings(max_examples=15, suppress_health_check=[HealthCheck.filter_too_much,
                                                      HealthCheck.too_slow])  # fmt: skip
    @given(st.from_type(cls))
    def drawn(value: object) -> None:
        assert isinstance(value, cls)
        if isinstance(value, ast.Node) and not isinstance(value, ast.AllOf | ast.AnyOf):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AudienceWarning)
                audience_dsl.to_audience(value)

    drawn()


@settings(max_examples=80)
@given(strategies.rule_texts(schema=SCHEMA_4, escapes=True, max_leaves=4))
def test_rules_with_escapes_compile_and_print_back(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudienceWarning)
        audience_dsl.compile(text)
    assert audience_dsl.format(text) == text


def test_escapes_are_drawn_only_when_asked() -> None:
    find(strategies.rule_texts(schema=SCHEMA_4, escapes=True), lambda t: "\\u" in t,
         settings=AIM)  # fmt: skip


@pytest.mark.parametrize(
    ("data_type", "check"),
    [
        ("Numeric", lambda v: type(v) in (int, float) and abs(v) <= 10**6
         and round(v, 2) == v),
        ("String", lambda v: type(v) is str and v.isprintable() and "\\" not in v),
        ("Boolean", lambda v: type(v) is bool),
        ("Time", lambda v: audience_dsl.compile(f"t after {v}") is not None),
        ("Array", lambda v: type(v) is str),
    ],
)  # fmt: skip
def test_values_per_type(data_type: str, check: Any) -> None:
    @settings(max_examples=40)
    @given(strategies.values(data_type))
    def drawn(value: Any) -> None:
        assert check(value), value

    drawn()


def test_values_refuse_a_comparison_the_type_lacks() -> None:
    with pytest.raises(InvalidArgument):
        strategies.values("Boolean", comparison="greater_than").example()


def test_strategies_show_as_the_call_that_made_them() -> None:
    schema = Schema({"age": "Numeric"})
    assert repr(strategies.rules(schema=schema, max_leaves=3)) == (
        "rules(max_leaves=3, schema=Schema({'age': 'Numeric'}))"
    )
    assert repr(strategies.matching("age > 1")) == "matching('age > 1')"
    assert repr(strategies.schemas(max_size=3)) == "schemas(max_size=3)"
