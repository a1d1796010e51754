"""AST to canonical rule text: the parser's inverse.

:func:`print_rule` writes any node (a :class:`~audience_dsl.ast.Rule`, a surface node or a
core node) in the one canonical spelling of each construct, with lower-case keywords,
the fewest parentheses that keep the tree (``not`` binds tighter than ``and``, which binds
tighter than ``or``), and long rules broken over lines. For every surface AST the parser
can produce, ``parse(print_rule(ast)).expr == ast``.

The layout is computed in two iterative passes (flat widths bottom-up, then lines
top-down), so trees of any depth print without recursion. Indentation stops growing at
half the line width: a rule nested thousands of levels deep still prints in linear size.

Values that no rule can write (a string with a lone surrogate, a name with a line
break) raise :class:`~audience_dsl.errors.UnsupportedError` rather than text that would
compile to something else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TypeAlias

from audience_dsl.errors import Diagnostic, UnsupportedError
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.grammar import get_parser
from audience_dsl.language.names import render_name
from audience_dsl.source import NOWHERE, Source

__all__ = ["print_rule"]


_OPERATORS = ast.OPERATORS

#: Relative-time comparisons: (operator, whether the duration is in the future).
_RELATIVE: dict[C, tuple[str, bool]] = {
    C.LESS_THAN_X_DAYS_AGO: ("<", False),
    C.GREATER_THAN_X_DAYS_AGO: (">", False),
    C.LESS_THAN_X_DAYS_IN_THE_FUTURE: ("<", True),
    C.GREATER_THAN_X_DAYS_IN_THE_FUTURE: (">", True),
}

_ORDERING = frozenset(
    {C.GREATER_THAN, C.GREATER_THAN_OR_EQUAL_TO, C.LESS_THAN, C.LESS_THAN_OR_EQUAL_TO}
)

_STRING_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                   "\b": "\\b", "\f": "\\f"}  # fmt: skip

_patterns: dict[str, re.Pattern[str]] = {}


def _terminal(name: str) -> re.Pattern[str]:
    """The grammar's own pattern for a terminal, so the printer never drifts from the lexer."""
    pattern = _patterns.get(name)
    if pattern is None:
        (definition,) = (t for t in get_parser().terminals if t.name == name)
        pattern = re.compile(definition.pattern.to_regexp())
        _patterns[name] = pattern
    return pattern


# ---- errors ------------------------------------------------------------------------------


class _NoText(Exception):
    """A leaf has no text form; turned into UnsupportedError (with a path) by the caller."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _unsupported(problem: _NoText) -> UnsupportedError:
    diagnostic = Diagnostic(
        problem.message, NOWHERE, "no text form", problem.hint, code="no-text-form"
    )
    return UnsupportedError(diagnostic, Source("", "<ast>"))


# ---- leaves ------------------------------------------------------------------------------


def quote(text: str) -> str:
    """A string literal the parser reads back as ``text``: double quotes, JSON escapes."""
    out = ['"']
    for ch in text:
        escaped = _STRING_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise _NoText(
                f"the string {text!r} holds a lone surrogate (U+{ord(ch):04X}), "
                "which is not a character and cannot be written in a rule"
            )
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            code = ord(ch) - 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
    out.append('"')
    return "".join(out)


def name_text(name: str) -> str:
    """An attribute name as written in a rule: bare, or in backticks when it must be."""
    if not name:
        raise _NoText("an attribute name cannot be empty")
    if "\n" in name or "\r" in name:
        raise _NoText(f"the attribute name {name!r} holds a line break, which no rule can write")
    return render_name(name)


def number_text(value: int | float) -> str:
    """A number as the grammar's NUMBER, which has no exponent: ``1e20`` is written in full."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _NoText(f"expected a number, found {value!r}")
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise _NoText(f"{value!r} is not a number a rule (or JSON) can hold")
    text = format(Decimal(repr(value)), "f")
    return text if "." in text else text + ".0"


def param_text(param: ast.Param) -> str:
    return f"${param.name}"


def scalar_text(value: object) -> str:
    """A string, number, boolean or parameter as a literal."""
    if isinstance(value, ast.Param):
        return param_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_text(value)
    if isinstance(value, str):
        return quote(value)
    raise _NoText(f"expected a string, a number or a boolean, found {value!r}")


