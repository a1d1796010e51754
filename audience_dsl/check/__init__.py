"""Checking a surface AST, the stage between parsing and lowering.

:func:`check` binds parameters, infers types (or checks them against a schema), compiles
regular expressions and issues warnings, collecting every problem of every step and
raising once, sorted by position. Each step is a module of its own:

* :mod:`~audience_dsl.check.params` — ``$parameters``;
* :mod:`~audience_dsl.check.types` — type conflicts without a schema;
* :mod:`~audience_dsl.check.schema` — :class:`Schema`, and comparisons against it;
* :mod:`~audience_dsl.check.regexes` — regular expressions;
* :mod:`~audience_dsl.check.suspicious` — what compiles but is probably not meant.
"""

from __future__ import annotations

from audience_dsl.check.params import bind, params_of
from audience_dsl.check.regexes import check_regexes
from audience_dsl.check.schema import Schema, check_schema
from audience_dsl.check.suspicious import warn_suspicious
from audience_dsl.check.types import type_conflicts
from audience_dsl.errors import AudienceTypeError, Diagnostic, SchemaError
from audience_dsl.language import ast
from audience_dsl.source import Source

__all__ = ["Schema", "bind", "check", "params_of"]


def check(
    expr: ast.Node,
    source: Source | None,
    *,
    schema: Schema | None = None,
    strict: bool = False,
    warnings: list[Diagnostic] | None = None,
) -> ast.Node:
    """``expr`` checked: every problem of every step raised at once as one
    :class:`~audience_dsl.errors.AudienceTypeError`; warnings (diagnostics of severity
    warning) added to ``warnings`` when it is given, in order of position, even when
    errors are raised. Nothing goes through Python's ``warnings`` module.

    Parameters must be bound already (:func:`bind`); ``strict`` needs a ``schema``.
    """
    if strict and schema is None:
        raise SchemaError("strict checking needs a schema")
    nodes = _conditions(expr)  # one walk, shared by every step
    problems = type_conflicts(expr, known=schema or (), nodes=nodes)
    found: list[Diagnostic] = []
    problems.extend(check_regexes(expr, source, nodes=nodes, warnings=found))
    if schema is not None:
        try:
            check_schema(expr, schema, strict=strict, source=source, nodes=nodes, warnings=found)
        except AudienceTypeError as error:
            problems.extend(error.diagnostics)
    problems.extend(
        warn_suspicious(expr, source, strict=strict, nodes=nodes, warnings=found)
    )
    if warnings is not None:
        warnings.extend(sorted(found, key=lambda d: (d.span.start, d.span.end)))
    if problems:
        raise AudienceTypeError(problems, source or Source(""))
    return expr


_GROUPS = (ast.And, ast.Or, ast.AllOf, ast.AnyOf)


def _conditions(expr: ast.Node) -> list[ast.Node]:
    """The conditions of ``expr`` (the nodes without children), left to right: the only
    nodes any step looks at, so the groups and negations above them are walked once."""
    found: list[ast.Node] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, _GROUPS):
            stack.extend(reversed(node.children))
        elif isinstance(node, ast.Not):
            stack.append(node.operand)
        elif isinstance(node, ast.Rule):
            stack.append(node.expr)
        else:
            found.append(node)
    return found
