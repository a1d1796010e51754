"""The abstract syntax tree: immutable nodes with source spans.

Two layers share the leaves:

* **core** nodes are exactly what Braze's Connected Audience can say: the filters
  (:class:`Attribute`, :class:`Subscription`, :class:`LastUsedApp`) and the groups
  :class:`AllOf` / :class:`AnyOf`. The compiler only ever sees these.
* **surface** nodes are what people write on top of that: :class:`And`, :class:`Or`,
  :class:`Not` and the sugar :class:`In`, :class:`Between`, :class:`ContainsAny`,
  :class:`ContainsAll`. :mod:`audience_dsl.lower` turns them into core nodes.

Spans do not take part in equality or hashing, so a rule printed and parsed again
equals the original. Equality, hashing and ``repr`` are iterative or depth-bounded,
so trees thousands of levels deep are safe to compare and show.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from audience_dsl.source import Source, Span

__all__ = [
    "OPERATORS",
    "ORDERING",
    "RELATIVE_DAYS",
    "TIME_COMPARISONS",
    "AllOf",
    "And",
    "AnyOf",
    "Attribute",
    "Between",
    "Channel",
    "Comparison",
    "ContainsAll",
    "ContainsAny",
    "CoreNode",
    "DataType",
    "Expr",
    "Filter",
    "In",
    "LastUsedApp",
    "Node",
    "Not",
    "Or",
    "Param",
    "Rule",
    "State",
    "Subscription",
    "Value",
    "children",
    "flat_group",
    "map_leaves",
    "walk",
]


class Comparison(StrEnum):
    """Braze's comparison names, spelled exactly as the Connected Audience object wants."""

    EQUALS = "equals"
    NOT_EQUAL = "not_equal"
    GREATER_THAN = "greater_than"
    GREATER_THAN_OR_EQUAL_TO = "greater_than_or_equal_to"
    LESS_THAN = "less_than"
    LESS_THAN_OR_EQUAL_TO = "less_than_or_equal_to"
    MATCHES_REGEX = "matches_regex"
    DOES_NOT_MATCH_REGEX = "does_not_match_regex"
    INCLUDES_VALUE = "includes_value"
    DOES_NOT_INCLUDE_VALUE = "does_not_include_value"
    IS_ANY_OF = "is_any_of"
    IS_NONE_OF = "is_none_of"
    EXISTS = "exists"
    DOES_NOT_EXIST = "does_not_exist"
    LESS_THAN_X_DAYS_AGO = "less_than_x_days_ago"
    GREATER_THAN_X_DAYS_AGO = "greater_than_x_days_ago"
    LESS_THAN_X_DAYS_IN_THE_FUTURE = "less_than_x_days_in_the_future"
    GREATER_THAN_X_DAYS_IN_THE_FUTURE = "greater_than_x_days_in_the_future"
    AFTER = "after"
    BEFORE = "before"
    IS = "is"
    IS_NOT = "is_not"


#: Groups of comparisons that several stages treat alike.
ORDERING: frozenset[Comparison] = frozenset(
    {
        Comparison.GREATER_THAN,
        Comparison.GREATER_THAN_OR_EQUAL_TO,
        Comparison.LESS_THAN,
        Comparison.LESS_THAN_OR_EQUAL_TO,
    }
)
RELATIVE_DAYS: frozenset[Comparison] = frozenset(
    {
        Comparison.LESS_THAN_X_DAYS_AGO,
        Comparison.GREATER_THAN_X_DAYS_AGO,
        Comparison.LESS_THAN_X_DAYS_IN_THE_FUTURE,
        Comparison.GREATER_THAN_X_DAYS_IN_THE_FUTURE,
    }
)
TIME_COMPARISONS: frozenset[Comparison] = RELATIVE_DAYS | {Comparison.AFTER, Comparison.BEFORE}


#: The canonical operator of each comparison written as one operator between a custom
#: attribute and its value (the printer's spelling; hints use it too).
OPERATORS: dict[Comparison, str] = {
    Comparison.EQUALS: "=",
    Comparison.NOT_EQUAL: "!=",
    Comparison.GREATER_THAN: ">",
    Comparison.GREATER_THAN_OR_EQUAL_TO: ">=",
    Comparison.LESS_THAN: "<",
    Comparison.LESS_THAN_OR_EQUAL_TO: "<=",
    Comparison.INCLUDES_VALUE: "contains",
    Comparison.DOES_NOT_INCLUDE_VALUE: "does not contain",
    Comparison.AFTER: "after",
    Comparison.BEFORE: "before",
}


