"""The AST as tagged JSON, for storing a rule or building one in a visual editor.

Each node is an object whose ``"node"`` names its type, with one key per field that
takes part in equality (spans and the source are left out)::

    {"node": "And", "children": [
        {"node": "Attribute", "name": "age", "comparison": "greater_than", "value": 21},
        {"node": "Subscription", "channel": "push", "comparison": "is", "state": "opted_in"}]}

Enumerations are their values (``"greater_than"``), tuples are lists, a parameter is
``{"param": "min_age", "days_per_unit": 1}``. A whole rule is ``{"node": "Rule",
"format": 1, "expr": ...}``. :func:`from_tagged` is :func:`to_tagged`'s inverse (a
property test holds it to that) and refuses anything else with a
:class:`~audience_dsl.errors.ValidationError` naming the path of each problem. Both walk
the tree with a stack: a rule nested 10,000 deep round-trips.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from audience_dsl.errors import ValidationError
from audience_dsl.language import ast

__all__ = ["FORMAT", "TaggedJSONError", "from_tagged", "to_tagged"]

#: The version of the tagged form, in a rule's ``"format"`` key.
FORMAT = 1

_NODES: dict[str, type[ast.Node]] = {
    cls.__name__: cls
    for cls in (
        ast.Attribute, ast.Subscription, ast.LastUsedApp, ast.AllOf, ast.AnyOf, ast.And,
        ast.Or, ast.Not, ast.In, ast.Between, ast.ContainsAny, ast.ContainsAll, ast.Rule,
    )
}  # fmt: skip

# Fields holding an enumeration, and which.
_ENUMS: dict[str, type[StrEnum]] = {
    "comparison": ast.Comparison,
    "channel": ast.Channel,
    "state": ast.State,
}
# Fields holding nodes: one, or a list.
_NODE_FIELDS = frozenset({"expr", "operand"})
_LIST_FIELDS = frozenset({"children"})


class TaggedJSONError(ValidationError):
    """Data that is not the tagged JSON of an AST; ``problems`` lists each with its path."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(problems)
        lines = [f"{path}: {message}" for path, message in self.problems]
        self.args = ("not the tagged JSON of a rule:\n  " + "\n  ".join(lines),)


def _fields(cls: type[ast.Node]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.compare)


