"""The pipeline: each public function composes the stages' own functions.

    text ─language─▶ surface AST ─check─▶ checked AST ─lower─▶ core AST ─braze.codec─▶ dict

``compile(text)`` is ``to_json(lower(check(parse(text))))``; the later stages (evaluate,
send, the command line) import their entry points from here, never from the package's
front door.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audience_dsl.braze.codec import to_json
from audience_dsl.check import Schema, bind, check
from audience_dsl.errors import ValidationError
from audience_dsl.language import ast
from audience_dsl.language.ast import Rule
from audience_dsl.language.formatter import format_rule
from audience_dsl.language.parser import parse_expr, read_source
from audience_dsl.lower import DEFAULT, Options, lower
from audience_dsl.semantics import Semantics
from audience_dsl.source import Source

__all__ = ["compile", "format", "parse", "to_audience"]

#: The ``stacklevel`` that makes a warning from :func:`check` point at the line that
#: called :func:`compile` (tests/test_schema.py holds it there).
STACKLEVEL = 3


def parse(
    text: str | bytes, *, params: Mapping[str, Any] | None = None, source_name: str = "<rule>"
) -> Rule:
    """Rule text to its AST, with ``params`` bound when given.

    Without ``params``, parameters stay in the tree as :class:`~audience_dsl.ast.Param`
    nodes, to be bound later; with ``params``, every parameter must be given a value and
    every value used.
    """
    source = _source(text, source_name)
    expr = parse_expr(source)
    if params is not None:
        expr = bind(expr, params, source)
    return Rule(expr=expr, span=expr.span, source=source)


def to_audience(
    rule: Rule | ast.Node,
    *,
    schema: Schema | Mapping[str, Any] | str | None = None,
    strict: bool = False,
    semantics: Semantics | None = None,
    list_comparisons: bool = False,
) -> dict[str, Any]:
    """An AST (a :class:`Rule` or any node) to the Connected Audience object.

    ``semantics`` is the missing-value policy the complements of ``not`` are pinned
    for (the documented defaults when None); ``list_comparisons`` lets the output use
    Braze's newer ``is_any_of``/``is_none_of`` (not every workspace accepts them).
    """
    options = _options(semantics, list_comparisons)
    return _to_audience(rule, schema, strict, stacklevel=STACKLEVEL + 1, options=options)


def compile(
    text: str | bytes,
    *,
    schema: Schema | Mapping[str, Any] | str | None = None,
    params: Mapping[str, Any] | None = None,
    strict: bool = False,
    semantics: Semantics | None = None,
    list_comparisons: bool = False,
    source_name: str = "<rule>",
) -> dict[str, Any]:
    """Rule text to the Connected Audience object Braze takes as ``audience``.

    ``schema`` (a :class:`Schema`, a mapping of attribute name to type, or the path of a
    JSON or TOML file) checks every condition against the attributes' types; ``strict``
    makes attributes missing from the schema errors. ``params`` binds ``$parameters``.
    ``semantics`` and ``list_comparisons`` are as for :func:`to_audience`.

    >>> compile("last_purchase < 2 days")["custom_attribute"]["comparison"]
    'less_than_x_days_ago'
    """
    source = _source(text, source_name)
    types = Schema.coerce(schema) if schema is not None else None
    expr = bind(parse_expr(source), params or {}, source, types)
    checked = check(expr, source, schema=types, strict=strict, stacklevel=STACKLEVEL)
    return to_json(lower(checked, source, _options(semantics, list_comparisons)), source)


def _options(semantics: Semantics | None, list_comparisons: bool) -> Options:
    if semantics is None and not list_comparisons:
        return DEFAULT
    if semantics is None:
        return Options(list_comparisons=list_comparisons)
    return Options(
        semantics.missing_matches, list_comparisons, semantics.string_not_equal_case_sensitive
    )


def format(text: str | bytes, *, width: int = 88) -> str:
    """Rule text in canonical form, comments kept beside the conditions they annotate.

    >>> print(format("AND_x == 1 && b  # why b"))
    AND_x = 1 and b  # why b
    """
    source = _source(text, "<rule>")  # only text is a rule
    return format_rule(source.text, width=width)


def read_rule(data: str | bytes, name: str = "<rule>") -> str:
    """Rule text from a file's bytes (or text): UTF-8, a byte-order mark skipped, any line
    breaks; bytes that are not UTF-8 are an AudienceSyntaxError naming line and byte."""
    return read_source(data, name).text


def _source(text: object, name: str) -> Source:
    return read_source(text, name)


def _to_audience(
    rule: Rule | ast.Node, schema: Any, strict: bool, stacklevel: int, options: Options = DEFAULT
) -> dict[str, Any]:
    if not isinstance(rule, ast.Node):
        raise ValidationError(
            [("rule", f"expected a Rule or an AST node (from parse()), not {type(rule).__name__}")]
        )
    source = rule.source if isinstance(rule, Rule) else None
    expr = rule.expr if isinstance(rule, Rule) else rule
    types = Schema.coerce(schema) if schema is not None else None
    checked = check(expr, source, schema=types, strict=strict, stacklevel=stacklevel)
    return to_json(lower(checked, source, options), source)