class DataType(StrEnum):
    """The data types of Braze custom attributes."""

    STRING = "String"
    NUMERIC = "Numeric"
    BOOLEAN = "Boolean"
    TIME = "Time"
    ARRAY = "Array"


class Channel(StrEnum):
    """The subscription channels that have a built-in filter."""

    PUSH = "push"
    EMAIL = "email"


class State(StrEnum):
    """Subscription states."""

    OPTED_IN = "opted_in"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True, slots=True)
class Param:
    """A ``$name`` parameter standing for a value bound at compile time.

    ``days_per_unit`` is 7 for ``$n weeks``, so the bound number is scaled to days.
    """

    name: str
    days_per_unit: int = 1
    span: Span | None = field(default=None, compare=False, repr=False)


#: A filter's value as it will appear in the JSON, or a parameter not yet bound.
Value: TypeAlias = "str | int | float | bool | tuple[str | int | float | bool, ...] | Param | None"


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class Node:
    """Base of all nodes. ``span`` is where the node stands in the rule text."""

    span: Span | None = field(default=None, compare=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        return _equal(self, other)

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash((type(self).__name__, *(_shallow(getattr(self, f)) for f in _fields(self))))

    def __repr__(self) -> str:
        return _repr(self, 4)


def _fields(node: Node) -> tuple[str, ...]:
    cls = type(node)
    cached = _FIELD_CACHE.get(cls)
    if cached is None:
        cached = tuple(f.name for f in dataclasses.fields(cls) if f.compare)
        _FIELD_CACHE[cls] = cached
    return cached


_FIELD_CACHE: dict[type, tuple[str, ...]] = {}


def _shallow(value: object) -> object:
    if isinstance(value, Node):
        return type(value).__name__
    if isinstance(value, tuple):
        return (len(value), *(type(v).__name__ if isinstance(v, Node) else v for v in value))
    return value


def _equal(a: object, b: object) -> bool:
    stack: list[tuple[object, object]] = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        if type(x) is not type(y):
            return False
        if isinstance(x, Node):
            stack.extend((getattr(x, f), getattr(y, f)) for f in _fields(x))
        elif isinstance(x, tuple):
            assert isinstance(y, tuple)
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif x != y:
            return False
    return True


def _repr(value: object, depth: int) -> str:
    if isinstance(value, Node):
        if depth <= 0:
            return f"{type(value).__name__}(...)"
        parts = [f"{name}={_repr(getattr(value, name), depth - 1)}" for name in _fields(value)]
        return f"{type(value).__name__}({', '.join(parts)})"
    if isinstance(value, tuple):
        if depth <= 0 and value:
            return f"(<{len(value)} items>)"
        shown = [_repr(v, depth - 1) for v in value[:8]]
        if len(value) > 8:
            shown.append(f"<{len(value) - 8} more>")
        return "(" + ", ".join(shown) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, StrEnum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)


# ---- core: filters --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class Attribute(Node):
    """A custom attribute filter: ``name comparison value``.

    ``value`` is what the JSON carries (a string, number, boolean, ISO 8601 text, a
    day count, a tuple of strings for the list comparisons) or ``None`` for
    ``exists``/``does_not_exist``.
    """

    name: str
    comparison: Comparison
    value: Value = None
    name_span: Span | None = field(default=None, compare=False)
    value_span: Span | None = field(default=None, compare=False)
    #: Written as a bare name (``vip``), which a ``let`` definition may stand for.
    bare: bool = field(default=False, compare=False)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class Subscription(Node):
    """``push_subscription_status`` or ``email_subscription_status``: ``is``/``is_not`` a state."""

    channel: Channel
    comparison: Comparison
    state: State | Param


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class LastUsedApp(Node):
    """``last_used_app``: ``after``/``before`` an ISO 8601 date-time."""

    comparison: Comparison
    value: str | Param
    value_span: Span | None = field(default=None, compare=False)


Filter: TypeAlias = "Attribute | Subscription | LastUsedApp"