def datetime_text(value: object) -> str:
    """A date-time exactly as given, if the lexer reads it back as one."""
    if isinstance(value, ast.Param):
        return param_text(value)
    if not isinstance(value, str):
        raise _NoText(f"expected an ISO 8601 date-time, found {value!r}")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise _NoText(f"{value!r} is not an ISO 8601 date-time") from None
    if not _terminal("DATETIME").fullmatch(value):
        raise _NoText(
            f"the date-time {value!r} is valid ISO 8601 but not in a form rules can write",
            "rules write date-times as `2024-01-31`, `2024-01-31T13:45:00Z` or "
            "`2024-01-31T13:45:00.123+01:00`",
        )
    return value


def days_text(value: object, future: bool) -> str:
    """A day count as a duration: ``1 day``, ``5 days from now``, ``$n weeks``."""
    if isinstance(value, ast.Param):
        unit = "weeks" if value.days_per_unit == 7 else "days"
        shown = f"{param_text(value)} {unit}"
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        shown = f"{value} day" if value == 1 else f"{value} days"
    else:
        raise _NoText(f"a relative time is a whole number of days, at least 0, not {value!r}")
    return shown + (" from now" if future else "")


def regex_text(pattern: object) -> str:
    """``/pattern/`` with ``\\/`` for a slash, or ``None``-like fallback is the caller's."""
    if not isinstance(pattern, str):
        raise _NoText(f"a regex is a string, not {pattern!r}")
    body = pattern.replace("/", "\\/")
    if body and body.replace("\\/", "/") == pattern and _REGEX_BODY.fullmatch(body):
        return f"/{body}/"
    return ""


_REGEX_BODY = re.compile(r"(?:[^/\\\r\n]|\\.)+")


