"""`validate`: the table of broken and valid audiences in tests/cases/validate.jsonl, and
properties: only our error escapes, the compiler's output validates, depth is no problem."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import audience_dsl
from audience_dsl.braze.jsonpos import read_json
from audience_dsl.braze.validate import validate
from audience_dsl.errors import AudienceWarning, SchemaError, ValidationError
from audience_dsl.language.ast import Comparison, DataType
from audience_dsl.vocabulary import ALLOWED, ATTRIBUTE_COMPARISONS
from tests.helpers import load_cases

CASES = list(load_cases("validate.jsonl"))
BROKEN = [c for c in CASES if "paths" in c]
VALID = [c for c in CASES if c.get("valid")]


def _problems(audience: Any, case: dict[str, Any]) -> ValidationError:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValidationError) as info:
            validate(audience, schema_types=case.get("schema"), legacy=case.get("legacy", False))
    return info.value


@pytest.mark.parametrize("case", BROKEN, ids=[c["id"] for c in BROKEN])
def test_broken(case: dict[str, Any]) -> None:
    error = _problems(case["audience"], case)
    assert list(error.paths) == case["paths"], str(error)
    assert any(case["message"] in message for _, message in error.problems), str(error)


@pytest.mark.parametrize("case", BROKEN, ids=[c["id"] for c in BROKEN])
def test_broken_text_has_the_same_paths_and_positions(case: dict[str, Any]) -> None:
    error = _problems(json.dumps(case["audience"], indent=2), case)
    assert list(error.paths) == case["paths"], str(error)
    assert all("(line " in message for _, message in error.problems), str(error)


@pytest.mark.parametrize("case", VALID, ids=[c["id"] for c in VALID])
def test_valid(case: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate(case["audience"], schema_types=case.get("schema"))
        validate(json.dumps(case["audience"]), schema_types=case.get("schema"))


def test_the_table_is_big_enough() -> None:
    assert len(BROKEN) >= 45
    assert len(VALID) >= 10
    assert len({c["id"] for c in CASES}) == len(CASES)


# ---- messages and positions ------------------------------------------------------------


def test_positions_point_at_the_key() -> None:
    text = (
        '{"AND": [\n'
        '  {"custom_attribute": {"custom_attribute_name": "age",\n'
        '                        "comparison": "does_not_equal", "value": 3}},\n'
        '  {"NOT": {}}\n'
        "]}"
    )
    with pytest.raises(ValidationError) as info:
        validate(text)
    assert info.value.problems == (
        (
            "$.AND[0].custom_attribute.comparison",
            "`does_not_equal` is not a Braze comparison; use `not_equal` (Braze rejects "
            "`does_not_equal` at send time, even for Booleans) (line 3, column 25)",
        ),
        (
            "$.AND[1].NOT",
            "Braze has no NOT; write the condition as rule text with `not` and let the "
            "compiler push it down to the filters (line 4, column 4)",
        ),
    )


def test_str_lists_every_problem() -> None:
    with pytest.raises(ValidationError) as info:
        validate({"OR": [{"and": []}, {"custom_attribute": {"comparison": "exists"}}]})
    assert str(info.value) == (
        "invalid Connected Audience object:\n"
        "  $.OR[0].and: unknown key `and`; did you mean `AND`?\n"
        "  $.OR[1].custom_attribute: `custom_attribute_name` is missing"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not JSON: Expecting value at line 1 column 1"),
        ('{"AND": [}', "not JSON: Expecting value at line 1 column 10"),
        ('{"AND": []}\n{}', "not JSON: Extra data at line 2 column 1"),
        ("[" * 100_000, "not JSON: Expecting value at line 1 column 100001"),
        (b"\xff", "not JSON: not UTF-8 text"),
    ],
)
def test_not_json(text: str | bytes, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate(text)
    assert info.value.paths == ("$",)
    assert info.value.problems[0][1].startswith(message)


def test_bytes_are_json_text() -> None:
    validate(b'{"push_subscription_status": {"comparison": "is", "value": "subscribed"}}')


# ---- warnings (rules 31, 34, 38) ---------------------------------------------------------


def _attribute(name: str, comparison: str, *value: Any) -> dict[str, Any]:
    body = {"custom_attribute_name": name, "comparison": comparison}
    return body | ({"value": value[0]} if value else {})


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        (_attribute("a", "exists", True), "value", "takes no value"),
        (_attribute("a", "does_not_exist", None), "value", "takes no value"),
        (_attribute("a", "less_than_x_days_ago", 1.5), "value", "whole number"),
        (_attribute("address.city", "exists"), "custom_attribute_name", "nested"),
        (_attribute("pets[]", "exists"), "custom_attribute_name", "nested"),
        (_attribute("Country", "exists"), "custom_attribute_name", "default profile field"),
    ],
)
def test_warnings(body: dict[str, Any], path: str, message: str) -> None:
    with pytest.warns(AudienceWarning) as record:
        validate({"custom_attribute": body})
    (warning,) = record
    assert str(warning.message).startswith(f"$.custom_attribute.{path}: ")
    assert message in str(warning.message)
    assert warning.filename == __file__


def test_whole_float_days_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate({"custom_attribute": {"custom_attribute_name": "a",
                  "comparison": "less_than_x_days_ago", "value": 2.0}})  # fmt: skip


# ---- the tables ----------------------------------------------------------------------------


def test_allowed_covers_every_attribute_comparison() -> None:
    assert set(ALLOWED) == set(DataType)
    assert set(Comparison) - {Comparison.IS, Comparison.IS_NOT} == ATTRIBUTE_COMPARISONS
    assert len(ATTRIBUTE_COMPARISONS) == 20
    assert all({Comparison.EXISTS, Comparison.DOES_NOT_EXIST} <= c for c in ALLOWED.values())


def test_bad_schema_types_are_a_schema_error() -> None:
    with pytest.raises(SchemaError):
        validate({"AND": []}, schema_types={"age": "Number"})  # type: ignore[dict-item]


def test_non_finite_numbers_are_not_numbers() -> None:
    body = {"custom_attribute_name": "a", "comparison": "greater_than", "value": math.inf}
    with pytest.raises(ValidationError, match="needs a number"):
        validate({"custom_attribute": body})
    with pytest.raises(ValidationError, match="needs a number"):
        validate('{"custom_attribute": {"custom_attribute_name": "a", '
                 '"comparison": "less_than", "value": NaN}}')  # fmt: skip


# ---- depth and strange objects -------------------------------------------------------------

LEAF = {"custom_attribute": {"custom_attribute_name": "a", "comparison": "exists"}}
LEAF_TEXT = json.dumps(LEAF)


def _deep(depth: int, leaf: Any = LEAF) -> dict[str, Any]:
    node: Any = leaf
    for level in range(depth):
        node = {"AND" if level % 2 else "OR": [node]}
    return node  # type: ignore[no-any-return]


def test_a_deep_dict_validates() -> None:
    validate(_deep(10_000))


def test_a_deep_dict_fails_cleanly_with_the_full_path() -> None:
    broken = {"custom_attribute": {"custom_attribute_name": "a", "comparison": "exist"}}
    with pytest.raises(ValidationError) as info:
        validate(_deep(10_000, broken))
    (path,) = info.value.paths
    assert path.startswith("$.AND[0].OR[0].AND[0]")
    assert path.endswith(".custom_attribute.comparison")
    assert path.count("[0]") == 10_000


COMPARISON_KEY = '"comparison"'


def test_deep_text_validates_and_fails_with_a_position() -> None:
    depth = 10_000
    text = '{"AND": [' * depth + LEAF_TEXT + "]}" * depth
    validate(text)
    with pytest.raises(ValidationError) as info:
        validate(text.replace('"exists"', '"exist"'))
    assert info.value.problems[0][1].endswith(
        f"(line 1, column {9 * depth + LEAF_TEXT.index(COMPARISON_KEY) + 1})"
    )
    with pytest.raises(ValidationError, match="not JSON: Expecting"):
        validate(text[:-1])


def test_a_wide_audience_validates() -> None:
    validate({"OR": [LEAF] * 20_000})


def test_a_cycle_is_an_error() -> None:
    node: dict[str, Any] = {}
    node["AND"] = [LEAF, node]
    with pytest.raises(ValidationError) as info:
        validate(node)
    assert info.value.paths == ("$.AND[1]",)
    assert "cycle" in info.value.problems[0][1]


def test_shared_subtrees_are_fine() -> None:
    shared = {"OR": [LEAF, LEAF]}
    validate({"AND": [shared, shared, LEAF]})


@pytest.mark.parametrize(
    "value",
    [None, 0, 1.5, True, "", "x", [], [None], {1: 2}, {(): []}, {"AND": [[[]]]}, object(),
     {"custom_attribute": {"custom_attribute_name": "a", "comparison": "equals", "value": {1, 2}}},
     {"custom_attribute": {"custom_attribute_name": ["a"], "comparison": {}, "value": object()}},
     {"custom_attribute": {1: "a"}}, {"last_used_app": None}],
)  # fmt: skip
def test_garbage_is_a_validation_error(value: Any) -> None:
    with pytest.raises(ValidationError):
        validate(value)


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["AND", "OR", "NOT", "custom_attribute", "equals", "exists", "is",
                       "opted_in", "after", "2020-01-01", "value", "comparison",
                       "custom_attribute_name", "last_used_app", "push_subscription_status"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(
        st.sampled_from(["AND", "OR", "NOT", "custom_attribute", "custom_attribute_name",
                         "comparison", "value", "last_used_app", "email_subscription_status"])
        | st.text(max_size=4),
        inner,
        max_size=3,
    ),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300)
@given(JSONISH)
def test_only_validation_errors_escape(value: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for audience in (value, _dumps(value)):
            try:
                validate(audience)
            except ValidationError as exc:
                assert exc.problems
                assert all(path.startswith("$") for path in exc.paths)


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value)
    except ValueError:
        return "null"


@settings(max_examples=200)
@given(JSONISH, st.sampled_from(["", " ", "\n  "]))
def test_read_json_agrees_with_json_loads(value: Any, space: str) -> None:
    text = json.dumps(value, indent=len(space) or None, allow_nan=True)
    expected = json.loads(text)
    got = read_json(text)[0]
    assert json.dumps(got) == json.dumps(expected)


@settings(max_examples=200)
@given(st.text(alphabet='{}[]",:0123456789.eE-+ truefalsn\\u', max_size=20))
def test_read_json_fails_like_json_loads(text: str) -> None:
    try:
        expected: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        with pytest.raises(json.JSONDecodeError) as info:
            read_json(text)
        assert info.value.pos == exc.pos
    else:
        assert json.dumps(read_json(text)[0]) == json.dumps(expected)


# ---- the compiler's output is valid ----------------------------------------------------------

COMPILED = [c for c in load_cases() if "json" in c]
RULES = [
    'eye_color = "blue" and (last_purchase < 2 days or push is opted_in)',
    "age >= 21 and age < 65",
    "is_vip",
    "is_vip != true",
    'plan in ("gold", "silver")',
    'plan not in ("free", "trial")',
    "age between 18 and 30",
    'tags contains any ("a", "b")',
    'tags contains all ("a", "b")',
    'tags not contains "c"',
    "nickname exists",
    "nickname does not exist",
    "renewal_at < 5 days from now",
    "renewal_at > 5 days from now",
    "signup_at after 2019-07-22T13:17:55+0000",
    "signup_at before 2020-01-01",
    'name ~ /^a.*z$/ or name !~ "b+"',
    "email is not unsubscribed",
    "last_used_app after 2019-07-22T13:17:55+0000",
    'not (plan = "gold" and age > 3)',
    'not (nickname exists or tags contains "x")',
    "a = 1 or (b = 2 and (c = 3 or d = 4))",
]


@pytest.mark.parametrize("rule", RULES)
def test_compiled_rules_validate(rule: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        validate(audience_dsl.compile(rule))


@pytest.mark.parametrize("case", COMPILED, ids=[c["id"] for c in COMPILED])
def test_every_compiled_case_validates(case: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        validate(case["json"])
