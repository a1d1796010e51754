"""audience-dsl: write Braze Connected Audiences as text.

>>> import audience_dsl
>>> audience_dsl.compile('eye_color = "blue" and push is opted_in')["AND"][1]
{'push_subscription_status': {'comparison': 'is', 'value': 'opted_in'}}

The pipeline, one module a stage::

    text ─parser─▶ surface AST ─check─▶ checked AST ─lower─▶ core AST ─compiler─▶ dict
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import ast
from .ast import Rule
from .braze import validate
from .check import bind, type_conflicts, warn_suspicious
from .compiler import to_json
from .decompiler import decompile
from .errors import (
    AudienceError,
    AudienceSyntaxError,
    AudienceTypeError,
    AudienceWarning,
    Diagnostic,
    ParameterError,
    RuleError,
    SchemaError,
    SendError,
    SQLError,
    UnsupportedError,
    ValidationError,
)
from .evaluator import Explanation, Preview, Semantics, WrongType, evaluate, explain, preview
from .formatter import format_rule
from .lower import DEFAULT, Options, lower
from .parser import parse_expr
from .printer import print_rule
from .schema import Schema, check_regexes, check_schema
from .source import Source, Span
from .sql import to_sql

_NOWHERE = Span(0, 0, 1, 1, 1, 1)

__all__ = [
    "AudienceError",
    "AudienceSyntaxError",
    "AudienceTypeError",
    "AudienceWarning",
    "Explanation",
    "ParameterError",
    "Preview",
    "Rule",
    "RuleError",
    "SQLError",
    "Schema",
    "SchemaError",
    "Semantics",
    "SendError",
    "UnsupportedError",
    "ValidationError",
    "WrongType",
    "compile",
    "decompile",
    "evaluate",
    "explain",
    "format",
    "parse",
    "preview",
    "print_rule",
    "to_audience",
    "to_sql",
    "validate",
]

__version__ = "0.1.0"


def parse(
    text: str, *, params: Mapping[str, Any] | None = None, source_name: str = "<rule>"
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
    return _to_audience(rule, schema, strict, stacklevel=4, options=options)


def compile(
    text: str,
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
    rule = Rule(expr=expr, span=expr.span, source=source)
    options = _options(semantics, list_comparisons)
    return _to_audience(rule, types, strict, stacklevel=5, options=options)


def _options(semantics: Semantics | None, list_comparisons: bool) -> Options:
    if semantics is None and not list_comparisons:
        return DEFAULT
    if semantics is None:
        return Options(list_comparisons=list_comparisons)
    return Options(
        semantics.missing_matches, list_comparisons, semantics.string_not_equal_case_sensitive
    )


def format(text: str, *, width: int = 88) -> str:
    """Rule text in canonical form, comments kept beside the conditions they annotate.

    >>> print(format("AND_x == 1 && b  # why b"))
    AND_x = 1 and b  # why b
    """
    _source(text, "<rule>")  # only text is a rule
    return format_rule(text, width=width)


def _source(text: object, name: str) -> Source:
    if not isinstance(text, str):
        raise AudienceSyntaxError(
            Diagnostic(f"a rule is text, not {type(text).__name__}", _NOWHERE), Source("")
        )
    return Source(text, name)


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
    if strict and types is None:
        raise SchemaError("strict checking needs a schema")
    nodes = list(ast.walk(expr))  # one walk, shared by every check
    problems = type_conflicts(expr, known=types or (), nodes=nodes)
    problems.extend(check_regexes(expr, source, stacklevel=stacklevel, nodes=nodes))
    if types is not None:
        try:
            check_schema(expr, types, strict=strict, source=source, nodes=nodes)
        except AudienceTypeError as error:
            problems.extend(error.diagnostics)
    problems.extend(
        warn_suspicious(expr, source, stacklevel=stacklevel, strict=strict, nodes=nodes)
    )
    if problems:
        raise AudienceTypeError(problems, source or Source(""))
    return to_json(lower(expr, source, options), source)