def _attribute_text(leaf: ast.Attribute) -> str:
    name = name_text(leaf.name)
    comparison = leaf.comparison
    value = leaf.value
    if comparison is C.EXISTS:
        return f"{name} exists"
    if comparison is C.DOES_NOT_EXIST:
        return f"{name} does not exist"
    if comparison is C.EQUALS and value is True and leaf.bare:
        return name  # written bare (a Boolean, or a reference to a `let` sub-rule)
    if comparison in (C.EQUALS, C.NOT_EQUAL):
        return f"{name} {_OPERATORS[comparison]} {scalar_text(value)}"
    if comparison in _ORDERING:
        if isinstance(value, ast.Param):
            shown = param_text(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            shown = number_text(value)
        else:
            raise _NoText(f"`{comparison.value}` compares numbers, not {value!r}")
        return f"{name} {_OPERATORS[comparison]} {shown}"
    if comparison in (C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX):
        negated = comparison is C.DOES_NOT_MATCH_REGEX
        if isinstance(value, ast.Param):
            return f"{name} {'!~' if negated else '~'} {param_text(value)}"
        slashed = regex_text(value)
        if slashed:
            return f"{name} {'!~' if negated else '~'} {slashed}"
        assert isinstance(value, str)
        return f"{name} {'does not match' if negated else 'matches'} {quote(value)}"
    if comparison in (C.INCLUDES_VALUE, C.DOES_NOT_INCLUDE_VALUE):
        if isinstance(value, tuple | list):
            raise _NoText(
                f"`{comparison.value}` with a list is written with `_leaf`"
            )  # pragma: no cover - _leaf handles the list forms first
        if not isinstance(value, str | ast.Param):
            raise _NoText(f"array attributes hold strings, so `{comparison.value}` takes one")
        return f"{name} {_OPERATORS[comparison]} {scalar_text(value)}"
    if comparison in _RELATIVE:
        operator, future = _RELATIVE[comparison]
        return f"{name} {operator} {days_text(value, future)}"
    if comparison in (C.AFTER, C.BEFORE):
        return f"{name} {_OPERATORS[comparison]} {datetime_text(value)}"
    raise _NoText(f"a custom attribute cannot be compared with `{comparison.value}`")


def _list_items(values: object, strings_only: bool) -> list[str] | str:
    """The items of a value list, or a parameter's text when the list is a parameter."""
    if isinstance(values, ast.Param):
        return param_text(values)
    if not isinstance(values, tuple | list) or not values:
        raise _NoText("a value list needs at least one value")
    if strings_only and not all(isinstance(v, str | ast.Param) for v in values):
        raise _NoText("array attributes hold strings, so each value must be a string")
    return [scalar_text(v) for v in values]


@dataclass(frozen=True, slots=True)
class _Leaf:
    """A leaf's text: ``head`` alone, or ``head (item, ...)`` when it has a list."""

    head: str
    items: tuple[str, ...] | None = None

    @property
    def flat(self) -> str:
        if self.items is None:
            return self.head
        return f"{self.head} ({', '.join(self.items)})"


def leaf_text(node: ast.Node) -> str:
    """The canonical text of one filter or sugar node (raises UnsupportedError)."""
    try:
        return _leaf(node).flat
    except _NoText as problem:
        raise _unsupported(problem) from None


def check_leaf(node: ast.Node) -> str | None:
    """Why a leaf has no text form, or None when it has one (for the decompiler)."""
    try:
        _leaf(node)
    except _NoText as problem:
        return problem.message
    return None


#: Braze's list comparisons and how a rule writes them.
_LIST_FORMS = {
    C.IS_ANY_OF: "is any of",
    C.IS_NONE_OF: "is none of",
    C.INCLUDES_VALUE: "contains any of",
}


def _list_leaf(node: ast.Attribute) -> _Leaf:
    """``x is any of ("a", "b")``, ``x is none of "a"``, ``x contains any of (...)``."""
    head = f"{name_text(node.name)} {_LIST_FORMS[node.comparison]}"
    value = node.value
    if isinstance(value, str):
        return _Leaf(f"{head} {quote(value)}")
    if not isinstance(value, tuple | list) or not value:
        raise _NoText(f"`{node.comparison.value}` takes a string or a non-empty list of strings")
    texts = [v for v in value if isinstance(v, str)]
    if len(texts) != len(value):
        raise _NoText(f"`{node.comparison.value}` takes strings")
    return _Leaf(head, tuple(quote(v) for v in texts))


def _leaf(node: ast.Node) -> _Leaf:
    if isinstance(node, ast.Attribute):
        if node.comparison in (C.IS_ANY_OF, C.IS_NONE_OF) or (
            node.comparison is C.INCLUDES_VALUE and isinstance(node.value, tuple | list)
        ):
            return _list_leaf(node)
        return _Leaf(_attribute_text(node))
    if isinstance(node, ast.Subscription):
        state = node.state
        shown = param_text(state) if isinstance(state, ast.Param) else ast.State(state).value
        if node.comparison not in (C.IS, C.IS_NOT):
            raise _NoText(f"a subscription is compared with `is`, not `{node.comparison}`")
        negation = " not" if node.comparison is C.IS_NOT else ""
        return _Leaf(f"{ast.Channel(node.channel).value} is{negation} {shown}")
    if isinstance(node, ast.LastUsedApp):
        if node.comparison not in (C.AFTER, C.BEFORE):
            raise _NoText(f"`last_used_app` is compared with after/before, not {node.comparison}")
        return _Leaf(f"last_used_app {node.comparison.value} {datetime_text(node.value)}")
    if isinstance(node, ast.In):
        head = f"{name_text(node.name)} {'not in' if node.negated else 'in'}"
        items = _list_items(node.values, strings_only=False)
        return _Leaf(f"{head} {items}") if isinstance(items, str) else _Leaf(head, tuple(items))
    if isinstance(node, ast.ContainsAny | ast.ContainsAll):
        word = "any" if isinstance(node, ast.ContainsAny) else "all"
        head = f"{name_text(node.name)} contains {word}"
        items = _list_items(node.values, strings_only=True)
        return _Leaf(f"{head} {items}") if isinstance(items, str) else _Leaf(head, tuple(items))
    if isinstance(node, ast.Between):
        bounds: list[str] = []
        for bound in (node.low, node.high):
            if isinstance(bound, ast.Param):
                bounds.append(param_text(bound))
            elif isinstance(bound, int | float) and not isinstance(bound, bool):
                bounds.append(number_text(bound))
            else:
                raise _NoText(f"`between` takes two numbers, not {bound!r}")
        if (
            not isinstance(node.low, ast.Param)
            and not isinstance(node.high, ast.Param)
            and node.low > node.high
        ):
            raise _NoText("the lower bound of `between` is above the upper bound")
        return _Leaf(f"{name_text(node.name)} between {bounds[0]} and {bounds[1]}")
    raise _NoText(f"cannot print a {type(node).__name__} node")


# ---- structure ---------------------------------------------------------------------------

_Group: TypeAlias = "ast.And | ast.Or | ast.AllOf | ast.AnyOf"
_GROUPS = (ast.And, ast.Or, ast.AllOf, ast.AnyOf)
_OR_PREC, _AND_PREC, _NOT_PREC, _LEAF_PREC = 1, 2, 3, 4


def _unwrap(node: ast.Node) -> ast.Node:
    """A group of one child stands for that child (lowering makes the same choice)."""
    while isinstance(node, _GROUPS) and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, _GROUPS) and not node.children:
        raise _unsupported(_NoText("an empty group has no text form"))
    return node


def _prec(node: ast.Node) -> int:
    if isinstance(node, ast.Or | ast.AnyOf):
        return _OR_PREC
    if isinstance(node, ast.And | ast.AllOf):
        return _AND_PREC
    if isinstance(node, ast.Not):
        return _NOT_PREC
    return _LEAF_PREC


