"""The codec between the core AST and the Connected Audience object: :func:`to_json`
(dump: a core AST to a plain, JSON-ready dict) and :func:`to_core` (load: any valid
object, dict or JSON text, to the core AST), side by side.

Dump:

Keys are spelled and ordered as in Braze's reference: ``custom_attribute_name``,
``comparison``, ``value``; ``AND``/``OR`` in upper case; no ``value`` for
``exists``/``does_not_exist``. The walk is iterative, and the nesting of groups is
bounded by :data:`MAX_DEPTH` so that the result can always be serialized.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audience_dsl.errors import Diagnostic, ParameterError, UnsupportedError
from audience_dsl.language import ast
from audience_dsl.language.ast import (
    AllOf,
    AnyOf,
    Attribute,
    Channel,
    CoreNode,
    Filter,
    LastUsedApp,
    State,
    Subscription,
)
from audience_dsl.language.ast import Comparison as C
from audience_dsl.source import NOWHERE, Source
from audience_dsl.vocabulary import GROUPS

__all__ = ["MAX_DEPTH", "filter_json", "to_json"]

#: The deepest nesting of AND/OR groups the compiler emits. Braze documents no limit;
#: this one keeps every result serializable by ``json.dumps`` at Python's default
#: recursion limit, and is far beyond what a readable audience needs.
MAX_DEPTH = 200

_NO_VALUE = frozenset({C.EXISTS, C.DOES_NOT_EXIST})
_GROUPS = (ast.AllOf, ast.AnyOf)


def filter_json(leaf: ast.Filter) -> dict[str, Any]:
    """One filter as its JSON object."""
    if isinstance(leaf, ast.Attribute):
        body: dict[str, Any] = {
            "custom_attribute_name": leaf.name,
            "comparison": leaf.comparison.value,
        }
        if leaf.comparison not in _NO_VALUE:
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
        if isinstance(current, _GROUPS):
            count = len(current.children)
            if not done:
                if count == 0:
                    raise UnsupportedError(
                        Diagnostic(
                            "an empty group has no Braze equivalent",
                            current.span or NOWHERE,
                            "empty",
                            code="empty-group",
                        ),
                        source or Source(""),
                    )
                stack.append((current, True))
                stack.extend([(child, False) for child in reversed(current.children)])
                continue
            parts = results[len(results) - count :]
            del results[len(results) - count :]
            depth = 1 + max([d for _, d in parts])
            if depth > MAX_DEPTH:
                raise UnsupportedError(
                    Diagnostic(
                        f"the audience nests AND/OR groups more than {MAX_DEPTH} deep",
                        current.span or NOWHERE,
                        "too deep",
                        "alternating `and` and `or` this deeply is rarely meant; simplify the "
                        "rule, or split it into several audiences",
                        code="nesting-too-deep-for-braze",
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
                    p.span or NOWHERE,
                    f"${p.name}",
                    f"pass params={{'{p.name}': ...}}",
                    code="unbound-parameter",
                )
                for p in missing
            ],
            source or Source(""),
        )


def to_core(
    audience: Mapping[str, Any] | str | bytes,
    *,
    paths: dict[int, str] | None = None,
    validated: bool = False,
) -> CoreNode:
    """The core AST of a Connected Audience object (a dict, or its JSON text).

    The object is first checked with :func:`validate` (so every problem is reported with
    its path, and for text its line and column); the tree is then built iteratively.
    ``paths``, when given, receives the JSON path of every filter built, by ``id(node)``.
    ``validated=True`` skips the check for a plain dict the caller has just validated
    (or compiled) itself.
    """
    # Imported here: compiling never needs the validator's pydantic models.
    from audience_dsl.braze.validate import as_dicts, load_json, validate

    value: object = audience
    if isinstance(audience, str | bytes | bytearray):
        _, value = load_json(audience)
        validate(audience)
    elif validated and type(audience) is dict:
        value = audience
    else:
        value = as_dicts(audience)
        validate(value)  # type: ignore[arg-type]
    out: list[CoreNode] = []
    # (object, path, group key or "" while the object is not yet looked at, child count)
    stack: list[tuple[Any, str, str, int]] = [(value, "$", "", 0)]
    while stack:
        obj, path, key, count = stack.pop()
        if key:
            parts = tuple(out[len(out) - count :])
            del out[len(out) - count :]
            out.append(AllOf(children=parts) if key == "AND" else AnyOf(children=parts))
            continue
        ((name, body),) = obj.items()
        here = f"{path}.{name}"
        if name in GROUPS:
            stack.append((obj, path, name, len(body)))
            stack.extend(
                (child, f"{here}[{i}]", "", 0) for i, child in reversed(list(enumerate(body)))
            )
            continue
        node = _filter_node(name, body)
        if paths is not None:
            paths[id(node)] = here
        out.append(node)
    (result,) = out
    return result


def _filter_node(name: str, body: Mapping[str, Any]) -> Filter:
    """One validated filter object as its AST node."""
    comparison = C(body["comparison"])
    if name == "custom_attribute":
        value = body.get("value")
        if comparison in (C.EXISTS, C.DOES_NOT_EXIST):
            value = None
        elif isinstance(value, list):
            value = tuple(value)
        return Attribute(name=body["custom_attribute_name"], comparison=comparison, value=value)
    if name == "last_used_app":
        return LastUsedApp(comparison=comparison, value=body["value"])
    channel = Channel.PUSH if name.startswith("push") else Channel.EMAIL
    return Subscription(channel=channel, comparison=comparison, state=State(body["value"]))
