"""Schemas: every (type x comparison) cell, values of the wrong type, strict mode,
parameters checked against types, inference from profiles, named sub-rules."""

from __future__ import annotations

import json
import string
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import audience_dsl
from audience_dsl import Schema
from audience_dsl.language.ast import DataType as T
from audience_dsl.vocabulary import ALLOWED
from tests.helpers import assert_rejects, load_cases

CELLS = list(load_cases("schema_cells.jsonl"))


def test_the_cell_table_covers_every_type_and_comparison_the_language_emits() -> None:
    assert {(c["type"], c["comparison"]) for c in CELLS} == {
        (t.value, comparison) for t in T for comparison in {c["comparison"] for c in CELLS}
    }
    for case in CELLS:
        in_table = any(c.value == case["comparison"] for c in ALLOWED[T(case["type"])])
        assert in_table == case["allowed"], case["id"]


@pytest.mark.parametrize("case", CELLS, ids=[c["id"] for c in CELLS])
def test_cell(case: dict[str, Any]) -> None:
    schema = {"x": case["type"]}
    if case["allowed"]:
        result = audience_dsl.compile(case["dsl"], schema=schema)
        assert result["custom_attribute"]["comparison"] == case["comparison"]
        return
    with pytest.raises(audience_dsl.AudienceTypeError) as info:
        audience_dsl.compile(case["dsl"], schema=schema)
    error = info.value
    assert (error.line, error.column) == tuple(case["at"])
    assert case["message"] in error.message
    assert f"{case['type']} attributes allow" in error.hint


SCHEMA = {"age": "Numeric", "name": "String", "vip": "Boolean", "tags": "Array", "seen": "Time"}


@pytest.mark.parametrize(
    ("rule", "at", "hint"),
    [
        ('age = "21"', (1, 7), "write `age = 21`"),
        ('age != "2.5"', (1, 8), "write `age != 2.5`"),
        ("name = 21", (1, 8), 'write `name = "21"`'),
        ('vip = "true"', (1, 7), "write `vip = true`"),
        ('age in (1, "2")', (1, 12), "write `age = 2`"),
    ],
)
def test_a_value_of_the_wrong_type_has_the_corrected_text_as_hint(
    rule: str, at: tuple[int, int], hint: str
) -> None:
    with pytest.raises(audience_dsl.AudienceTypeError) as info:
        audience_dsl.compile(rule, schema=SCHEMA)
    assert (info.value.line, info.value.column) == at
    assert info.value.hint == hint


def test_five_mistakes_are_reported_together_in_source_order() -> None:
    rule = 'age = "21" and\n  name > 3 and vip ~ /x/\n  and tags = 1 and seen = true'
    with pytest.raises(audience_dsl.AudienceTypeError) as info:
        audience_dsl.compile(rule, schema=SCHEMA)
    places = [(d.span.line, d.span.column) for d in info.value.diagnostics]
    assert places == [(1, 7), (2, 3), (2, 16), (3, 7), (3, 20)]
    assert str(info.value).count("error:") == 5


def test_strict_mode_refuses_unknown_attributes_with_a_suggestion() -> None:
    with pytest.raises(audience_dsl.AudienceTypeError) as info:
        audience_dsl.compile("agee > 3 and nme exists", schema=SCHEMA, strict=True)
    assert [d.hint for d in info.value.diagnostics] == [
        "did you mean `age`?",
        "did you mean `name`?",
    ]
    # Without strict mode, unknown attributes are typed by inference.
    assert audience_dsl.compile("agee > 3", schema=SCHEMA)["custom_attribute"]["value"] == 3
    with pytest.raises(audience_dsl.AudienceTypeError):
        audience_dsl.compile("other > 3 and other = 'x'", schema=SCHEMA)


