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
from .check import bind, check_types, warn_suspicious
from .compiler import to_json
from .errors import (
    AudienceError,
    AudienceSyntaxError,
    AudienceTypeError,
    AudienceWarning,
    ParameterError,
    RuleError,
    SchemaError,
    SendError,
    UnsupportedError,
    ValidationError,
)
from .lower import lower
from .parser import parse_expr
from .source import Source

__all__ = [
    "AudienceError",
    "AudienceSyntaxError",
    "AudienceTypeError",
    "AudienceWarning",
    "ParameterError",
    "Rule",
    "RuleError",
    "SchemaError",
    "SendError",
    "UnsupportedError",
    "ValidationError",
    "compile",
    "parse",
    "to_audience",
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
    if not isinstance(text, str):
        raise AudienceSyntaxError(
            _diagnostic(f"a rule is text, not {type(text).__name__}"), Source("")
        )
    source = Source(text, source_name)
    expr = parse_expr(source)
    if params is not None:
        expr = bind(expr, params, source)
    return Rule(expr=expr, span=expr.span, source=source)


def to_audience(rule: Rule | ast.Node, *, schema: Any = None) -> dict[str, Any]:
    """An AST (a :class:`Rule` or any node) to the Connected Audience object."""
    return _to_audience(rule, schema, stacklevel=4)


def _to_audience(rule: Rule | ast.Node, schema: Any, stacklevel: int) -> dict[str, Any]:
    source = rule.source if isinstance(rule, Rule) else None
    expr = rule.expr if isinstance(rule, Rule) else rule
    check_types(expr, source)
    warn_suspicious(expr, source, stacklevel=stacklevel)
    return to_json(lower(expr, source), source)


def compile(
    text: str,
    *,
    schema: Any = None,
    params: Mapping[str, Any] | None = None,
    strict: bool = False,
    source_name: str = "<rule>",
) -> dict[str, Any]:
    """Rule text to the Connected Audience object Braze takes as ``audience``.

    >>> compile("last_purchase < 2 days")["custom_attribute"]["comparison"]
    'less_than_x_days_ago'
    """
    rule = parse(text, params=params if params is not None else {}, source_name=source_name)
    return _to_audience(rule, schema, stacklevel=5)


def _diagnostic(message: str) -> Any:
    from .errors import Diagnostic
    from .source import Span

    return Diagnostic(message, Span(0, 0, 1, 1, 1, 1))
