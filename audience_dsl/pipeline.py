"""The pipeline: each public function composes the stages' own functions.

    text ─language─▶ surface AST ─check─▶ checked AST ─lower─▶ core AST ─braze.codec─▶ dict

``compile(text)`` is ``to_json(lower(check(parse(text))))``; the later stages (evaluate,
send, the command line) import their entry points from here, never from the package's
front door.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from audience_dsl.braze.codec import to_json
from audience_dsl.braze.shapes import Audience
from audience_dsl.check import Schema, bind, check
from audience_dsl.errors import Diagnostic, ValidationError, emit_warnings
from audience_dsl.language import ast
from audience_dsl.language.ast import Rule
from audience_dsl.language.formatter import format_rule
from audience_dsl.language.parser import parse_expr, read_source
from audience_dsl.lower import DEFAULT, Options, lower
from audience_dsl.semantics import Semantics
from audience_dsl.source import Source

__all__ = ["compile", "format", "parse", "to_audience"]

def parse(
    text: str | bytes,
    *,
    params: Mapping[str, Any] | None = None,
    source_name: str = "<rule>",
    warnings: list[Diagnostic] | None = None,
) -> Rule:
    """Rule text to its AST, with ``params`` bound when given.

    Without ``params``, parameters stay in the tree as :class:`~audience_dsl.ast.Param`
    nodes, to be bound later; with ``params``, every parameter must be given a value and
    every value used. ``warnings`` is as for :func:`compile`.
    """
    found: list[Diagnostic] = []
    source: Source | None = None
    try:
        source = _source(text, source_name)
        expr = parse_expr(source, warnings=found)
        if params is not None:
            expr = bind(expr, params, source)
        return Rule(expr=expr, span=expr.span, source=source)
    finally:
        _hand_over(found, source, warnings)


#: What the public functions take as a schema: a :class:`Schema`, a mapping of attribute
#: name to type, JSON text (a ``str`` starting with ``{``), or the path of a JSON or TOML
#: file (any other ``str``, or a :class:`~pathlib.Path`).
SchemaLike = Schema | Mapping[str, Any] | str | Path


def to_audience(
    rule: Rule | ast.Node,
    *,
    schema: SchemaLike | None = None,
    strict: bool = False,
    semantics: Semantics | None = None,
    list_comparisons: bool = False,
    warnings: list[Diagnostic] | None = None,
) -> Audience:
    """An AST (a :class:`Rule` or any node) to the Connected Audience object.

    ``semantics`` is the missing-value policy the complements of ``not`` are pinned
    for (the documented defaults when None); ``list_comparisons`` lets the output use
    Braze's newer ``is_any_of``/``is_none_of`` (not every workspace accepts them).
    ``warnings`` is as for :func:`compile`.
    """
    options = options_for(semantics, list_comparisons)
    found: list[Diagnostic] = []
    try:
        return _to_audience(rule, schema, strict, options=options, warnings=found)
    finally:
        source = rule.source if isinstance(rule, Rule) else None
        _hand_over(found, source, warnings)


def compile(
    text: str | bytes,
    *,
    schema: SchemaLike | None = None,
    params: Mapping[str, Any] | None = None,
    strict: bool = False,
    semantics: Semantics | None = None,
    list_comparisons: bool = False,
    source_name: str = "<rule>",
    warnings: list[Diagnostic] | None = None,
) -> Audience:
    """Rule text to the Connected Audience object Braze takes as ``audience``.

    ``schema`` (a :class:`Schema`, a mapping of attribute name to type, JSON text, or
    the path of a JSON or TOML file: see :meth:`Schema.coerce`) checks every condition
    against the attributes' types; ``strict`` makes attributes missing from the schema
    errors. ``params`` binds ``$parameters``. ``semantics`` and ``list_comparisons`` are
    as for :func:`to_audience`.

    Warnings (what compiles but is probably not meant) are :class:`Diagnostic` s of
    severity warning. Given a list as ``warnings``, this call appends its own warnings
    to it and issues none through Python's :mod:`warnings` module: the thread-safe way
    to collect them per call (in a service, say). Without it, each is issued as an
    :class:`~audience_dsl.AudienceWarning` at the caller's line, for scripts.

    >>> compile("last_purchase < 2 days")["custom_attribute"]["comparison"]
    'less_than_x_days_ago'
    >>> found = []
    >>> _ = compile("user.name exists", warnings=found)
    >>> found[0].code
    'nested-attribute'
    """
    found: list[Diagnostic] = []
    source: Source | None = None
    try:
        source = _source(text, source_name)
        types = Schema.coerce(schema) if schema is not None else None
        expr = bind(parse_expr(source, warnings=found), params or {}, source, types)
        rule = Rule(expr=expr, span=expr.span, source=source)
        options = options_for(semantics, list_comparisons)
        return _to_audience(rule, types, strict, options=options, warnings=found)
    finally:
        _hand_over(found, source, warnings)


def _hand_over(
    found: list[Diagnostic], source: Source | None, warnings: list[Diagnostic] | None
) -> None:
    """Give a call's warnings to its caller: into ``warnings``, or as AudienceWarnings
    issued at the line that called the public function (three frames up from here)."""
    if source is not None:
        found = [d.with_source(source) for d in found]
    if warnings is not None:
        warnings.extend(found)
    elif found:
        emit_warnings(found, stacklevel=3)


def options_for(semantics: Semantics | None, list_comparisons: bool) -> Options:
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
    rule: Rule | ast.Node,
    schema: Any,
    strict: bool,
    options: Options = DEFAULT,
    warnings: list[Diagnostic] | None = None,
) -> Audience:
    if not isinstance(rule, ast.Node):
        raise ValidationError(
            [("rule", f"expected a Rule or an AST node (from parse()), not {type(rule).__name__}")]
        )
    source = rule.source if isinstance(rule, Rule) else None
    expr = rule.expr if isinstance(rule, Rule) else rule
    types = Schema.coerce(schema) if schema is not None else None
    checked = check(expr, source, schema=types, strict=strict, warnings=warnings)
    # The codec builds exactly the shapes the TypedDicts describe (json_schema checks it).
    return cast(Audience, to_json(lower(checked, source, options), source))
