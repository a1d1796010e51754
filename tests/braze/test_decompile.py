# ruff: noqa: E501  (the cases are data tables, one per line)
"""Connected Audience JSON back to text: sugar where exact, every problem with its path."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from hypothesis import given, settings

import audience_dsl
from audience_dsl.braze.codec import to_json
from audience_dsl.braze.decompile import decompile, printable_core, resugar
from audience_dsl.braze.validate import validate
from audience_dsl.errors import AudienceWarning, UnsupportedError, ValidationError
from audience_dsl.language import ast
from tests.printing_strategies import core_exprs


def attr(name: str, comparison: str, value: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"custom_attribute_name": name, "comparison": comparison}
    if value is not None:
        body["value"] = value
    return {"custom_attribute": body}


def normalize(j: Any) -> Any:
    """``j`` with nested same-operator groups flattened and one-child groups unwrapped."""
    if not isinstance(j, dict) or len(j) != 1:
        return j
    ((key, value),) = j.items()
    if key not in ("AND", "OR"):
        return j
    flat: list[Any] = []
    for child in (normalize(c) for c in value):
        if isinstance(child, dict) and list(child) == [key]:
            flat.extend(child[key])
        else:
            flat.append(child)
    return flat[0] if len(flat) == 1 else {key: flat}


def compile_quietly(text: str) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return audience_dsl.compile(text)


def round_trip(j: Any) -> str:
    text = decompile(j)
    assert compile_quietly(text) == normalize(j), text
    return text


SPEC_EXAMPLE = {
    "AND": [
        attr("eye_color", "equals", "blue"),
        {
            "OR": [
                attr("last_purchase", "less_than_x_days_ago", 2),
                {"push_subscription_status": {"comparison": "is", "value": "opted_in"}},
            ]
        },
    ]
}


def test_spec_example() -> None:
    assert round_trip(SPEC_EXAMPLE) == 'eye_color = "blue" and (last_purchase < 2 days or push is opted_in)'
    assert decompile(json.dumps(SPEC_EXAMPLE)) == decompile(SPEC_EXAMPLE)


@pytest.mark.parametrize(
    ("j", "text"),
    [
        ({"OR": [attr("c", "equals", "US"), attr("c", "equals", "CA")]}, 'c in ("US", "CA")'),
        ({"OR": [attr("n", "equals", 1), attr("n", "equals", 2.5)]}, "n in (1, 2.5)"),
        ({"AND": [attr("c", "not_equal", "US"), attr("c", "not_equal", "CA")]}, 'c not in ("US", "CA")'),
        ({"OR": [attr("c", "not_equal", "US"), attr("c", "not_equal", "CA")]}, 'c != "US" or c != "CA"'),
        ({"AND": [attr("c", "equals", "US"), attr("c", "equals", "CA")]}, 'c = "US" and c = "CA"'),
        ({"AND": [attr("a", "greater_than_or_equal_to", 18), attr("a", "less_than_or_equal_to", 30)]}, "a between 18 and 30"),
        ({"AND": [attr("a", "less_than_or_equal_to", 30), attr("a", "greater_than_or_equal_to", 18)]}, "a <= 30 and a >= 18"),
        ({"AND": [attr("a", "greater_than_or_equal_to", 30), attr("a", "less_than_or_equal_to", 18)]}, "a >= 30 and a <= 18"),
        ({"AND": [attr("a", "greater_than_or_equal_to", 1), attr("b", "less_than_or_equal_to", 2)]}, "a >= 1 and b <= 2"),
        ({"OR": [attr("t", "includes_value", "x"), attr("t", "includes_value", "y")]}, 't contains any ("x", "y")'),
        ({"AND": [attr("t", "includes_value", "x"), attr("t", "includes_value", "y")]}, 't contains all ("x", "y")'),
        ({"OR": [attr("c", "equals", "US"), attr("d", "equals", "x"), attr("c", "equals", "CA")]}, 'c = "US" or d = "x" or c = "CA"'),
        ({"OR": [attr("c", "equals", "US"), {"OR": [attr("c", "equals", "CA"), attr("d", "exists")]}]}, 'c in ("US", "CA") or d exists'),
        ({"AND": [attr("x", "equals", 1)]}, "x = 1"),
        ({"AND": [{"OR": [attr("x", "equals", 1)]}, attr("y", "exists")]}, "x = 1 and y exists"),
        ({"AND": [attr("a", "greater_than_or_equal_to", 1), attr("a", "less_than_or_equal_to", 2), attr("a", "not_equal", 3), attr("a", "not_equal", 4)]}, "a between 1 and 2 and a not in (3, 4)"),
        (attr("r", "matches_regex", "^a/b$"), "r ~ /^a\\/b$/"),
        (attr("r", "does_not_match_regex", "a\nb"), 'r does not match "a\\nb"'),
        (attr("d", "greater_than_x_days_in_the_future", 1), "d > 1 day from now"),
        (attr("d", "after", "2019-07-22T13:17:55+0000"), "d after 2019-07-22T13:17:55+0000"),
        (attr("and", "does_not_exist"), "`and` does not exist"),
        (attr("Favorite Color", "equals", "x"), '`Favorite Color` = "x"'),
        ({"email_subscription_status": {"comparison": "is_not", "value": "subscribed"}}, "email is not subscribed"),
        ({"last_used_app": {"comparison": "after", "value": "2019-07-22"}}, "last_used_app after 2019-07-22"),
    ],
)
def test_decompile(j: dict[str, Any], text: str) -> None:
    assert round_trip(j) == text


@pytest.mark.parametrize(
    ("j", "text"),
    [
        ({"OR": [attr("c", "equals", "US"), attr("c", "equals", 1)]}, 'c = "US" or c = 1'),
        ({"OR": [attr("b", "equals", True), attr("b", "equals", 1)]}, "b = true or b = 1"),
    ],
)
def test_one_attribute_with_two_types_is_refused(j: dict[str, Any], text: str) -> None:
    # decompile checks with validate(), which refuses an attribute compared as two types
    # (rule 30): its text could not compile either.
    with pytest.raises(ValidationError, match="one data type"):
        decompile(j)


@pytest.mark.parametrize(
    ("j", "problems"),
    [
        ([], [("$", "expected an object, found an array")]),
        ({}, [("$", "expected an object with one key (AND, OR or a filter), found 0 keys: none")]),
        ({"AND": []}, [("$.AND", "`AND` takes a non-empty array of filters, not an empty array")]),
        ({"OR": {"x": 1}}, [("$.OR", "`OR` takes a non-empty array of filters, not an object")]),
        (
            {"AND": [attr("x", "equals", 1), attr("y", "bogus", 1), {"nope": {}}, 3]},
            [
                ("$.AND[1].custom_attribute.comparison", "unknown comparison \"bogus\": expected one of " + ", ".join(c.value for c in ast.Comparison if c.value not in ("is", "is_not"))),
                ("$.AND[2]", "unknown filter `nope`: expected AND, OR, custom_attribute, push_subscription_status, email_subscription_status or last_used_app"),
                ("$.AND[3]", "expected an object, found a number"),
            ],
        ),
        (attr("x", "greater_than", "3"), [("$.custom_attribute.value", "`greater_than` takes a number, not a string")]),
        (attr("x", "less_than_x_days_ago", -1), [("$.custom_attribute.value", "`less_than_x_days_ago` takes a whole number of days, at least 0, not a number")]),
        (attr("x", "after", "yesterday"), [("$.custom_attribute.value", "`after` takes an ISO 8601 date-time, not a string")]),
        (attr("x", "equals"), [("$.custom_attribute", "missing key `value`: `equals` takes a string, a number or a boolean")]),
        (attr("", "exists"), [("$.custom_attribute.custom_attribute_name", "expected a name, found an empty string")]),
        ({"custom_attribute": {"comparison": "exists", "extra": 1}}, [("$.custom_attribute.extra", "unknown key `extra`"), ("$.custom_attribute", "missing key `custom_attribute_name`")]),
        ({"push_subscription_status": {"comparison": "is", "value": "maybe"}}, [("$.push_subscription_status.value", 'unknown subscription state "maybe": expected opted_in, subscribed, unsubscribed')]),
        ({"last_used_app": {"comparison": "equals", "value": "2020-01-01"}}, [("$.last_used_app.comparison", 'unknown comparison "equals": expected one of after, before')]),
        ({"AND": [{"OR": [attr("x", "equals", [1])]}]}, [("$.AND[0].OR[0].custom_attribute.value", "`equals` takes a string, a number or a boolean, not an array")]),
    ],
)
def test_malformed_objects_list_every_problem(j: Any, problems: list[tuple[str, str]]) -> None:
    # The problems are validate()'s, every one of them, with the same paths.
    with pytest.raises(ValidationError) as checked:
        validate(j)
    with pytest.raises(ValidationError) as info:
        decompile(j)
    assert info.value.problems == checked.value.problems
    assert {path for path, _ in problems} & set(info.value.paths)


def test_a_value_on_exists_is_only_a_warning() -> None:
    # Braze says the value is not required, not that it is forbidden (rule 31).
    with pytest.warns(AudienceWarning):
        assert decompile(attr("x", "exists", 1)) == "x exists"


@pytest.mark.parametrize(
    "text",
    ["{", '{"AND": [1,]}', '{"x": NaN}', "[" * 100_000 + "]" * 100_000, ""],
)
def test_bad_json_text(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        decompile(text)
    assert info.value.paths[0].startswith("$")


@pytest.mark.parametrize(
    ("leaf", "text"),
    [
        (attr("x", "is_any_of", ["a", "b"]), 'y exists or x is any of ("a", "b")'),
        (attr("x", "is_none_of", ["1"]), 'y exists or x is none of ("1")'),
        (attr("x", "is_none_of", "1"), 'y exists or x is none of "1"'),
        (attr("x", "includes_value", ["a", "b"]), 'y exists or x contains any of ("a", "b")'),
    ],
)
def test_list_comparisons_decompile_and_compile_back(leaf: dict[str, Any], text: str) -> None:
    audience = {"OR": [attr("y", "exists"), leaf]}
    assert decompile(audience) == text
    assert audience_dsl.compile(text) == audience


@pytest.mark.parametrize("leaf", [attr("x", "after", "2020-01-01 10:00:00")])
def test_filters_without_text_form_are_refused(leaf: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedError) as info:
        decompile({"OR": [attr("y", "exists"), leaf]})
    assert info.value.message.startswith("$.OR[1].custom_attribute: ")


def _deep_dict(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = attr("x", "equals", 0)
    for i in range(depth):
        node = {"AND" if i % 2 else "OR": [attr(f"a{i % 5}", "equals", i), node]}
    return node


def test_depth_10000() -> None:
    deep = _deep_dict(10_000)
    text = decompile(deep)
    assert text.startswith("a4 = 9999\nand (\n  a3 = 9998\n  or (\n")
    core = printable_core(deep)
    assert audience_dsl.parse(text).expr == resugar(core)


def test_depth_10000_errors_have_paths() -> None:
    deep = _deep_dict(10_000)
    inner = deep
    for _ in range(9_999):
        inner = next(iter(inner.values()))[1]
    inner["OR"][1] = attr("x", "bogus")
    with pytest.raises(ValidationError) as info:
        decompile(deep)
    ((path, _),) = info.value.problems
    assert path.startswith("$.AND[1].OR[1].AND[1]") and path.endswith("[1].custom_attribute.comparison")


@settings(max_examples=200)
@given(core_exprs())
def test_compile_of_decompile_is_identity(core: ast.CoreNode) -> None:
    j = to_json(core)
    round_trip(j)
    round_trip(json.loads(json.dumps(j)))
