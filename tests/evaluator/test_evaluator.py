"""The reference evaluator: the semantics table, explanations, previews, errors, depth."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from audience_dsl import AudienceError, ParameterError, ValidationError, ast, parse
from audience_dsl.braze.codec import to_core
from audience_dsl.evaluator import (
    Explanation,
    Preview,
    evaluate,
    explain,
    preview,
)
from audience_dsl.language.ast import Comparison as C
from audience_dsl.lower import lower
from audience_dsl.semantics import Semantics, WrongType

CASES = Path(__file__).parents[1] / "cases" / "semantics.jsonl"
NOW = datetime(2024, 1, 15, 12, tzinfo=UTC)


def _load() -> list[dict[str, Any]]:
    with CASES.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _semantics(overrides: dict[str, Any]) -> Semantics:
    fields = {f.name: f for f in dataclasses.fields(Semantics)}
    values = {
        key: WrongType(value) if key == "wrong_type" else value for key, value in overrides.items()
    }
    assert set(values) <= set(fields), set(values) - set(fields)
    return dataclasses.replace(Semantics(), **values)


@pytest.mark.parametrize("case", _load(), ids=lambda c: c["id"])
def test_semantics_table(case: dict[str, Any]) -> None:
    target = case.get("rule", case.get("audience"))
    now = datetime.fromisoformat(case["now"])
    semantics = _semantics(case.get("semantics", {}))
    assert evaluate(target, case["profile"], now=now, semantics=semantics) is case["expect"]
    assert explain(target, case["profile"], now=now, semantics=semantics).matched is case["expect"]


def test_every_switch_has_a_case() -> None:
    used = {key for case in _load() for key in case.get("semantics", {})}
    assert used == {f.name for f in dataclasses.fields(Semantics)}


# ---- the defaults are the compiler's assumptions ------------------------------------------

SAMPLE_VALUES: dict[C, list[object]] = {
    C.EQUALS: ["blue", 3, 0, 0.0, -2.5, True, False],
    C.NOT_EQUAL: ["blue", 3, 0, True, False],
    C.GREATER_THAN: [3, 0],
    C.GREATER_THAN_OR_EQUAL_TO: [3, 0],
    C.LESS_THAN: [3, 0],
    C.LESS_THAN_OR_EQUAL_TO: [3, 0],
    C.MATCHES_REGEX: ["b"],
    C.DOES_NOT_MATCH_REGEX: ["b"],
    C.INCLUDES_VALUE: ["x"],
    C.DOES_NOT_INCLUDE_VALUE: ["x"],
    C.IS_ANY_OF: [("x",)],
    C.IS_NONE_OF: [("x",)],
    C.EXISTS: [None],
    C.DOES_NOT_EXIST: [None],
}


@pytest.mark.parametrize("comparison", sorted(SAMPLE_VALUES))
def test_the_evaluator_follows_the_missing_cells_of_the_policy(comparison: C) -> None:
    for value in SAMPLE_VALUES[comparison]:
        expected = Semantics().missing_matches(comparison, value)
        # the evaluator really behaves that way on a profile without the attribute
        leaf = ast.Attribute(name="x", comparison=comparison, value=value)  # type: ignore[arg-type]
        for profile in ({}, {"custom_attributes": {"x": None}}):
            assert evaluate(leaf, profile, now=NOW) is expected


def test_semantics_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Semantics().wrong_type = WrongType.AS_MISSING  # type: ignore[misc]


# ---- inputs --------------------------------------------------------------------------------


def test_text_ast_and_json_agree() -> None:
    text = 'color = "blue" and (age > 18 or push is opted_in)'
    profile = {"custom_attributes": {"color": "blue", "age": 12}, "push_subscribe": "opted_in"}
    rule = parse(text)
    audience = {
        "AND": [
            {"custom_attribute": {"custom_attribute_name": "color", "comparison": "equals",
                                  "value": "blue"}},
            {"OR": [
                {"custom_attribute": {"custom_attribute_name": "age", "comparison": "greater_than",
                                      "value": 18}},
                {"push_subscription_status": {"comparison": "is", "value": "opted_in"}},
            ]},
        ]
    }  # fmt: skip
    assert evaluate(text, profile, now=NOW) is True
    assert evaluate(rule, profile, now=NOW) is True
    assert evaluate(rule.expr, profile, now=NOW) is True
    assert evaluate(audience, profile, now=NOW) is True
    assert to_core(audience) == lower(rule.expr)


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        evaluate("x exists", {}, now=datetime(2024, 1, 1))
    assert info.value.paths == ("now",)
    with pytest.raises(ValidationError):
        evaluate("x exists", {}, now="2024-01-01")  # type: ignore[arg-type]


def test_other_time_zones_for_now() -> None:
    from datetime import timezone

    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))
    profile = {"custom_attributes": {"t": (NOW - timedelta(hours=47)).isoformat()}}
    assert evaluate("t < 2 days", profile, now=tokyo) is True


@pytest.mark.parametrize(
    ("audience", "paths"),
    [
        ([], ("rule",)),
        ({"AND": []}, ("$.AND",)),
        ({"AND": [{"OR": "x"}]}, ("$.AND[0].OR",)),
        ({"custom_attribute": {"comparison": "equals", "value": 1}},
         ("$.custom_attribute",)),  # the missing key is reported at the object lacking it
        ({"custom_attribute": {"custom_attribute_name": "a", "comparison": "nope", "value": 1}},
         ("$.custom_attribute.comparison",)),
        ({"custom_attribute": {"custom_attribute_name": "a", "comparison": "does_not_equal",
                               "value": True}}, ("$.custom_attribute.comparison",)),
        ({"custom_attribute": {"custom_attribute_name": "a", "comparison": "greater_than",
                               "value": "3"}}, ("$.custom_attribute.value",)),
        ({"custom_attribute": {"custom_attribute_name": "a", "comparison": "matches_regex",
                               "value": "("}}, ("$.custom_attribute.value",)),
        ({"custom_attribute": {"custom_attribute_name": "a", "comparison": "after",
                               "value": "soon"}}, ("$.custom_attribute.value",)),
        ({"custom_attribute": {"custom_attribute_name": "a", "comparison": "less_than_x_days_ago",
                               "value": -1}}, ("$.custom_attribute.value",)),
        ({"custom_attribute": {"custom_attribute_name": "a", "comparison": "is",
                               "value": "x"}}, ("$.custom_attribute.comparison",)),
        ({"push_subscription_status": {"comparison": "is", "value": "maybe"}},
         ("$.push_subscription_status.value",)),
        ({"last_used_app": {"comparison": "less_than_x_days_ago", "value": 2}},
         ("$.last_used_app.comparison", "$.last_used_app.value")),
        ({"favourite": {}}, ("$.favourite",)),
        ({"OR": [{"AND": [1]}, {"custom_attribute": 2}]},
         ("$.OR[0].AND[0]", "$.OR[1].custom_attribute")),
    ],
)  # fmt: skip
def test_malformed_json_names_every_path(audience: Any, paths: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        evaluate(audience, {}, now=NOW)
    assert info.value.paths == paths


def test_invalid_regex_in_a_rule() -> None:
    rule = ast.Attribute(name="x", comparison=C.MATCHES_REGEX, value="(")
    with pytest.raises(ValidationError, match="invalid regular expression"):
        evaluate(rule, {}, now=NOW)


def test_unbound_parameter() -> None:
    with pytest.raises(ParameterError, match="min_age"):
        evaluate("age > $min_age", {"custom_attributes": {"age": 3}}, now=NOW)


@pytest.mark.parametrize(
    "profile",
    [
        [],
        {"custom_attributes": []},
        {"push_subscribe": "maybe"},
        {"apps": "yesterday"},
    ],
)
def test_malformed_profiles(profile: Any) -> None:
    with pytest.raises(ValidationError):
        evaluate(
            "x exists and push is opted_in and last_used_app after 2024-01-01", profile, now=NOW
        )


def test_only_audience_errors_escape_for_bad_rules() -> None:
    for bad in ("x = ", 42, None, {"AND": None}):
        with pytest.raises(AudienceError):
            evaluate(bad, {}, now=NOW)  # type: ignore[arg-type]


def test_regex_is_a_case_insensitive_search() -> None:
    profile = {"custom_attributes": {"address": "Someone@Example.COM"}}
    assert evaluate("address ~ /example\\.com$/", profile, now=NOW)
    assert not evaluate("address ~ /^example/", profile, now=NOW)


def test_numbers_compare_by_value() -> None:
    assert evaluate("n = 5", {"custom_attributes": {"n": 5.0}}, now=NOW)
    assert evaluate("n > 2.5", {"custom_attributes": {"n": 3}}, now=NOW)


# ---- depth -----------------------------------------------------------------------------------


def _deep(depth: int) -> ast.Node:
    node: ast.Node = ast.Attribute(name="x", comparison=C.EXISTS)
    for i in range(depth):
        if i % 3 == 0:
            node = ast.Not(operand=node)
        elif i % 3 == 1:
            node = ast.And(children=(node, ast.Attribute(name="y", comparison=C.DOES_NOT_EXIST)))
        else:
            node = ast.Or(children=(ast.Attribute(name="z", comparison=C.EXISTS), node))
    return node


def test_ten_thousand_deep() -> None:
    rule = _deep(10_000)
    shallow = _deep(10)
    for profile in ({}, {"custom_attributes": {"x": 1}}, {"custom_attributes": {"z": 1}}):
        result = evaluate(rule, profile, now=NOW)
        assert isinstance(result, bool)
        assert explain(rule, profile, now=NOW).matched is result
        assert preview(rule, [profile], now=NOW).matched == int(result)
        assert preview(shallow, [profile], now=NOW).matched == int(
            evaluate(shallow, profile, now=NOW)
        )


def test_deep_json() -> None:
    audience: dict[str, Any] = {"custom_attribute": {"custom_attribute_name": "x",
                                                     "comparison": "exists"}}  # fmt: skip
    for i in range(10_000):
        audience = {"AND" if i % 2 else "OR": [audience]}
    assert evaluate(audience, {"custom_attributes": {"x": "a"}}, now=NOW) is True


# ---- explain ---------------------------------------------------------------------------------


def test_explain_says_why() -> None:
    profile = {"custom_attributes": {"last_purchase": "2024-01-10T12:00:00Z", "age": 30}}
    result = explain("last_purchase < 2 days or not (age > 18)", profile, now=NOW)
    assert isinstance(result, Explanation)
    assert not result.matched
    assert [step.text for step in result.steps] == [
        "any of", "last_purchase < 2 days", "not", "age > 18",
    ]  # fmt: skip
    assert [step.result for step in result.steps] == [False, False, False, True]
    assert [step.depth for step in result.steps] == [0, 1, 1, 2]
    assert str(result) == (
        "not matched\n"
        "  no  any of\n"
        "    no  last_purchase < 2 days -- last_purchase was 5 days ago; "
        "the rule needs less than 2\n"
        "    no  not\n"
        "      yes age > 18 -- age is 30; the rule needs more than 18"
    )


def test_explain_missing_and_wrong_type() -> None:
    profile = {"custom_attributes": {"age": "30"}}
    result = explain('age > 18 or color != "blue"', profile, now=NOW)
    assert result.matched
    reasons = [step.reason for step in result.steps[1:]]
    assert reasons == [
        'age is "30", not a number, so the comparison does not apply',
        "color is missing; `not_equal` matches users without a value",
    ]


def test_explain_json_and_builtins() -> None:
    audience = {"AND": [
        {"push_subscription_status": {"comparison": "is", "value": "opted_in"}},
        {"last_used_app": {"comparison": "after", "value": "2024-01-01T00:00:00Z"}},
    ]}  # fmt: skip
    text = str(explain(audience, {}, now=NOW))
    # A compiled dict is explained in rule text (decompiled).
    assert "push is opted_in -- push state is subscribed (the default)" in text
    assert "last_used_app after 2024-01-01T00:00:00Z -- the user never used an app" in text


# ---- preview ---------------------------------------------------------------------------------

USERS = [
    {"external_id": "a", "custom_attributes": {"age": 30, "color": "blue"}},
    {"braze_id": "b", "custom_attributes": {"age": 10, "color": "blue"}},
    {"custom_attributes": {"age": 40}},
    {"external_id": "d", "custom_attributes": {"age": 50, "color": "blue"}},
]


def test_preview_counts() -> None:
    result = preview('age > 18 and color = "blue"', USERS, now=NOW, sample=1)
    assert isinstance(result, Preview)
    assert (result.matched, result.total, result.sample) == (2, 4, ("a",))
    assert [(leaf.text, leaf.passed) for leaf in result.leaves] == [
        ("age > 18", 3),
        ('color = "blue"', 3),
    ]
    assert str(result).startswith("2 of 4 users match (50.0%)")


def test_preview_sample_ids() -> None:
    result = preview("age exists", USERS, now=NOW)
    assert result.sample == ("a", "b", "users[2]", "d")


def test_preview_reads_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(u) for u in USERS) + "\n\n", encoding="utf-8")
    result = preview('color = "blue"', path, now=NOW)
    assert (result.matched, result.total) == (3, 4)
    assert preview('color = "blue"', str(path), now=NOW).sample == ("a", "b", "d")


def test_preview_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text('{"external_id": "a"}\n{oops\n', encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        preview("x exists", path, now=NOW)
    assert info.value.paths == (f"{path}:2",)
    with pytest.raises(ValidationError):
        preview("x exists", tmp_path / "missing.jsonl", now=NOW)


def test_preview_bad_profile_names_it() -> None:
    with pytest.raises(ValidationError) as info:
        preview("push is opted_in", [{}, {"push_subscribe": "no"}], now=NOW)
    assert info.value.paths == ("users[1].push_subscribe",)


def test_preview_many_patterns_fold() -> None:
    # 13 leaves over varied users: more distinct result patterns than the tally keeps.
    names = [f"f{i}" for i in range(13)]
    rule = " or ".join(f"{name} exists" for name in names)
    users = [
        {"custom_attributes": {name: 1 for bit, name in enumerate(names) if n >> bit & 1}}
        for n in range(8192)
    ]
    result = preview(rule, users, now=NOW)
    assert result.matched == 8191
    assert all(leaf.passed == 4096 for leaf in result.leaves)