def test_strict_mode_turns_name_warnings_into_errors() -> None:
    schema = {"address.city": "String", "country": "String"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audience_dsl.compile('address.city = "Paris"', schema=schema)
    assert any("nested" in str(w.message) for w in caught)
    with pytest.raises(audience_dsl.AudienceTypeError) as info:
        audience_dsl.compile(
            'address.city = "Paris" and `country` = "FR"', schema=schema, strict=True
        )
    assert len(info.value.diagnostics) == 2


def test_invalid_regex_points_inside_the_pattern() -> None:
    error = assert_rejects(r"path ~ /a\/b(c/", "AudienceTypeError", (1, 13))
    assert "invalid regex" in error.message


def test_regex_with_upper_case_warns() -> None:
    with pytest.warns(audience_dsl.AudienceWarning, match="case-insensitively"):
        audience_dsl.compile("name ~ /^[A-Z]/")


def test_liquid_and_zero_days_warn() -> None:
    with pytest.warns(audience_dsl.AudienceWarning, match="Liquid"):
        audience_dsl.compile('name = "{{ first_name }}"')
    with pytest.warns(audience_dsl.AudienceWarning, match="0 days"):
        audience_dsl.compile("seen < 0 days")


# ---- loading and inferring -----------------------------------------------------------------


def test_schema_files(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"attributes": {"age": "number"}}))
    (tmp_path / "s.toml").write_text('[attributes]\nage = "Numeric"\ntags = "Array"\n')
    assert dict(Schema.load(tmp_path / "s.json")) == {"age": T.NUMERIC}
    assert dict(Schema.load(tmp_path / "s.toml")) == {"age": T.NUMERIC, "tags": T.ARRAY}
    with pytest.raises(audience_dsl.AudienceTypeError):
        audience_dsl.compile('age = "x"', schema=str(tmp_path / "s.toml"))


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("{", ".json", "not valid"),
        ("[1]", ".json", "must hold an object"),
        ('age = "Numbr"', ".toml", "unknown data type"),
        ("age = ", ".toml", "not valid"),
    ],
)
def test_bad_schema_files(tmp_path: Path, content: str, suffix: str, message: str) -> None:
    path = tmp_path / f"s{suffix}"
    path.write_text(content)
    with pytest.raises(audience_dsl.SchemaError, match=message):
        Schema.load(path)
    with pytest.raises(audience_dsl.SchemaError):
        Schema.load(tmp_path / "missing.json")
    with pytest.raises(audience_dsl.SchemaError):
        Schema([1, 2])  # type: ignore[arg-type]


TYPES = st.sampled_from(list(T))


def _value(kind: T) -> st.SearchStrategy[Any]:
    return {
        T.STRING: st.text(alphabet=string.ascii_letters, min_size=1),
        T.NUMERIC: st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False),
        T.BOOLEAN: st.booleans(),
        T.TIME: st.sampled_from(["2024-01-31T10:00:00Z", "2023-12-01", "2019-07-22T13:17:55+0000"]),
        T.ARRAY: st.lists(st.text(alphabet="abc", min_size=1), max_size=3),
    }[kind]


@st.composite
def profiles_of(draw: st.DrawFn, schema: dict[str, T]) -> list[dict[str, Any]]:
    users = []
    for _ in range(draw(st.integers(200, 300))):
        attributes = {
            name: draw(_value(kind) | st.none())
            for name, kind in schema.items()
            if draw(st.booleans()) or True
        }
        users.append({"external_id": "u", "custom_attributes": attributes})
    return users


@settings(max_examples=30)  # each example is a few hundred profiles
@given(
    st.dictionaries(
        st.from_regex(r"[a-z]{1,8}", fullmatch=True), TYPES, min_size=1, max_size=6
    ).flatmap(lambda schema: st.tuples(st.just(schema), profiles_of(schema)))
)
def test_infer_recovers_the_generating_schema(
    pair: tuple[dict[str, T], list[dict[str, Any]]],
) -> None:
    schema, users = pair
    # Every attribute is seen with a non-null value at least once.
    for name, kind in schema.items():
        users[0]["custom_attributes"][name] = {
            T.STRING: "s",
            T.NUMERIC: 1,
            T.BOOLEAN: True,
            T.TIME: "2024-01-01",
            T.ARRAY: ["a"],
        }[kind]
    inferred = Schema.infer(users)
    assert dict(inferred) == schema
    assert inferred.conflicts == {}


def test_infer_reports_conflicting_types() -> None:
    users = [{"custom_attributes": {"age": 3}}, {"custom_attributes": {"age": "3"}},
             {"custom_attributes": {"age": 4}}, {"custom_attributes": None}, "junk"]  # fmt: skip
    inferred = Schema.infer(users)  # type: ignore[arg-type]
    assert inferred["age"] is T.NUMERIC
    assert inferred.conflicts == {"age": (T.STRING, T.NUMERIC)}


# ---- parameters ------------------------------------------------------------------------------