# ---- core: groups ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class AllOf(Node):
    """Braze's ``AND``: every child holds. Children are filters or :class:`AnyOf`."""

    children: tuple[CoreNode, ...]


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class AnyOf(Node):
    """Braze's ``OR``: some child holds. Children are filters or :class:`AllOf`."""

    children: tuple[CoreNode, ...]


CoreNode: TypeAlias = "Attribute | Subscription | LastUsedApp | AllOf | AnyOf"


# ---- surface --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class And(Node):
    """``a and b and ...`` as written (chains are flat)."""

    children: tuple[Expr, ...]


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class Or(Node):
    """``a or b or ...`` as written (chains are flat)."""

    children: tuple[Expr, ...]


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class Not(Node):
    """``not a``: the exact logical negation, which Braze has no node for."""

    operand: Expr


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class In(Node):
    """``x in (v, ...)`` (an OR of ``equals``) or ``x not in (...)`` (an AND of ``not_equal``)."""

    name: str
    values: tuple[str | int | float | bool, ...] | Param
    negated: bool = False
    name_span: Span | None = field(default=None, compare=False)
    value_spans: tuple[Span, ...] = field(default=(), compare=False)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class Between(Node):
    """``x between low and high``: both bounds included."""

    name: str
    low: int | float | Param
    high: int | float | Param
    name_span: Span | None = field(default=None, compare=False)
    value_spans: tuple[Span, ...] = field(default=(), compare=False)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class ContainsAny(Node):
    """``x contains any (v, ...)``: an OR of ``includes_value``."""

    name: str
    values: tuple[str, ...] | Param
    name_span: Span | None = field(default=None, compare=False)
    value_spans: tuple[Span, ...] = field(default=(), compare=False)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class ContainsAll(Node):
    """``x contains all (v, ...)``: an AND of ``includes_value``."""

    name: str
    values: tuple[str, ...] | Param
    name_span: Span | None = field(default=None, compare=False)
    value_spans: tuple[Span, ...] = field(default=(), compare=False)


Expr: TypeAlias = (
    "And | Or | Not | In | Between | ContainsAny | ContainsAll"
    " | Attribute | Subscription | LastUsedApp | AllOf | AnyOf"
)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False, repr=False)
class Rule(Node):
    """A whole rule: its expression, and the source text it came from (not compared)."""

    expr: Expr
    source: Source | None = field(default=None, compare=False)


def flat_group(
    cls: type[And] | type[Or] | type[AllOf] | type[AnyOf],
    parts: Iterable[Node],
    span: Span | None = None,
) -> Node:
    """A group of ``cls`` over ``parts``, with children of the same kind spliced in and a
    group of one replaced by its only part (so chains are flat, as the parser makes them)."""
    flat: list[Node] = []
    for part in parts:
        if type(part) is cls:
            flat.extend(part.children)
        else:
            flat.append(part)
    if len(flat) == 1:
        return flat[0]
    return cls(children=tuple(flat), span=span)  # type: ignore[arg-type]


def children(node: Node) -> tuple[Node, ...]:
    """The direct child nodes of ``node``."""
    if isinstance(node, And | Or | AllOf | AnyOf):
        return node.children
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, Rule):
        return (node.expr,)
    return ()


def walk(node: Node) -> Iterator[Node]:
    """Every node below and including ``node``, parents before children, left to right."""
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def map_leaves(node: Node, function: Callable[[Node], Node]) -> Node:
    """``node`` rebuilt with every leaf (a filter or sugar node) replaced by ``function(leaf)``.

    Iterative, so it works at any depth. Subtrees whose leaves are all unchanged are
    reused as they are.
    """
    out: list[Node] = []
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        current, done = stack.pop()
        kids = children(current)
        if not kids:
            out.append(function(current))
            continue
        if not done:
            stack.append((current, True))
            stack.extend((kid, False) for kid in reversed(kids))
            continue
        new = out[len(out) - len(kids) :]
        del out[len(out) - len(kids) :]
        if all(a is b for a, b in zip(new, kids, strict=True)):
            out.append(current)
        elif isinstance(current, Not):
            out.append(Not(operand=new[0], span=current.span))  # type: ignore[arg-type]
        elif isinstance(current, Rule):
            out.append(Rule(expr=new[0], span=current.span, source=current.source))  # type: ignore[arg-type]
        else:
            cls = type(current)
            out.append(cls(children=tuple(new), span=current.span))  # type: ignore[call-arg]
    (result,) = out
    return result