def _kids(node: ast.Node) -> tuple[ast.Node, ...]:
    """The children of a (unwrapped) node, each unwrapped."""
    if isinstance(node, _GROUPS):
        return tuple(_unwrap(child) for child in node.children)
    if isinstance(node, ast.Not):
        return (_unwrap(node.operand),)
    return ()


def _child_prec(node: ast.Node) -> int:
    """The precedence a child of ``node`` needs to stand without parentheses."""
    return _NOT_PREC if isinstance(node, ast.Not) else _prec(node)


@dataclass(slots=True)
class Notes:
    """Comments attached to a leaf: lines before it, and text after it on its last line."""

    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)


class _Layout:
    """The two passes: measure every node's flat width, then lay out lines top-down."""

    def __init__(self, width: int, indent: int, notes: Mapping[int, Notes] | None = None) -> None:
        self.width = width
        self.indent = max(0, indent)
        self.max_level = (width // 2) // self.indent if self.indent else 0
        self.notes: Mapping[int, Notes] = notes or {}
        self.leaves: dict[int, _Leaf] = {}
        self.flat_len: dict[int, int] = {}
        self.marked: set[int] = set()  # nodes holding a commented leaf: never flat
        self.tail: dict[int, str] = {}  # a comment that may follow the node's flat text
        self.head: dict[int, list[str]] = {}  # comment lines that may precede its flat text

    # -- pass 1 --

    def measure(self, root: ast.Node) -> None:
        stack: list[tuple[ast.Node, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            key = id(node)
            if key in self.flat_len:
                continue
            kids = _kids(node)
            if not kids:
                try:
                    leaf = _leaf(node)
                except _NoText as problem:
                    raise _unsupported(problem) from None
                self.leaves[key] = leaf
                self.flat_len[key] = len(leaf.flat)
                notes = self.notes.get(key)
                if notes is not None and notes.before:
                    self.head[key] = notes.before
                if notes is not None and notes.after:
                    self.tail[key] = "  ".join(notes.after)
                continue
            if not done:
                stack.append((node, True))
                stack.extend((kid, False) for kid in reversed(kids))
                continue
            need = _child_prec(node)
            total = 4 if isinstance(node, ast.Not) else 0  # "not "
            word = 5 if _prec(node) == _AND_PREC else 4  # " and " / " or "
            for i, kid in enumerate(kids):
                total += self.flat_len[id(kid)] + (2 if self.paren(node, kid, need) else 0)
                if i:
                    total += word
                if id(kid) in self.marked:
                    self.marked.add(key)
                elif id(kid) in self.tail and (i < len(kids) - 1 or self.paren(node, kid, need)):
                    self.marked.add(key)  # something would follow the comment on its line
                elif i and id(kid) in self.head:
                    self.marked.add(key)  # the comment must stand on a line before the kid
            first, last = kids[0], kids[-1]
            if id(first) in self.head and key not in self.marked:
                self.head[key] = self.head[id(first)]
            if id(last) in self.tail and key not in self.marked:
                self.tail[key] = self.tail[id(last)]
            self.flat_len[key] = total

    def paren(self, parent: ast.Node, kid: ast.Node, need: int) -> bool:
        """Whether ``kid`` is written in parentheses under ``parent``: where precedence
        needs them, and for a comparison under `not` (`not (x = 1)`, never `not x = 1`,
        which reads as if `not` applied to `x`)."""
        if _prec(kid) < need:
            return True
        if isinstance(parent, ast.Not) and _prec(kid) == _LEAF_PREC:
            return " " in self.leaves[id(kid)].flat
        return False

    # -- flat text of a subtree --

    def flat(self, root: ast.Node) -> str:
        out: list[str] = []
        stack: list[ast.Node | str] = [root]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
                continue
            kids = _kids(item)
            if not kids:
                out.append(self.leaves[id(item)].flat)
                continue
            need = _child_prec(item)
            pieces: list[ast.Node | str] = ["not "] if isinstance(item, ast.Not) else []
            word = " and " if _prec(item) == _AND_PREC else " or "
            for i, kid in enumerate(kids):
                if i:
                    pieces.append(word)
                if self.paren(item, kid, need):
                    pieces.extend(("(", kid, ")"))
                else:
                    pieces.append(kid)
            stack.extend(reversed(pieces))
        return "".join(out)

    # -- pass 2 --

    def pad(self, level: int) -> str:
        return " " * (min(level, self.max_level) * self.indent)

    def fits(self, node: ast.Node, used: int, closed: bool = False) -> bool:
        """Whether ``node`` goes flat on one line (``closed``: a `)` would follow it)."""
        key = id(node)
        if key in self.marked or (closed and key in self.tail):
            return False
        return used + self.flat_len[key] <= self.width

    def flat_line(self, node: ast.Node) -> str:
        tail = self.tail.get(id(node))
        return self.flat(node) + (f"  {tail}" if tail else "")

    def lines(self, root: ast.Node) -> list[str]:
        out: list[str] = []
        # A task: a literal line, or a node to lay out at a level after a lead ("and ",
        # "not ", ...) on its first line, with parentheses when `paren` is set.
        stack: list[str | tuple[ast.Node, int, str, bool]] = [(root, 0, "", False)]
        while stack:
            task = stack.pop()
            if isinstance(task, str):
                out.append(task)
                continue
            node, level, lead, paren = task
            pad = self.pad(level)
            if paren:
                if self.fits(node, len(pad) + len(lead) + 2, closed=True):
                    out.extend(pad + line for line in self.head.get(id(node), ()))
                    out.append(f"{pad}{lead}({self.flat(node)})")
                else:
                    stack.append(f"{pad})")
                    stack.append((node, level + 1, "", False))
                    out.append(f"{pad}{lead}(")
                continue
            kids = _kids(node)
            if not kids:
                self.leaf_lines(node, pad, lead, level, out)
                continue
            if self.fits(node, len(pad) + len(lead)):
                out.extend(pad + line for line in self.head.get(id(node), ()))
                out.append(pad + lead + self.flat_line(node))
                continue
            need = _child_prec(node)
            if isinstance(node, ast.Not):
                (operand,) = kids
                stack.append((operand, level, lead + "not ", self.paren(node, operand, need)))
                continue
            word = "and " if _prec(node) == _AND_PREC else "or "
            tasks: list[tuple[ast.Node, int, str, bool]] = []
            for i, kid in enumerate(kids):
                kid_lead = lead if i == 0 else word
                # An `and` group inside `or` needs no parentheses, but when it is broken
                # over lines they show its extent.
                paren = _prec(kid) < need or (
                    isinstance(kid, _GROUPS)
                    and _prec(kid) != _prec(node)
                    and not self.fits(kid, len(pad) + len(kid_lead))
                )
                tasks.append((kid, level, kid_lead, paren))
            stack.extend(reversed(tasks))
        return out

    def leaf_lines(self, node: ast.Node, pad: str, lead: str, level: int, out: list[str]) -> None:
        leaf = self.leaves[id(node)]
        notes = self.notes.get(id(node))
        if notes is not None:
            out.extend(pad + line for line in notes.before)
        flat = leaf.flat
        if leaf.items is None or len(pad) + len(lead) + len(flat) <= self.width:
            out.append(pad + lead + flat)
        else:
            out.append(f"{pad}{lead}{leaf.head} (")
            inner = self.pad(level + 1)
            line = ""
            for item in leaf.items:
                piece = item + ","
                if line and len(inner) + len(line) + 1 + len(piece) > self.width:
                    out.append(inner + line)
                    line = piece
                else:
                    line = f"{line} {piece}" if line else piece
            out.append(inner + line)
            out.append(f"{pad})")
        if notes is not None and notes.after:
            out[-1] += "  " + "  ".join(notes.after)


def render(
    node: ast.Node,
    *,
    width: int = 88,
    indent: int = 2,
    notes: Mapping[int, Notes] | None = None,
    trailer: Sequence[str] = (),
) -> str:
    """Lay out ``node``; ``notes`` maps ``id(leaf)`` to its comments (for the formatter)."""
    root = _unwrap(node.expr if isinstance(node, ast.Rule) else node)
    layout = _Layout(width, indent, notes)
    layout.measure(root)
    lines = layout.lines(root)
    lines.extend(trailer)
    return "\n".join(line.rstrip() for line in lines)


def print_rule(node: ast.Node, *, width: int = 88, indent: int = 2) -> str:
    """The canonical text of a rule, a surface node or a core node.

    Lines are at most ``width`` characters where the rule allows it (a single long value
    may exceed it); nested groups are indented by ``indent`` spaces a level.

    >>> from audience_dsl import parse
    >>> print_rule(parse('A_B == "x" && !(n >= 3 || p IS NOT SET)'))
    'A_B = "x" and not (n >= 3 or p does not exist)'

    Raises :class:`~audience_dsl.errors.UnsupportedError` for a node with no text form
    (an empty group, a value no rule can write).
    """
    return render(node, width=width, indent=indent)