def test_parameters_are_checked_against_the_schema() -> None:
    with pytest.raises(audience_dsl.ParameterError) as info:
        audience_dsl.compile(
            "age = $a and name in $names", schema=SCHEMA, params={"a": "21", "names": ["x", 2]}
        )
    messages = [d.message for d in info.value.diagnostics]
    assert "`$a` must be a Numeric value" in messages[0]
    assert "`$names` must be a String value" in messages[1]


def test_missing_unused_and_ill_typed_parameters() -> None:
    with pytest.raises(audience_dsl.ParameterError) as info:
        audience_dsl.compile(
            "a = $x and b < $days days and c in $list", params={"days": -1, "lst": []}
        )
    text = str(info.value)
    assert "no value was given for the parameter `$x`" in text
    assert "`$days` counts days" in text
    assert "no value was given for the parameter `$list`" in text
    assert "`$lst` was given but the rule does not use it" in text


NASTY = st.lists(
    st.sampled_from([*"\"'`()$\\\n ", "and", "or", ")", "not ", "x"]), max_size=12
).map("".join)
RULE_WITH_PARAMS = (
    "(name = $s or tags contains $t) and not (age > $n) and seen < $d weeks"
    " and market in $list and vip = $b and last_used_app after $when"
)


@given(
    s=NASTY, t=NASTY, n=st.integers(-5, 5) | st.floats(-5, 5, allow_nan=False),
    d=st.integers(0, 100), items=st.lists(NASTY, min_size=1, max_size=4), b=st.booleans(),
)  # fmt: skip
def test_a_parameter_never_changes_the_structure(
    s: str, t: str, n: float, d: int, items: list[str], b: bool
) -> None:
    def shape(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: shape(v) for k, v in node.items() if k != "value"}
        if isinstance(node, list):
            return (
                [shape(v) for v in node][:1]
                if len(node) and "custom_attribute" in node[0]
                else [shape(v) for v in node]
            )
        return node

    params = {"s": s, "t": t, "n": n, "d": d, "list": items, "b": b, "when": "2024-01-01T00:00:00Z"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = audience_dsl.compile(RULE_WITH_PARAMS, params=params)
        reference = audience_dsl.compile(
            RULE_WITH_PARAMS,
            params={**params, "s": "a", "t": "b", "n": 1, "d": 1, "list": ["x"] * len(items)},
        )
    assert shape(got) == shape(reference)
    assert got["AND"][0]["OR"][0]["custom_attribute"]["value"] == s


# ---- named sub-rules -------------------------------------------------------------------------


def test_let_defines_reusable_sub_rules() -> None:
    rule = (
        "let active = last_purchase < 30 days;\nlet vip = spend > 1000 and active;\nvip or `active`"
    )
    got = audience_dsl.compile(rule)
    assert got["OR"][0]["AND"][1]["custom_attribute"]["custom_attribute_name"] == "last_purchase"
    # A backticked name is always the attribute, never the sub-rule.
    assert got["OR"][1]["custom_attribute"] == {
        "custom_attribute_name": "active", "comparison": "equals", "value": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "message", "at"),
    [
        ("let a = b;\nlet b = a;\na", "cycle: a -> b -> a", (2, 9)),
        ("let a = a;\na", "cycle: a -> a", (1, 9)),
        ("let a = x = 1;\nlet a = y = 2;\na", "defined twice", (2, 5)),
        ("let = 1; a", "expected an attribute name", (1, 5)),
    ],
)
def test_let_errors(rule: str, message: str, at: tuple[int, int]) -> None:
    with pytest.raises(audience_dsl.AudienceSyntaxError) as info:
        audience_dsl.compile(rule)
    assert message in info.value.message
    assert (info.value.line, info.value.column) == at


def test_every_way_to_build_a_schema_agrees(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"age": "Numeric"}')
    expected = {"age": T.NUMERIC}
    schemas = [
        Schema(path),
        Schema(str(path)),
        Schema.from_file(path),
        Schema.load(path),
        Schema.from_mapping({"age": "numeric"}),
        Schema.coerce({"age": "Numeric"}),
    ]
    for schema in schemas:
        assert dict(schema) == expected


def test_warnings_point_at_the_callers_line() -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        audience_dsl.compile("address.city = 1")
        audience_dsl.to_audience(audience_dsl.parse("address.city = 1"))
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line), (__file__, line + 1)]
