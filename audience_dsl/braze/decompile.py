"""Connected Audience JSON back to rule text.

Three steps, each usable alone:

* :func:`printable_core` checks a Connected Audience object (anyone's, not only ours) and
  builds its core AST, reporting every problem with its JSON path at once
  (:class:`~audience_dsl.errors.ValidationError`);
* :func:`resugar` finds the runs of filters that the sugar of the language expands to,
  where writing the sugar compiles back to exactly the same filters in the same order;
* :mod:`audience_dsl.printer` writes the text.

:func:`decompile` composes them. Compiling its result gives the object back, up to the
flattening of nested same-operator groups and the unwrapping of one-child groups.
All walks are iterative, so objects nested thousands of levels deep are fine.
"""

from __future__ import annotations

from typing import Any

from audience_dsl.braze.codec import to_core
from audience_dsl.errors import Diagnostic, UnsupportedError
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.printer import check_leaf, print_rule
from audience_dsl.source import NOWHERE, Source

__all__ = ["decompile", "printable_core", "resugar"]



def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def printable_core(audience: dict[str, Any] | str) -> ast.CoreNode:
    """The core AST of a Connected Audience object (a dict, or its JSON text).

    Raises :class:`~audience_dsl.errors.ValidationError` listing every problem with its
    JSON path (checked by :func:`audience_dsl.validate`), and
    :class:`~audience_dsl.errors.UnsupportedError` for valid filters that rules cannot
    write (a date-time not in the lexer's form, a string with a lone surrogate).
    """
    root = to_core(audience)
    if any(check_leaf(n) is not None for n in ast.walk(root) if not ast.children(n)):
        paths: dict[int, str] = {}
        root = to_core(audience, paths=paths)  # again, now keeping each filter's path
        diagnostics = [
            Diagnostic(f"{paths[id(node)]}: {why}", NOWHERE, "no text form")
            for node in ast.walk(root)
            if not ast.children(node) and (why := check_leaf(node)) is not None
        ]
        raise UnsupportedError(diagnostics, Source("", "<audience>"))
    return root


# ---- sugar -------------------------------------------------------------------------------


def _value_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _run_key(node: ast.Node, all_of: bool) -> tuple[str, str, str] | None:
    """What a filter can be merged with in a run: (sugar, attribute, value type)."""
    if not isinstance(node, ast.Attribute):
        return None
    value = node.value
    wanted = C.NOT_EQUAL if all_of else C.EQUALS
    if node.comparison is wanted and _is_scalar(value):
        return ("in", node.name, _value_type(value))
    if node.comparison is C.INCLUDES_VALUE and isinstance(value, str):
        return ("contains", node.name, "string")
    return None


def _between(first: ast.Node, second: ast.Node) -> ast.Between | None:
    if not (isinstance(first, ast.Attribute) and isinstance(second, ast.Attribute)):
        return None
    low, high = first.value, second.value
    if (
        first.comparison is C.GREATER_THAN_OR_EQUAL_TO
        and second.comparison is C.LESS_THAN_OR_EQUAL_TO
        and first.name == second.name
        and _is_number(low)
        and _is_number(high)
    ):
        assert isinstance(low, int | float) and isinstance(high, int | float)
        if low <= high:
            return ast.Between(name=first.name, low=low, high=high)
    return None


def _merge(children: list[ast.Expr], all_of: bool) -> list[ast.Expr]:
    """Replace runs of filters by the sugar that expands to exactly them, in order."""
    out: list[ast.Expr] = []
    i = 0
    while i < len(children):
        node = children[i]
        key = _run_key(node, all_of)
        j = i + 1
        if key is not None:
            while j < len(children) and _run_key(children[j], all_of) == key:
                j += 1
        if key is not None and j - i >= 2:
            values = tuple(
                child.value for child in children[i:j] if isinstance(child, ast.Attribute)
            )
            if key[0] == "in":
                out.append(ast.In(name=key[1], values=values, negated=all_of))  # type: ignore[arg-type]
            elif all_of:
                out.append(ast.ContainsAll(name=key[1], values=values))  # type: ignore[arg-type]
            else:
                out.append(ast.ContainsAny(name=key[1], values=values))  # type: ignore[arg-type]
            i = j
            continue
        between = _between(node, children[i + 1]) if all_of and i + 1 < len(children) else None
        if between is not None:
            out.append(between)
            i += 2
            continue
        out.append(node)
        i += 1
    return out


def resugar(node: ast.CoreNode) -> ast.Expr:
    """A surface tree that means ``node`` and lowers back to it, using sugar where exact.

    Nested groups of the same operator are flattened and one-child groups unwrapped first,
    as printing and parsing would do anyway.
    """
    out: list[ast.Expr] = []
    stack: list[tuple[ast.Node, bool]] = [(node, False)]
    while stack:
        current, done = stack.pop()
        if not isinstance(current, ast.AllOf | ast.AnyOf):
            out.append(current)  # type: ignore[arg-type]
            continue
        if not done:
            stack.append((current, True))
            stack.extend((kid, False) for kid in reversed(current.children))
            continue
        count = len(current.children)
        kids = out[len(out) - count :]
        del out[len(out) - count :]
        all_of = isinstance(current, ast.AllOf)
        same = ast.And if all_of else ast.Or
        grouped = ast.flat_group(same, kids)
        flat: list[ast.Expr] = (
            list(grouped.children)
            if isinstance(grouped, ast.And | ast.Or) and type(grouped) is same
            else [grouped]  # type: ignore[list-item]
        )
        merged = _merge(flat, all_of)
        out.append(merged[0] if len(merged) == 1 else same(children=tuple(merged)))
    (result,) = out
    return result


def decompile(audience: dict[str, Any] | str, *, width: int = 88) -> str:
    """The canonical rule text of a Connected Audience object (a dict or JSON text).

    >>> decompile({"OR": [
    ...     {"custom_attribute": {"custom_attribute_name": "market",
    ...                           "comparison": "equals", "value": "US"}},
    ...     {"custom_attribute": {"custom_attribute_name": "market",
    ...                           "comparison": "equals", "value": "CA"}},
    ... ]})
    'market in ("US", "CA")'
    """
    return print_rule(resugar(printable_core(audience)), width=width)