def _scalar(value: object, path: str) -> Any:
    """A value of a field that holds no nodes, as JSON."""
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, ast.Param):
        return {"param": value.name, "days_per_unit": value.days_per_unit}
    if isinstance(value, tuple):
        return [_scalar(v, path) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise TaggedJSONError([(path, f"{value!r} has no JSON form")])
    return value


def to_tagged(node: ast.Node) -> dict[str, Any]:
    """``node`` (a :class:`~audience_dsl.ast.Rule` or any node) as tagged JSON."""
    done: dict[int, dict[str, Any]] = {}
    stack: list[tuple[ast.Node, bool]] = [(node, False)]
    while stack:
        current, ready = stack.pop()
        if id(current) in done:
            continue
        names = _fields(type(current))
        if not ready:
            stack.append((current, True))
            for name in names:
                value = getattr(current, name)
                if isinstance(value, ast.Node):
                    stack.append((value, False))
                elif name in _LIST_FIELDS:
                    stack.extend((child, False) for child in value)
            continue
        out: dict[str, Any] = {"node": type(current).__name__}
        if isinstance(current, ast.Rule):
            out["format"] = FORMAT
        for name in names:
            value = getattr(current, name)
            if isinstance(value, ast.Node):
                out[name] = done[id(value)]
            elif name in _LIST_FIELDS:
                out[name] = [done[id(child)] for child in value]
            else:
                out[name] = _scalar(value, name)
        done[id(current)] = out
    return done[id(node)]


def from_tagged(data: object) -> ast.Node:
    """The node that :func:`to_tagged` made ``data`` from."""
    problems: list[tuple[str, str]] = []
    built: dict[int, ast.Node] = {}
    stack: list[tuple[object, str, bool]] = [(data, "$", False)]
    while stack:
        current, path, ready = stack.pop()
        if id(current) in built:
            continue  # the same object again: built once (a shared sub-rule)
        if not isinstance(current, Mapping):
            problems.append((path, f'a node is an object with a "node" key, not {_kind(current)}'))
            continue
        tag = current.get("node")
        cls = _NODES.get(tag) if isinstance(tag, str) else None
        if cls is None:
            known = ", ".join(sorted(_NODES))
            problems.append((path, f"unknown node type {current.get('node')!r}; one of {known}"))
            continue
        names = _fields(cls)
        if not ready:
            stack.append((current, path, True))
            for name in names:
                value = current.get(name)
                if name in _NODE_FIELDS:
                    stack.append((value, f"{path}.{name}", False))
                elif name in _LIST_FIELDS:
                    if not isinstance(value, list):
                        continue  # reported when the node is built
                    stack.extend(
                        (child, f"{path}.{name}[{i}]", False) for i, child in enumerate(value)
                    )
            continue
        extra = set(current) - {*names, "node", "format"}
        if extra:
            problems.append((path, f"unknown keys for {cls.__name__}: {sorted(extra)}"))
        missing = [n for n in names if n not in current and not _has_default(cls, n)]
        if missing:
            problems.append((path, f"{cls.__name__} needs {', '.join(missing)}"))
            continue
        if cls is ast.Rule and current.get("format", FORMAT) != FORMAT:
            problems.append((path, f"unknown format {current.get('format')!r}; this is {FORMAT}"))
            continue
        kwargs: dict[str, Any] = {}
        for name in names:
            if name not in current:
                continue
            value = current[name]
            where = f"{path}.{name}"
            if name in _NODE_FIELDS:
                child = built.get(id(value))
                if child is None:
                    break  # its problem is reported already
                kwargs[name] = child
            elif name in _LIST_FIELDS:
                if not isinstance(value, list) or not value:
                    problems.append((where, "must be a non-empty list of nodes"))
                    break
                children = [built.get(id(v)) for v in value]
                if any(c is None for c in children):
                    break
                kwargs[name] = tuple(children)
            else:
                decoded = _decode_scalar(name, value, where, problems)
                if decoded is _BAD:
                    break
                kwargs[name] = decoded
        else:
            built[id(current)] = cls(**kwargs)
    if problems:
        raise TaggedJSONError(sorted(problems))
    node = built.get(id(data))
    if node is None:  # pragma: no cover - a problem is always reported first
        raise TaggedJSONError([("$", "not an AST")])
    return node


_BAD = object()


def _has_default(cls: type[ast.Node], name: str) -> bool:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.default is not dataclasses.MISSING
    return False  # pragma: no cover


def _decode_scalar(name: str, value: object, path: str, problems: list[tuple[str, str]]) -> Any:
    if isinstance(value, Mapping):
        param = value.get("param")
        days = value.get("days_per_unit", 1)
        if set(value) <= {"param", "days_per_unit"} and isinstance(param, str) and (
            type(days) is int and days >= 1
        ):
            return ast.Param(param, days)
        problems.append((path, 'a parameter is {"param": name, "days_per_unit": n}'))
        return _BAD
    if name in _ENUMS:
        enum = _ENUMS[name]
        try:
            return enum(value)  # type: ignore[arg-type]
        except ValueError:
            choices = ", ".join(e.value for e in enum)
            problems.append((path, f"{value!r} is not a {name}; one of {choices}"))
            return _BAD
    if name == "name" and not isinstance(value, str):
        problems.append((path, f"a name is a string, not {_kind(value)}"))
        return _BAD
    if isinstance(value, list):
        items = []
        for i, item in enumerate(value):
            if not isinstance(item, str | int | float | bool) or isinstance(item, list):
                problems.append((f"{path}[{i}]", f"a list holds strings, numbers or booleans, "
                                 f"not {_kind(item)}"))  # fmt: skip
                return _BAD
            items.append(item)
        return tuple(items)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    problems.append((path, f"not a value of the AST: {_kind(value)}"))
    return _BAD


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
