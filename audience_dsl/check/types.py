"""Type inference without a schema: each condition's comparison and value imply a data type,
and an attribute used with two different types is reported, every conflict at once."""

from __future__ import annotations

from collections.abc import Container, Sequence

from audience_dsl.errors import Diagnostic, Label
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.ast import DataType as T
from audience_dsl.source import NOWHERE, Span
from audience_dsl.vocabulary import implied_type

__all__ = ["type_conflicts"]



def _uses(node: ast.Node) -> list[tuple[str, T | None, Span | None, Span | None]]:
    """(attribute, implied type, where the name stands, where the value stands) per use."""
    if isinstance(node, ast.Attribute):
        return [(node.name, implied_type(node.comparison, node.value), node.name_span,
                 node.value_span)]  # fmt: skip
    if isinstance(node, ast.In):
        values = () if isinstance(node.values, ast.Param) else node.values
        spans: tuple[Span | None, ...] = node.value_spans or tuple(None for _ in values)
        # Each value stands for one use, placed at the value (so a mixed list points at
        # the odd value out).
        return [
            (node.name, implied_type(C.EQUALS, v), s or node.name_span, None)
            for v, s in zip(values, spans, strict=False)
        ]
    if isinstance(node, ast.Between):
        return [(node.name, T.NUMERIC, node.name_span, None)]
    if isinstance(node, ast.ContainsAny | ast.ContainsAll):
        return [(node.name, T.ARRAY, node.name_span, None)]
    return []


def type_conflicts(
    expr: ast.Node, known: Container[str] = (), nodes: Sequence[ast.Node] | None = None
) -> list[Diagnostic]:
    """A diagnostic for each use of an attribute with another type than its first use."""
    seen: dict[str, tuple[T, Span | None]] = {}
    problems: list[Diagnostic] = []
    for node in ast.walk(expr) if nodes is None else nodes:
        for name, kind, name_span, value_span in _uses(node):
            if kind is None or name in known:
                continue
            first = seen.get(name)
            if first is None:
                seen[name] = (kind, name_span)
                continue
            if first[0] is kind:
                continue
            where = first[1]
            at = f" at {where.line}:{where.column}" if where is not None else ""
            labels = (Label(where, f"used as {first[0]} here"),) if where is not None else ()
            problems.append(
                Diagnostic(
                    f"`{name}` is used as {kind} here but as {first[0]}{at}",
                    name_span or value_span or NOWHERE,
                    f"used as {kind}",
                    "an attribute has one data type: compare it the same way everywhere "
                    "(a schema says which type it has)",
                    labels,
                )
            )
    return problems
