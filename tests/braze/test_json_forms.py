"""JSON forms for storing: Schema to and from JSON/TOML, the AST as tagged JSON, the JSON
Schema of the audience and of the request body; any Mapping read as a JSON object."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

import audience_dsl
from audience_dsl import AudienceError, Rule, Schema, ValidationError, json_schema
from audience_dsl import strategies as ads
from audience_dsl.language import ast
from tests.helpers import load_cases

ROOT = Path(__file__).resolve().parents[2]
COMPILED = [c for c in load_cases() if "dsl" in c and "json" in c]
AUDIENCE = jsonschema.Draft202012Validator(json_schema("audience"))
REQUEST = jsonschema.Draft202012Validator(json_schema("request"))

# ---- Schema ------------------------------------------------------------------------------


@st.composite
def schemas_with_conflicts(draw: st.DrawFn) -> Schema:
    schema = draw(ads.schemas())
    for name in draw(st.lists(st.sampled_from(sorted(schema)), unique=True, max_size=3)):
        kinds = draw(st.lists(st.sampled_from(list(ast.DataType)), min_size=2, unique=True))
        schema.conflicts[name] = tuple(kinds)
    return schema


@given(schemas_with_conflicts(), st.sampled_from(["json", "toml"]))
def test_schema_dumps_and_loads_back_equal(schema: Schema, form: str) -> None:
    again = Schema.loads(schema.dumps(form), form)
    assert again == schema
    assert again.conflicts == schema.conflicts
    assert Schema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema


def test_schema_equality_counts_conflicts() -> None:
    a, b = Schema({"age": "Numeric"}), Schema({"age": "Numeric"})
    b.conflicts["age"] = (ast.DataType.NUMERIC, ast.DataType.STRING)
    assert a != b
    assert a == {"age": ast.DataType.NUMERIC}  # against a plain mapping: the types only


def test_toml_keys_and_values_are_escaped() -> None:
    schema = Schema({'we"ird\\name\x7f': "String", "名前": "Time"})
    assert Schema.loads(schema.dumps("toml"), "toml") == schema


def test_schema_files_keep_conflicts(tmp_path: Path) -> None:
    schema = Schema({"age": "Numeric"})
    schema.conflicts["age"] = (ast.DataType.NUMERIC, ast.DataType.STRING)
    for form in ("json", "toml"):
        path = tmp_path / f"schema.{form}"
        path.write_text(schema.dumps(form), encoding="utf-8")
        assert Schema.load(path) == schema
        assert Schema(path) == schema
        assert Schema(str(path)) == schema


def test_schema_as_text_path_or_mapping_without_guessing(tmp_path: Path) -> None:
    expected = {"custom_attribute": {"custom_attribute_name": "age", "comparison": "equals",
                                     "value": 3}}  # fmt: skip
    path = tmp_path / "s.json"
    path.write_text('{"age": "Numeric"}')
    for schema in ('{"age": "Numeric"}', '  {"attributes": {"age": "numeric"}}', path, str(path),
                   {"age": "Numeric"}, MappingProxyType({"age": "Numeric"})):  # fmt: skip
        assert audience_dsl.compile("age = 3", schema=schema) == expected
        with pytest.raises(audience_dsl.AudienceTypeError):
            audience_dsl.compile('age = "x"', schema=schema)
    # a str that does not start with `{` is a path, never parsed as text
    with pytest.raises(audience_dsl.SchemaError, match="cannot read"):
        audience_dsl.compile("age = 3", schema="age = 'Numeric'")
    with pytest.raises(audience_dsl.SchemaError, match="not valid JSON"):
        audience_dsl.compile("age = 3", schema="{age: Numeric}")


@pytest.mark.parametrize("bad", ["[1]", '{"attributes": {"a": "x"}}',
                                 '{"attributes": {}, "conflicts": {"a": "String"}}'])  # fmt: skip
def test_bad_schema_text_is_a_schema_error(bad: str) -> None:
    with pytest.raises(audience_dsl.SchemaError):
        Schema.loads(bad)


# ---- the AST as tagged JSON ---------------------------------------------------------------


@given(ads.rules())
def test_rule_json_round_trip(expr: ast.Expr) -> None:
    rule = Rule(expr=expr)
    data = rule.to_json()
    again = Rule.from_json(json.loads(json.dumps(data)))
    assert again == rule
    assert again.to_json() == data


@given(ads.rule_texts())
def test_parsed_rule_json_round_trip(text: str) -> None:
    rule = audience_dsl.parse(text)
    again = Rule.from_json(json.loads(json.dumps(rule.to_json())))
    assert again == rule
    assert audience_dsl.to_audience(again, warnings=[]) == audience_dsl.to_audience(
        rule, warnings=[]
    )


def test_rule_json_is_tagged() -> None:
    text = "age > $min and not (tags contains any ('a', 'b') or push is opted_in)"
    rule = audience_dsl.parse(text)
    assert rule.to_json() == {
        "node": "Rule", "format": 1, "expr": {"node": "And", "children": [
            {"node": "Attribute", "name": "age", "comparison": "greater_than",
             "value": {"param": "min", "days_per_unit": 1}},
            {"node": "Not", "operand": {"node": "Or", "children": [
                {"node": "ContainsAny", "name": "tags", "values": ["a", "b"]},
                {"node": "Subscription", "channel": "push", "comparison": "is",
                 "state": "opted_in"}]}}]}}  # fmt: skip


def test_rule_json_of_a_deep_rule() -> None:
    leaf = ast.Attribute(name="a", comparison=ast.Comparison.EXISTS)
    expr: ast.Expr = leaf
    for i in range(10_000):
        expr = ast.Not(operand=expr) if i % 2 else ast.And(children=(expr, leaf))
    rule = Rule(expr=expr)
    assert Rule.from_json(rule.to_json()) == rule


def test_shared_sub_rules_are_encoded_once() -> None:
    expr: ast.Expr = ast.Attribute(name="a", comparison=ast.Comparison.EXISTS)
    for _ in range(200):  # 2**200 paths, 201 distinct nodes
        expr = ast.And(children=(expr, expr))
    data = Rule(expr=expr).to_json()
    again = Rule.from_json(data)
    assert isinstance(again.expr, ast.And) and again.expr.children[0] is again.expr.children[1]


def test_a_bare_node_is_taken_as_the_expression() -> None:
    node = {"node": "Attribute", "name": "a", "comparison": "exists"}
    assert Rule.from_json(node) == audience_dsl.parse("a exists")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (3, "$"),
        ({"node": "Nope"}, "$"),
        ({"node": "And", "children": []}, "$.children"),
        ({"node": "And", "children": [{"node": "Attribute", "name": 1, "comparison": "exists"}]},
         "$.children[0].name"),
        ({"node": "Attribute", "name": "a", "comparison": "bigger"}, "$.comparison"),
        ({"node": "Attribute", "name": "a", "comparison": "equals", "value": [{}]}, "$.value[0]"),
        ({"node": "Attribute", "name": "a", "comparison": "exists", "extra": 1}, "$"),
        ({"node": "Not"}, "$"),
        ({"node": "Rule", "format": 99, "expr": {"node": "Attribute", "name": "a",
                                                 "comparison": "exists"}}, "$"),
        ({"node": "In", "name": "a", "values": {"param": 3}}, "$.values"),
    ],
)  # fmt: skip
def test_rule_from_json_refuses_with_paths(data: Any, path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Rule.from_json(data)
    assert path in caught.value.paths
    assert isinstance(caught.value, AudienceError)
    assert "tagged JSON" in str(caught.value)


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["node", "name", "children", "comparison", "value",
                                       "operand", "expr"]), inner, max_size=4),
    max_leaves=12,
))  # fmt: skip
def test_rule_from_json_only_raises_ours(data: Any) -> None:
    with contextlib.suppress(AudienceError):
        Rule.from_json(data)


# ---- JSON Schema -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["audience", "request"])
def test_json_schema_is_draft_2020_12(kind: str) -> None:
    schema = json_schema(kind)  # type: ignore[arg-type]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("case", COMPILED, ids=[c["id"] for c in COMPILED])
def test_every_compiled_example_fits_the_schemas(case: dict[str, Any]) -> None:
    AUDIENCE.validate(case["json"])
    REQUEST.validate({"campaign_id": "c", "broadcast": True, "audience": case["json"]})


@given(ads.audiences())
def test_every_generated_audience_fits_the_schema(audience: dict[str, Any]) -> None:
    AUDIENCE.validate(audience)


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"AND": []},
        {"OR": {"custom_attribute": {"custom_attribute_name": "a", "comparison": "exists"}}},
        {"custom_attribute": {"custom_attribute_name": "a", "comparison": "is"}},
        {"custom_attribute": {"custom_attribute_name": "", "comparison": "exists"}},
        {"custom_attribute": {"custom_attribute_name": "a", "comparison": "exists"}, "OR": []},
        {"push_subscription_status": {"comparison": "equals", "value": "opted_in"}},
        {"email_subscription_status": {"comparison": "is", "value": "yes"}},
        {"last_used_app": {"comparison": "less_than_x_days_ago", "value": 3}},
        [],
    ],
)
def test_shapes_braze_refuses_do_not_fit(bad: Any) -> None:
    assert not AUDIENCE.is_valid(bad)
    with pytest.raises(ValidationError):
        audience_dsl.validate(bad)


def test_request_schema() -> None:
    audience = audience_dsl.compile("a exists")
    good = [
        {"campaign_id": "c", "broadcast": True, "audience": audience},
        {"campaign_id": "c", "recipients": [{"external_user_id": "u", "trigger_properties":
                                             {"x": 1}}], "send_id": "s"},
        {"campaign_id": "c", "recipients": [{"user_alias": {"alias_name": "n",
                                                            "alias_label": "l"}}]},
    ]
    for body in good:
        REQUEST.validate(body)
    bad = [
        {},
        {"campaign_id": "c", "send_id": None},
        {"campaign_id": "c", "audience": {"AND": []}},
        {"campaign_id": "c", "unknown": 1},
        {"campaign_id": "c", "recipients": [{"user_alias": {"alias_name": "n"}}]},
    ]
    for body in bad:
        assert not REQUEST.is_valid(body), body
    assert set(json_schema("request")["$defs"]) >= {"Recipient", "UserAlias", "Audience"}


def test_published_schemas_match() -> None:
    text = (ROOT / "docs" / "json-schema.md").read_text(encoding="utf-8")
    blocks = text.split("```json\n")[1:]
    published = [json.loads(block.split("\n```")[0]) for block in blocks]
    assert published == [json_schema("audience"), json_schema("request")]


def test_json_schema_refuses_other_kinds() -> None:
    with pytest.raises(ValidationError):
        json_schema("profile")  # type: ignore[arg-type]
    assert json_schema() == json_schema("audience")
    json_schema()["$defs"].clear()  # a fresh copy each time
    assert json_schema()["$defs"]


# ---- Mapping ---------------------------------------------------------------------------------


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_frozen(v) for v in value]
    return value


@pytest.mark.parametrize("case", COMPILED[:80], ids=[c["id"] for c in COMPILED[:80]])
def test_any_mapping_is_read_as_a_json_object(case: dict[str, Any]) -> None:
    frozen = _frozen(case["json"])
    audience_dsl.validate(frozen)
    assert audience_dsl.decompile(frozen) == audience_dsl.decompile(case["json"])


def test_a_cycle_through_a_mapping_is_reported_not_followed() -> None:
    inner: dict[str, Any] = {}
    inner["AND"] = [MappingProxyType(inner)]
    with pytest.raises(ValidationError):
        audience_dsl.validate(MappingProxyType(inner))
    leaf = MappingProxyType({"custom_attribute": {"custom_attribute_name": "a",
                                                  "comparison": "exists"}})  # fmt: skip
    shared: Any = leaf
    for _ in range(60):  # 2**60 paths through 61 objects
        shared = {"AND": [shared, shared]}
    audience_dsl.validate(shared)  # copied once per object, never walked 2**60 times
