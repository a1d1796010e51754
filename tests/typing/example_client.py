"""A small service client, type-checked by mypy --strict in the test suite
(tests/test_typing.py): the public API's types must let such code through."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import audience_dsl
from audience_dsl import Diagnostic, Report, Rule, Schema, Source, Span
from audience_dsl.braze.shapes import Audience, TriggerSendRequest


def validate_as_you_type(text: str, schema: Schema) -> list[dict[str, object]]:
    report: Report = audience_dsl.analyze(text, schema=schema)
    return [d.to_dict() for d in report.diagnostics]


def first_problem(text: str) -> tuple[int, int] | None:
    for diagnostic in audience_dsl.analyze(text).errors:
        span: Span = diagnostic.span
        return span.line, diagnostic.utf16_column
    return None


def compile_quietly(text: str) -> tuple[Audience, list[Diagnostic]]:
    found: list[Diagnostic] = []
    audience = audience_dsl.compile(text, schema='{"age": "Numeric"}', warnings=found)
    return audience, found


def names_in(audience: Audience) -> list[str]:
    if "AND" in audience:
        return [name for part in audience["AND"] for name in names_in(part)]
    if "OR" in audience:
        return [name for part in audience["OR"] for name in names_in(part)]
    if "custom_attribute" in audience:
        return [audience["custom_attribute"]["custom_attribute_name"]]
    return []


def store(text: str) -> str:
    rule: Rule = audience_dsl.parse(text)
    return json.dumps(rule.to_json())


def load(stored: str) -> str:
    return audience_dsl.print_rule(Rule.from_json(json.loads(stored)))


def show_back(stored: MappingProxyType[str, object]) -> str:
    return audience_dsl.decompile(stored)


def body(campaign_id: str, text: str) -> TriggerSendRequest:
    return {"campaign_id": campaign_id, "broadcast": True, "audience": audience_dsl.compile(text)}


def schemas(path: Path) -> tuple[Schema, Schema, str]:
    from_file = Schema.coerce(path)
    from_text = Schema.coerce('{"age": "Numeric"}')
    audience_dsl.compile("age > 3", schema=path)
    return from_file, from_text, from_file.dumps("toml")


def source_of(text: str) -> Source:
    return audience_dsl.analyze(text).source


def published() -> dict[str, object]:
    return audience_dsl.json_schema("request")
