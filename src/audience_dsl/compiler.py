"""Core AST to the Connected Audience object (a plain, JSON-ready dict).

Keys are spelled and ordered as in Braze's reference: ``custom_attribute_name``,
``comparison``, ``value``; ``AND``/``OR`` in upper case; no ``value`` for
``exists``/``does_not_exist``. The walk is iterative, and the nesting of groups is
bounded by :data:`MAX_DEPTH` so that the result can always be serialized.
"""

from __future__ import annotations

from typing import Any

from . import ast
from .ast import Comparison as C
from .errors import Diagnostic, ParameterError, UnsupportedError
from .source import Source, Span

__all__ = ["MAX_DEPTH", "filter_json", "to_json"]

#: The deepest nesting of AND/OR groups the compiler emits. Braze documents no limit;
#: this one keeps every result serializable by ``json.dumps`` at Python's default
#: recursion limit, and is far beyond what a readable audience needs.
MAX_DEPTH = 200

_NOWHERE = Span(0, 0, 1, 1, 1, 1)


def filter_json(leaf: ast.Filter) -> dict[str, Any]:
    """One filter as its JSON object."""
    if isinstance(leaf, ast.Attribute):
        body: dict[str, Any] = {
            "custom_attribute_name": leaf.name,
            "comparison": leaf.comparison.value,
        }
        if leaf.comparison not in (C.EXISTS, C.DOES_NOT_EXIST):
            value = leaf.value
            body["value"] = list(value) if isinstance(value, tuple) else value
        return {"custom_attribute": body}
    if isinstance(leaf, ast.Subscription):
        key = f"{leaf.channel.value}_subscription_status"
        state = leaf.state.value if isinstance(leaf.state, ast.State) else leaf.state
        return {key: {"comparison": leaf.comparison.value, "value": state}}
    return {"last_used_app": {"comparison": leaf.comparison.value, "value": leaf.value}}


def to_json(node: ast.CoreNode, source: Source | None = None) -> dict[str, Any]:
    """The Connected Audience object of a core tree."""
    unbound: list[ast.Param] = []
    results: list[tuple[dict[str, Any], int]] = []
    stack: list[tuple[ast.CoreNode, bool]] = [(node, False)]
    while stack:
        current, done = stack.pop()
        if isinstance(current, ast.AllOf | ast.AnyOf):
            count = len(current.children)
            if not done:
                if count == 0:
                    raise UnsupportedError(
                        Diagnostic(
                            "an empty group has no Braze equivalent",
                            current.span or _NOWHERE,
                            "empty",
                        ),
                        source or Source(""),
                    )
                stack.append((current, True))
                stack.extend((child, False) for child in reversed(current.children))
                continue
            parts = results[len(results) - count :]
            del results[len(results) - count :]
            depth = 1 + max(d for _, d in parts)
            if depth > MAX_DEPTH:
                raise UnsupportedError(
                    Diagnostic(
                        f"the audience nests AND/OR groups more than {MAX_DEPTH} deep",
                        current.span or _NOWHERE,
                        "too deep",
                        "alternating `and` and `or` this deeply is rarely meant; simplify the "
                        "rule, or split it into several audiences",
                    ),
                    source or Source(""),
                )
            key = "AND" if isinstance(current, ast.AllOf) else "OR"
            results.append(({key: [p for p, _ in parts]}, depth))
        else:
            value = getattr(current, "state", None) or getattr(current, "value", None)
            if isinstance(value, ast.Param):
                unbound.append(value)
            elif isinstance(value, tuple):
                unbound.extend(v for v in value if isinstance(v, ast.Param))
            results.append((filter_json(current), 0))
    if unbound:
        _unbound(unbound, source)
    return results[0][0]


def _unbound(missing: list[ast.Param], source: Source | None) -> None:
    if missing:
        raise ParameterError(
            [
                Diagnostic(
                    f"the parameter `${p.name}` has no value",
                    p.span or _NOWHERE,
                    f"${p.name}",
                    f"pass params={{'{p.name}': ...}}",
                )
                for p in missing
            ],
            source or Source(""),
        )
