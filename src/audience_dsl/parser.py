"""Rule text to surface AST. The only module that knows Lark.

The grammar (``grammar/audience.lark``, shipped inside the package) is built once, lazily,
as an LALR(1) parser whose reductions call :class:`_Builder` directly, so no parse tree
is built and nothing recurses however deep the rule nests. Lark's exceptions are caught
here and re-raised as :class:`~audience_dsl.errors.AudienceSyntaxError` with a message in
words, the right position, and a hint for the mistakes people actually make.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

from lark import Lark, Token
from lark.common import LexerConf
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer, LexerState

from . import ast
from .ast import Comparison as C
from .errors import (
    AudienceSyntaxError,
    AudienceTypeError,
    Diagnostic,
    Label,
    RuleError,
    UnsupportedError,
)
from .source import Source, Span

__all__ = [
    "KEYWORDS",
    "Definition",
    "Program",
    "grammar_text",
    "lex",
    "parse_expr",
    "parse_program",
]

#: Reserved words (lower case) and the terminal each becomes. Matching is case-insensitive.
KEYWORDS: dict[str, str] = {
    word: word.upper()
    for word in [
        "and",
        "or",
        "not",
        "is",
        "in",
        "between",
        "contains",
        "contain",
        "includes",
        "include",
        "matches",
        "match",
        "does",
        "exists",
        "exist",
        "within",
        "after",
        "before",
        "ago",
        "from",
        "now",
        "true",
        "false",
        "null",
        "any",
        "all",
        "push",
        "email",
        "push_subscription_status",
        "email_subscription_status",
        "last_used_app",
        "let",
    ]
}

DAY_UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7}
SUB_DAY_UNITS = {
    "h", "hr", "hrs", "hour", "hours", "m", "min", "mins", "minute", "minutes",
    "s", "sec", "secs", "second", "seconds",
}  # fmt: skip
KEYWORD_TYPES = frozenset(KEYWORDS.values())
CALENDAR_UNITS = {"month": 30, "months": 30, "year": 365, "years": 365}

# ---- loading the grammar -------------------------------------------------------------


def grammar_text() -> str:
    """The grammar's text: the copy inside the installed package, else the checkout's."""
    packaged = resources.files("audience_dsl").joinpath("grammar", "audience.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "grammar" / "audience.lark"
    return checkout.read_text(encoding="utf-8")


_lock = threading.Lock()
_parser: Lark | None = None


class _Lexer(Lexer):
    """The grammar's terminals, matched as Lark's basic lexer would, but faster.

    One alternation of the grammar's own terminal patterns, in Lark's order (priority,
    then width), scanned with ``re.match`` and ``lastgroup``; names that are keywords
    are re-typed here (KEYWORDS), and lines are counted only where they can change
    (white space and comments, as no other token holds a line break).
    """

    __future_interface__ = 2  # lex(lexer_state, parser_state)

    def __init__(self, conf: LexerConf) -> None:
        terminals = sorted(
            conf.terminals,
            key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name),
        )
        alternatives = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals)
        self.pattern = re.compile(alternatives)
        self.ignore = frozenset(conf.ignore)

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Token]:
        text = lexer_state.text.text
        return tokens(text, self.pattern, self.ignore)


def tokens(text: str, pattern: re.Pattern[str], ignore: frozenset[str]) -> Iterator[Token]:
    """The tokens of ``text``; raises Lark's UnexpectedCharacters where nothing matches."""
    match = pattern.match
    keywords = KEYWORDS
    position = 0
    line = 1
    line_start = 0
    end = len(text)
    while position < end:
        found = match(text, position)
        if found is None:
            raise UnexpectedCharacters(text, position, line, position - line_start + 1)  # type: ignore[no-untyped-call]
        kind = found.lastgroup
        stop = found.end()
        if kind in ignore:
            breaks = text.count("\n", position, stop)
            if breaks:
                line += breaks
                line_start = text.rindex("\n", position, stop) + 1
            position = stop
            continue
        value = found.group()
        if kind == "NAME":
            kind = keywords.get(value.lower(), "NAME")
        column = position - line_start + 1
        yield Token(
            kind,  # type: ignore[arg-type]
            value,
            position,
            line,
            column,
            line,
            column + stop - position,
            stop,
        )
        position = stop


def _get_parser() -> Lark:
    global _parser
    if _parser is None:
        with _lock:
            if _parser is None:
                built = Lark(
                    grammar_text(),
                    parser="lalr",
                    lexer=_Lexer,
                    transformer=_Builder(),
                    maybe_placeholders=False,
                )
                _plain_rule_names(built)
                _parser = built
    return _parser


def _plain_rule_names(parser: Lark) -> None:
    """Give Lark's rules plain ``str`` names: a measured speed-up, nothing else.

    After every reduction, Lark looks the rule's name up in its parse table. The names
    are Lark ``Token`` objects, whose hash and equality run as Python code; plain strings
    are equal, hash alike and are looked up in C, which makes parsing about a third
    faster. If Lark's internals ever differ, this does nothing.
    """
    try:
        callbacks = parser.parser.parser.parser.callbacks
    except AttributeError:  # pragma: no cover - another Lark layout
        return
    for rule in callbacks:
        origin = getattr(rule, "origin", None)
        name = getattr(origin, "name", None)
        if isinstance(name, str) and type(name) is not str:
            origin.name = str(name)  # type: ignore[union-attr]


# ---- the builder: reductions to AST nodes ----------------------------------------------


class _Problem(Exception):
    """Raised inside the builder; turned into an AudienceError (with the source) by parse."""

    def __init__(self, kind: type[RuleError], diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.kind = kind
        self.diagnostic = diagnostic


def _fail(
    kind: type[RuleError],
    message: str,
    span: Span,
    label: str = "",
    hint: str = "",
    labels: tuple[Label, ...] = (),
) -> NoReturn:
    raise _Problem(kind, Diagnostic(message, span, label, hint, labels))


def _span(token: Token) -> Span:
    return Span(
        token.start_pos or 0,
        token.end_pos or 0,
        token.line or 1,
        token.column or 1,
        token.end_line or 1,
        token.end_column or 1,
    )


def _cover(first: Span | None, last: Span | None) -> Span | None:
    if first is None:
        return last
    if last is None:
        return first
    return first.cover(last)


@dataclass(frozen=True, slots=True)
class _Name:
    text: str
    span: Span
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class _Op:
    """An operator: its canonical key, whether it is negated, and where it stands."""

    key: str
    negated: bool
    span: Span
    text: str


@dataclass(frozen=True, slots=True)
class _Duration:
    days: int | ast.Param
    future: bool
    span: Span
    count_span: Span


@dataclass(frozen=True, slots=True)
class _List:
    values: tuple[Token | _Duration, ...] | ast.Param
    span: Span
    open_span: Span


def _expr_span(node: Any) -> Span | None:
    return node.span if isinstance(node, ast.Node) else None


def _flatten(cls: type[ast.And] | type[ast.Or], items: list[Any]) -> ast.Node:
    parts = [item for item in items if not isinstance(item, Token)]
    span = _cover(_expr_span(parts[0]), _expr_span(parts[-1]))
    return ast.flat_group(cls, parts, span)


@dataclass(frozen=True, slots=True)
class Definition:
    """A named sub-rule, ``let name = expr;``, as written (not expanded)."""

    name: _Name
    expr: ast.Expr


@dataclass(frozen=True, slots=True)
class Program:
    """A rule as written: its definitions, and its expression with names unexpanded."""

    definitions: tuple[Definition, ...]
    expr: ast.Expr


class _Builder:
    """Callbacks for each grammar rule, called by Lark at every reduction."""

    def start(self, items: list[Any]) -> Program:
        return Program(tuple(items[:-1]), items[-1])

    def definition(self, items: list[Any]) -> Definition:
        _let, name, _eq, expr, _semi = items
        return Definition(name, expr)

    # -- boolean structure --

    def or_expr(self, items: list[Any]) -> ast.Node:
        return _flatten(ast.Or, items)

    def and_expr(self, items: list[Any]) -> ast.Node:
        return _flatten(ast.And, items)

    def negation(self, items: list[Any]) -> ast.Node:
        operator, operand = items
        return ast.Not(operand=operand, span=_cover(_span(operator), _expr_span(operand)))

    def group(self, items: list[Any]) -> Any:
        return items[1]

    # -- pieces --

    def attr(self, items: list[Token]) -> _Name:
        (token,) = items
        text = _unescape_backticks(token) if token.type == "BQNAME" else str(token)
        return _Name(text, _span(token), token.type == "BQNAME")

    def compare_op(self, items: list[Token]) -> _Op:
        (token,) = items
        key = {"EQEQ": "EQ", "LTGT": "NE"}.get(token.type, token.type)
        return _Op(key, False, _span(token), str(token))

    def match_op(self, items: list[Token]) -> _Op:
        negated = items[0].type in ("NTILDE", "NOT", "DOES")
        return _Op("MATCH", negated, _span(items[0]).cover(_span(items[-1])), _words(items))

    def contains_op(self, items: list[Token]) -> _Op:
        negated = items[0].type in ("NOT", "DOES")
        return _Op("CONTAINS", negated, _span(items[0]).cover(_span(items[-1])), _words(items))

    def exists_op(self, items: list[Token]) -> _Op:
        negated = items[0].type in ("NOT", "DOES")
        return _Op("EXISTS", negated, _span(items[0]).cover(_span(items[-1])), _words(items))

    def compare_or_time(self, items: list[Any]) -> _Op:
        (item,) = items
        if isinstance(item, _Op):
            return item
        return _Op(item.type, False, _span(item), str(item))

    def subscription_channel(self, items: list[Token]) -> Token:
        return items[0]

    def is_target(self, items: list[Token]) -> Token:
        return items[0]

    def duration(self, items: list[Token]) -> _Duration:
        count, unit, *direction = items
        future = bool(direction) and direction[0].type == "FROM"
        unit_word = unit.value.lower()
        count_span = _span(count)
        span = count_span.cover(_span(items[-1]))
        if unit_word in SUB_DAY_UNITS:
            _fail(
                UnsupportedError,
                f"Braze measures relative times in whole days, not in {unit_word}",
                _span(unit),
                "a unit shorter than a day",
                "write a number of days, e.g. `1 day`",
            )
        if unit_word in CALENDAR_UNITS:
            _fail(
                UnsupportedError,
                f"`{unit}` is not a fixed number of days; Braze measures relative times in days",
                _span(unit),
                "a calendar unit",
                f"write the number of days you mean, e.g. `{CALENDAR_UNITS[unit_word]} days`",
            )
        if unit_word not in DAY_UNITS:
            suggestion = difflib.get_close_matches(unit_word, list(DAY_UNITS), n=1)
            if suggestion:
                message = f"expected a unit (`days` or `weeks`) after `{count}`"
                hint = f"did you mean `{count} {suggestion[0]}`?"
            else:
                message = f"expected `and`, `or` or a unit (`days`, `weeks`) after `{count}`"
                hint = "conditions are joined with `and` or `or`; a duration is written `2 days`"
            _fail(AudienceSyntaxError, message, _span(unit), f"found the name `{unit}`", hint)
        factor = DAY_UNITS[unit_word]
        if count.type == "PARAM":
            return _Duration(ast.Param(count[1:], factor, count_span), future, span, count_span)
        number = _number(count)
        if isinstance(number, float):
            whole = int(number * factor)
            _fail(
                UnsupportedError,
                "Braze counts relative times in whole days",
                count_span,
                "a fraction",
                f"write a whole number of days, e.g. `{_plural(whole)}` or `{_plural(whole + 1)}`",
            )
        if number < 0:
            _fail(
                UnsupportedError,
                "a duration cannot be negative",
                count_span,
                "a negative count",
                "for a time in the future write `5 days from now`",
            )
        return _Duration(number * factor, future, span, count_span)

    def value_list(self, items: list[Any]) -> _List:
        if len(items) == 1:
            param = items[0]
            return _List(ast.Param(param[1:], 1, _span(param)), _span(param), _span(param))
        values = tuple(item for item in items if not isinstance(item, Token) or _is_value(item))
        return _List(values, _span(items[0]).cover(_span(items[-1])), _span(items[0]))

    # -- conditions --

    def bare(self, items: list[Any]) -> ast.Attribute:
        (name,) = items
        return ast.Attribute(
            name=name.text,
            comparison=C.EQUALS,
            value=True,
            span=name.span,
            name_span=name.span,
            bare=not name.quoted,
        )

    def compare(self, items: list[Any]) -> ast.Attribute:
        name, op, value = items
        return _comparison(name, op, value)

    def is_(self, items: list[Any]) -> ast.Attribute:
        name, _is, *rest = items
        negated = len(rest) == 2
        target: Token = rest[-1]
        span = name.span.cover(_span(target))
        kind = target.type
        word = target.value.lower()
        if kind in ("TRUE", "FALSE", "PARAM"):
            value: ast.Value = (
                ast.Param(target[1:], 1, _span(target)) if kind == "PARAM" else (kind == "TRUE")
            )
            comparison = C.NOT_EQUAL if negated else C.EQUALS
            return ast.Attribute(
                name=name.text, comparison=comparison, value=value, span=span,
                name_span=name.span, value_span=_span(target),
            )  # fmt: skip
        if kind == "NULL" or (kind == "NAME" and word == "set"):
            exists = negated if kind == "NULL" else not negated
            return ast.Attribute(
                name=name.text,
                comparison=C.EXISTS if exists else C.DOES_NOT_EXIST,
                span=span,
                name_span=name.span,
            )
        operator = "!=" if negated else "="
        shown = _quote(target.value) if kind == "NAME" else str(target)
        if kind == "NAME" and word in {s.value for s in ast.State}:
            extra = f"; for the subscription filter write `push is {word}` or `email is {word}`"
        else:
            extra = ""
        _fail(
            AudienceSyntaxError,
            "`is` compares with true, false, null or set",
            _span(target),
            f"found {_describe(target)}",
            f"to compare with a value write `{_render_name(name.text)} {operator} {shown}`{extra}",
        )

    def match(self, items: list[Any]) -> ast.Attribute:
        name, op, token = items
        comparison = C.DOES_NOT_MATCH_REGEX if op.negated else C.MATCHES_REGEX
        if isinstance(token, _Duration) or token.type not in ("PARAM", "REGEX", "STRING"):
            _fail(
                AudienceTypeError,
                f"`{op.text}` matches a regex, written `/.../` or as a string",
                _value_span(token),
                f"found {_describe(token)}",
                f"write `{_render_name(name.text)} {op.text} /{token}/`"
                if isinstance(token, Token)
                else "",
            )
        if token.type == "PARAM":
            value: ast.Value = ast.Param(token[1:], 1, _span(token))
        elif token.type == "REGEX":
            value = token[1:-1].replace("\\/", "/")
        else:
            value = _decode_string(token)
        return ast.Attribute(
            name=name.text, comparison=comparison, value=value,
            span=name.span.cover(_span(token)), name_span=name.span, value_span=_span(token),
        )  # fmt: skip

    def contains(self, items: list[Any]) -> ast.Attribute:
        name, op, value = items
        comparison = C.DOES_NOT_INCLUDE_VALUE if op.negated else C.INCLUDES_VALUE
        text = _array_item(name, op, value)
        return ast.Attribute(
            name=name.text, comparison=comparison, value=text,
            span=name.span.cover(_value_span(value)), name_span=name.span,
            value_span=_value_span(value),
        )  # fmt: skip

    def contains_list(self, items: list[Any]) -> ast.ContainsAny | ast.ContainsAll:
        name, contains, quantifier, values = items
        op = _Op("CONTAINS", False, _span(contains).cover(_span(quantifier)), _words(items[1:3]))
        cls = ast.ContainsAny if quantifier.type == "ANY" else ast.ContainsAll
        span = name.span.cover(values.span)
        if isinstance(values.values, ast.Param):
            return cls(name=name.text, values=values.values, span=span, name_span=name.span)
        _non_empty(name, op, values)
        texts: Any = tuple(_array_item(name, op, v) for v in values.values)
        spans = tuple(_value_span(v) for v in values.values)
        return cls(name=name.text, values=texts, span=span, name_span=name.span, value_spans=spans)

    def list_or_one(self, items: list[Any]) -> Any:
        return items[0]

    def is_any_of(self, items: list[Any]) -> ast.Attribute:
        name, _is, _any, of, values = items
        _word(of, "of", "`is any of (...)`")
        return _list_filter(name, C.IS_ANY_OF, values, _span(_is).cover(_span(of)), "is any of")

    def is_none_of(self, items: list[Any]) -> ast.Attribute:
        name, _is, none, of, values = items
        if str(none).lower() != "none":
            hint = f"to compare with a value write `{_render_name(name.text)} = ...`"
            _fail(
                AudienceSyntaxError,
                "`is` compares with true, false, null or set, or takes `any of` / `none of`",
                _span(none),
                f"found the name `{none}`",
                hint,
            )
        _word(of, "of", "`is none of (...)`")
        span = _span(_is).cover(_span(of))
        return _list_filter(name, C.IS_NONE_OF, values, span, "is none of")

    def includes_any_of(self, items: list[Any]) -> ast.Attribute:
        name, keyword, _any, of, values = items
        _word(of, "of", f"`{keyword} any of (...)`")
        span = _span(keyword).cover(_span(of))
        return _list_filter(name, C.INCLUDES_VALUE, values, span, f"{keyword} any of")

    def exists(self, items: list[Any]) -> ast.Attribute:
        name, op = items
        return ast.Attribute(
            name=name.text,
            comparison=C.DOES_NOT_EXIST if op.negated else C.EXISTS,
            span=name.span.cover(op.span),
            name_span=name.span,
        )

    def within(self, items: list[Any]) -> ast.Attribute:
        name, keyword, value = items
        op = _Op("WITHIN", False, _span(keyword), str(keyword))
        if not isinstance(value, _Duration):
            _fail(
                AudienceTypeError,
                "`within` takes a duration",
                _value_span(value),
                f"found {_describe(value)}",
                f"write `{_render_name(name.text)} within 7 days`",
            )
        return _comparison(name, _Op("LT", False, op.span, op.text), value)

    def after_before(self, items: list[Any]) -> ast.Attribute:
        name, keyword, value = items
        key = "GT" if keyword.type == "AFTER" else "LT"
        op = _Op(key, False, _span(keyword), str(keyword))
        if isinstance(value, _Duration):
            relation = ">" if key == "GT" else "<"
            _fail(
                UnsupportedError,
                f"`{keyword}` takes a date-time, not a duration",
                value.span,
                "a duration",
                f"for a relative time write `{_render_name(name.text)} {relation} "
                f"{_days_text(value)}`",
            )
        if value.type not in ("DATETIME", "PARAM"):
            _fail(
                AudienceTypeError,
                f"`{keyword}` takes a date-time",
                _span(value),
                f"found {_describe(value)}",
                f"write a date-time, e.g. `{_render_name(name.text)} {keyword} 2024-01-31`",
            )
        if value.type == "PARAM":
            comparison = C.AFTER if key == "GT" else C.BEFORE
            return ast.Attribute(
                name=name.text, comparison=comparison, value=ast.Param(value[1:], 1, _span(value)),
                span=name.span.cover(_span(value)), name_span=name.span, value_span=_span(value),
            )  # fmt: skip
        return _comparison(name, op, value)

    def in_(self, items: list[Any]) -> ast.In:
        name = items[0]
        negated = len(items) == 4
        values: _List = items[-1]
        op = _Op("IN", negated, _span(items[1]).cover(_span(items[-2])), _words(items[1:-1]))
        span = name.span.cover(values.span)
        if isinstance(values.values, ast.Param):
            return ast.In(
                name=name.text, values=values.values, negated=negated, span=span,
                name_span=name.span,
            )  # fmt: skip
        _non_empty(name, op, values)
        scalars = tuple(_scalar(name, op, v) for v in values.values)
        spans = tuple(_value_span(v) for v in values.values)
        return ast.In(
            name=name.text, values=scalars, negated=negated, span=span, name_span=name.span,
            value_spans=spans,
        )  # fmt: skip

    def between(self, items: list[Any]) -> ast.Between:
        name, keyword, low, _and, high = items
        op = _Op("BETWEEN", False, _span(keyword), str(keyword))
        bounds: list[int | float | ast.Param] = []
        for value in (low, high):
            if isinstance(value, Token) and value.type == "DATETIME":
                _fail(
                    UnsupportedError,
                    "`between` is inclusive, and Braze compares date-times only strictly",
                    op.span,
                    "inclusive bounds on a date-time",
                    f"write `{_render_name(name.text)} after {low} and "
                    f"{_render_name(name.text)} before {high}` (both bounds left out)",
                )
            if isinstance(value, Token) and value.type == "PARAM":
                bounds.append(ast.Param(value[1:], 1, _span(value)))
            elif isinstance(value, Token) and value.type == "NUMBER":
                bounds.append(_number(value))
            else:
                _fail(
                    AudienceTypeError,
                    "`between` takes two numbers",
                    _value_span(value),
                    f"found {_describe(value)}",
                    f"write `{_render_name(name.text)} between 18 and 30`",
                )
        lo, hi = bounds
        if not isinstance(lo, ast.Param) and not isinstance(hi, ast.Param) and lo > hi:
            _fail(
                AudienceTypeError,
                "the lower bound is above the upper bound, so nobody can match",
                _span(low).cover(_span(high)),
                "empty range",
                f"write `{_render_name(name.text)} between {high} and {low}`",
            )
        return ast.Between(
            name=name.text, low=lo, high=hi, span=name.span.cover(_span(high)),
            name_span=name.span, value_spans=(_span(low), _span(high)),
        )  # fmt: skip

    # -- built-in filters --

    def subscription(self, items: list[Any]) -> ast.Subscription:
        channel_token, _is, *rest = items
        negated = len(rest) == 2
        target: Token = rest[-1]
        channel = ast.Channel.PUSH if channel_token.type.startswith("PUSH") else ast.Channel.EMAIL
        comparison = C.IS_NOT if negated else C.IS
        span = _span(channel_token).cover(_span(target))
        if target.type == "PARAM":
            state: ast.State | ast.Param = ast.Param(target[1:], 1, _span(target))
        else:
            word = _decode_string(target) if target.type == "STRING" else str(target)
            states = [s.value for s in ast.State]
            if word.lower() not in states:
                close = difflib.get_close_matches(word.lower(), states, n=1, cutoff=0.5)
                _fail(
                    AudienceSyntaxError,
                    f"unknown subscription state `{word}`",
                    _span(target),
                    "not a subscription state",
                    (f"did you mean `{close[0]}`? " if close else "")
                    + "the states are opted_in, subscribed and unsubscribed",
                )
            state = ast.State(word.lower())
        return ast.Subscription(channel=channel, comparison=comparison, state=state, span=span)

    def last_used_app_alone(self, items: list[Any]) -> NoReturn:
        (keyword,) = items
        word = str(keyword)
        _fail(
            AudienceSyntaxError,
            f"`{word}` is a built-in filter, not an attribute name",
            _span(keyword),
            "needs `after` or `before` and a date-time",
            "write e.g. `last_used_app after 2024-01-31T00:00:00Z`; a custom attribute of "
            f"that name is written in backticks: {_render_name(word.lower())}",
        )

    def last_used_app(self, items: list[Any]) -> ast.LastUsedApp:
        keyword, op, value = items
        span = _span(keyword).cover(_value_span(value))
        if isinstance(value, _Duration):
            _fail(
                UnsupportedError,
                "Braze filters `last_used_app` only by a date-time, not by a relative time",
                value.span,
                "a relative time",
                "write a date-time, e.g. `last_used_app after 2024-01-31T00:00:00Z`",
            )
        if op.key in ("GT", "AFTER"):
            comparison = C.AFTER
        elif op.key in ("LT", "BEFORE"):
            comparison = C.BEFORE
        else:
            _fail(
                UnsupportedError,
                f"Braze filters `last_used_app` only with `after` or `before`, not `{op.text}`",
                op.span,
                "no such comparison",
                "write `last_used_app after <date-time>` or `last_used_app before <date-time>`",
            )
        if value.type == "PARAM":
            return ast.LastUsedApp(
                comparison=comparison, value=ast.Param(value[1:], 1, _span(value)), span=span,
                value_span=_span(value),
            )  # fmt: skip
        if value.type != "DATETIME":
            _fail(
                AudienceTypeError,
                "`last_used_app` is compared with a date-time",
                _span(value),
                f"found {_describe(value)}",
                "write e.g. `last_used_app after 2024-01-31T00:00:00Z`",
            )
        return ast.LastUsedApp(
            comparison=comparison, value=_datetime(value), span=span, value_span=_span(value)
        )


# ---- value helpers -----------------------------------------------------------------------

_VALUE_TYPES = {"STRING", "NUMBER", "TRUE", "FALSE", "NULL", "DATETIME", "PARAM", "REGEX"}


def _is_value(token: Token) -> bool:
    return token.type in _VALUE_TYPES


def _value_span(value: Token | _Duration) -> Span:
    return value.span if isinstance(value, _Duration) else _span(value)


def _words(tokens: list[Token]) -> str:
    return " ".join(str(t) for t in tokens)


def _describe(value: Token | _Duration) -> str:
    if isinstance(value, _Duration):
        return "a duration"
    kind = value.type
    if kind in KEYWORD_TYPES:
        return f"the keyword `{value}`"
    return {
        "STRING": "a string",
        "NUMBER": f"the number `{value}`",
        "DATETIME": "a date-time",
        "REGEX": "a regex",
        "PARAM": f"the parameter `{value}`",
        "NAME": f"the name `{value}`",
        "BQNAME": f"the name {value}",
        "$END": "the end of the rule",
    }.get(kind, f"`{value}`")


def _render_name(name: str) -> str:
    """An attribute name as it must be written in rule text."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", name) and (
        name.lower() not in KEYWORDS
    ):
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _quote(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def _days_text(duration: _Duration) -> str:
    days = duration.days
    shown = f"${days.name}" if isinstance(days, ast.Param) else str(days)
    unit = "day" if days == 1 else "days"
    return f"{shown} {unit}" + (" from now" if duration.future else "")


def _plural(days: int) -> str:
    return f"{days} day" if days == 1 else f"{days} days"


def _number(token: Token) -> int | float:
    text = str(token)
    if "." not in text:
        return int(text)
    value = float(text)
    if Decimal(repr(value)) != Decimal(text):
        _fail(
            UnsupportedError,
            "this number has more digits than a JSON number keeps, so Braze would see another one",
            _span(token),
            "not exactly representable",
            f"write `{value!r}`, the number Braze would use",
        )
    return value


def _datetime(token: Token) -> str:
    text = str(token)
    try:
        datetime.fromisoformat(text)
    except ValueError as exc:
        _fail(
            AudienceSyntaxError,
            f"`{text}` is not a real date-time ({exc})",
            _span(token),
            "invalid date-time",
            "date-times are ISO 8601: `2024-01-31`, `2024-01-31T13:45:00Z`, "
            "`2024-01-31T13:45:00+0100`",
        )
    return text


_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n",
            "r": "\r", "t": "\t"}  # fmt: skip


def _decode_string(token: Token) -> str:
    """A string literal's value, with JSON-style escapes (and ``\\'``) decoded."""
    body = str(token)[1:-1]
    out: list[str] = []
    i = 0
    base = _span(token)

    def bad(offset: int, width: int, message: str, hint: str) -> NoReturn:
        start = base.start + 1 + offset
        column = base.column + 1 + offset
        span = Span(start, start + width, base.line, column, base.line, column + width)
        _fail(AudienceSyntaxError, message, span, "here", hint)

    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        escape = body[i + 1]
        if escape == "u":
            digits = body[i + 2 : i + 6]
            if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                bad(i, 2, "`\\u` needs four hex digits", "write e.g. `\\u00e9` for é")
            code = int(digits, 16)
            i += 6
            if 0xD800 <= code <= 0xDBFF and body[i : i + 2] == "\\u":
                low_digits = body[i + 2 : i + 6]
                if len(low_digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in low_digits):
                    low = int(low_digits, 16)
                    if 0xDC00 <= low <= 0xDFFF:
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
            if 0xD800 <= code <= 0xDFFF:
                bad(i - 6, 6, "a lone surrogate is not a character", "write the character itself")
            out.append(chr(code))
            continue
        if escape not in _ESCAPES:
            bad(
                i,
                2,
                f"unknown escape `\\{escape}` in a string",
                f"write `\\\\{escape}` for a backslash followed by `{escape}`; "
                "in a regex, `/\\d+/` needs no doubled backslashes",
            )
        out.append(_ESCAPES[escape])
        i += 2
    return "".join(out)


def _unescape_backticks(token: Token) -> str:
    body = str(token)[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(body[i + 1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _word(token: Token, word: str, form: str) -> None:
    """Check that a soft keyword (a NAME in the grammar) is ``word``."""
    if str(token).lower() != word:
        _fail(
            AudienceSyntaxError,
            f"expected `{word}`, found `{token}`",
            _span(token),
            f"not `{word}`",
            f"the form is {form}",
        )


def _list_filter(
    name: _Name, comparison: ast.Comparison, values: Token | _List, op_span: Span, form: str
) -> ast.Attribute:
    """One of Braze's list comparisons: a list of strings, or a single string."""
    if isinstance(values, Token):
        value: ast.Value = _decode_string(values)
        spans: tuple[Span, ...] = (_span(values),)
        end = _span(values)
    else:
        end = values.span
        if isinstance(values.values, ast.Param):
            _fail(
                AudienceSyntaxError,
                f"`{form}` takes its values in parentheses, not a list parameter",
                values.span,
                "a parameter",
                f"write `{_render_name(name.text)} in $list` (an OR of `equals`), or the "
                "values themselves",
            )
        op = _Op("LIST", False, op_span, form)
        _non_empty(name, op, values)
        texts = []
        for item in values.values:
            if not (isinstance(item, Token) and item.type == "STRING"):
                _fail(
                    AudienceTypeError,
                    f"`{form}` takes strings",
                    _value_span(item),
                    f"found {_describe(item)}",
                    'write the values as strings, e.g. ("a", "b")',
                )
            texts.append(_decode_string(item))
        value = tuple(texts)
        spans = tuple(_value_span(v) for v in values.values)
    return ast.Attribute(
        name=name.text, comparison=comparison, value=value, span=name.span.cover(end),
        name_span=name.span, value_span=spans[0] if len(spans) == 1 else spans[0].cover(spans[-1]),
    )  # fmt: skip


def _non_empty(name: _Name, op: _Op, values: _List) -> None:
    if not values.values:
        examples = {"IN": '("US", "CA")', "CONTAINS": '("a", "b")', "LIST": '("a", "b")'}
        _fail(
            UnsupportedError,
            "an empty list matches nobody (or everybody), and Braze has no filter for it",
            values.open_span.cover(values.span),
            "empty list",
            f"give at least one value: `{_render_name(name.text)} {op.text} "
            f"{examples.get(op.key, '(...)')}`",
        )


def _array_item(name: _Name, op: _Op, value: Token | _Duration) -> str | ast.Param:
    if isinstance(value, Token) and value.type == "STRING":
        return _decode_string(value)
    if isinstance(value, Token) and value.type == "PARAM":
        return ast.Param(value[1:], 1, _span(value))
    shown = _quote(str(value)) if isinstance(value, Token) else '"..."'
    _fail(
        AudienceTypeError,
        "array attributes hold strings, so `contains` takes a string",
        _value_span(value),
        f"found {_describe(value)}",
        f"write `{_render_name(name.text)} {op.text} {shown}`",
    )


def _scalar(name: _Name, op: _Op, value: Token | _Duration) -> Any:
    if isinstance(value, Token):
        if value.type == "STRING":
            return _decode_string(value)
        if value.type == "NUMBER":
            return _number(value)
        if value.type in ("TRUE", "FALSE"):
            return value.type == "TRUE"
        if value.type == "PARAM":
            return ast.Param(value[1:], 1, _span(value))
    _fail(
        AudienceTypeError,
        "`in` takes strings, numbers or booleans",
        _value_span(value),
        f"found {_describe(value)}",
        f'write e.g. `{_render_name(name.text)} {op.text} ("US", "CA")`',
    )


# (operator, value kind) -> comparison, for the comparison operators
_RELATIVE = {
    ("LT", False): C.LESS_THAN_X_DAYS_AGO,
    ("GT", False): C.GREATER_THAN_X_DAYS_AGO,
    ("LT", True): C.LESS_THAN_X_DAYS_IN_THE_FUTURE,
    ("GT", True): C.GREATER_THAN_X_DAYS_IN_THE_FUTURE,
}
_ORDER = {
    "GT": C.GREATER_THAN,
    "GE": C.GREATER_THAN_OR_EQUAL_TO,
    "LT": C.LESS_THAN,
    "LE": C.LESS_THAN_OR_EQUAL_TO,
}
_INSTANT = {"GT": C.AFTER, "LT": C.BEFORE}
_SYMBOL = {"EQ": "=", "NE": "!=", "GT": ">", "GE": ">=", "LT": "<", "LE": "<="}


def _comparison(name: _Name, op: _Op, value: Token | _Duration) -> ast.Attribute:
    """``name op value`` for the comparison operators (=, !=, <, <=, >, >=)."""
    span = name.span.cover(_value_span(value))
    shown_name = _render_name(name.text)

    def make(comparison: ast.Comparison, payload: ast.Value) -> ast.Attribute:
        return ast.Attribute(
            name=name.text, comparison=comparison, value=payload, span=span,
            name_span=name.span, value_span=_value_span(value),
        )  # fmt: skip

    if isinstance(value, _Duration):
        comparison = _RELATIVE.get((op.key, value.future))
        if comparison is None:
            strict = "<" if op.key in ("LE", "EQ") else ">"
            hint = f"write `{shown_name} {strict} {_days_text(value)}`"
            if op.key in ("LE", "GE"):
                message = (
                    f"`{op.text}` with a duration has no Braze equivalent: Braze compares "
                    "relative times strictly, in whole days"
                )
                if op.key == "LE" and isinstance(value.days, int):
                    later = _Duration(value.days + 1, value.future, value.span, value.count_span)
                    hint += f" or `{shown_name} < {_days_text(later)}`"
            else:
                message = f"`{op.text}` with a duration has no Braze equivalent"
                hint = f"compare relative times with `<` or `>`, e.g. `{shown_name} < " + (
                    f"{_days_text(value)}`"
                )
            _fail(UnsupportedError, message, op.span, "no exact Braze comparison", hint)
        return make(comparison, value.days)

    kind = value.type
    if kind == "PARAM":
        param = ast.Param(value[1:], 1, _span(value))
        table = {"EQ": C.EQUALS, "NE": C.NOT_EQUAL, **_ORDER}
        return make(table[op.key], param)
    if kind == "DATETIME":
        text = _datetime(value)
        if op.key in _INSTANT:
            return make(_INSTANT[op.key], text)
        if op.key in ("GE", "LE"):
            word = "after" if op.key == "GE" else "before"
            _fail(
                UnsupportedError,
                f"`{op.text}` with a date-time has no Braze equivalent: `{word}` is strict",
                op.span,
                "no exact Braze comparison",
                f"write `{shown_name} {word} {text}` (which leaves out {text} itself), "
                f"or the instant just {'before' if word == 'after' else 'after'} it",
            )
        _fail(
            UnsupportedError,
            f"Braze cannot compare a date-time with `{op.text}`",
            op.span,
            "no Braze comparison",
            f"write a range: `{shown_name} after ... and {shown_name} before ...`",
        )
    if kind == "NUMBER":
        number = _number(value)
        table = {"EQ": C.EQUALS, "NE": C.NOT_EQUAL, **_ORDER}
        return make(table[op.key], number)
    if kind in ("TRUE", "FALSE"):
        if op.key in ("EQ", "NE"):
            return make(C.EQUALS if op.key == "EQ" else C.NOT_EQUAL, kind == "TRUE")
        _fail(
            AudienceTypeError,
            f"`{op.text}` compares numbers, not booleans",
            _span(value),
            "a boolean",
            f"write `{shown_name} = {str(value).lower()}`",
        )
    if kind == "STRING":
        text = _decode_string(value)
        if op.key in ("EQ", "NE"):
            return make(C.EQUALS if op.key == "EQ" else C.NOT_EQUAL, text)
        _fail(
            AudienceTypeError,
            f"`{op.text}` compares numbers or date-times, not strings",
            _span(value),
            "a string",
            "Braze has no ordering of strings; use `=`, `in (...)` or a regex `~ /.../`",
        )
    if kind == "NULL":
        fix = "is null" if op.key == "EQ" else "is not null"
        _fail(
            AudienceSyntaxError,
            "`null` is not a value to compare with",
            _span(value),
            "null",
            f"to test whether the attribute is set write `{shown_name} {fix}`",
        )
    # REGEX
    _fail(
        AudienceTypeError,
        f"a regex is matched with `~`, not `{op.text}`",
        op.span,
        "not a regex operator",
        f"write `{shown_name} ~ {value}`" if op.key == "EQ" else f"write `{shown_name} !~ {value}`",
    )


# ---- the entry point and error translation --------------------------------------------------


def parse_program(source: Source) -> Program:
    """Parse rule text into its definitions and expression, raising our errors only."""
    text = source.text
    if not text.strip() or _only_comments(text):
        span = source.span(len(text), len(text))
        raise AudienceSyntaxError(
            Diagnostic(
                "the rule is empty",
                span,
                "expected a condition",
                'write a condition, e.g. `eye_color = "blue"`',
            ),
            source,
        )
    try:
        result: Program = _get_parser().parse(text)  # type: ignore[assignment]
    except _Problem as problem:
        raise problem.kind(problem.diagnostic, source) from None
    except UnexpectedToken as exc:
        if isinstance(exc.__context__, _Problem):  # pragma: no cover - defensive
            raise exc.__context__.kind(exc.__context__.diagnostic, source) from None
        raise AudienceSyntaxError(_unexpected_token(exc, source), source) from None
    except UnexpectedCharacters as exc:
        raise AudienceSyntaxError(_unexpected_character(exc, source), source) from None
    except UnexpectedInput as exc:  # pragma: no cover - other lark input errors
        span = source.span(exc.pos_in_stream or 0, exc.pos_in_stream or 0)
        raise AudienceSyntaxError(Diagnostic("this is not a rule", span), source) from None
    except LarkError as exc:  # pragma: no cover - lark wraps callback errors in some modes
        original = getattr(exc, "orig_exc", None)
        if isinstance(original, _Problem):
            raise original.kind(original.diagnostic, source) from None
        raise
    except RecursionError:  # pragma: no cover - nothing here recurses, but never leak it
        span = source.span(0, len(text))
        raise AudienceSyntaxError(
            Diagnostic("the rule is nested too deeply", span), source
        ) from None
    return result


def parse_expr(source: Source) -> ast.Expr:
    """Parse rule text into a surface expression, sub-rules expanded; our errors only."""
    program = parse_program(source)
    try:
        return _expand_definitions(program)
    except _Problem as problem:
        raise problem.kind(problem.diagnostic, source) from None


def _expand_definitions(program: Program) -> ast.Expr:
    """The rule with every bare name that a ``let`` defines replaced by its definition."""
    if not program.definitions:
        return program.expr
    defined: dict[str, Definition] = {}
    for definition in program.definitions:
        new = definition.name
        earlier = defined.get(new.text)
        if earlier is not None:
            _fail(
                AudienceSyntaxError,
                f"`{new.text}` is defined twice",
                new.span,
                "defined again here",
                "give each sub-rule its own name",
                (Label(earlier.name.span, "first defined here"),),
            )
        defined[new.text] = definition

    def uses(expr: ast.Node) -> list[ast.Attribute]:
        return [
            node
            for node in ast.walk(expr)
            if isinstance(node, ast.Attribute) and node.bare and node.name in defined
        ]

    # Order the definitions so each comes after those it uses; a cycle is an error.
    order: list[str] = []
    state: dict[str, int] = {}  # 1: being visited, 2: done
    for root in defined:
        if state.get(root) == 2:
            continue
        stack: list[tuple[str, list[ast.Attribute]]] = [(root, uses(defined[root].expr))]
        state[root] = 1
        while stack:
            name, pending = stack[-1]
            if not pending:
                stack.pop()
                state[name] = 2
                order.append(name)
                continue
            use = pending.pop()
            if state.get(use.name) == 1:
                path = [n for n, _ in stack]
                cycle = " -> ".join([*path[path.index(use.name) :], use.name])
                _fail(
                    AudienceSyntaxError,
                    f"the sub-rules refer to each other in a cycle: {cycle}",
                    use.name_span or use.span or defined[use.name].name.span,
                    "refers back here",
                    "a sub-rule can use other sub-rules, but not itself",
                )
            if state.get(use.name) != 2:
                state[use.name] = 1
                stack.append((use.name, uses(defined[use.name].expr)))

    expanded: dict[str, ast.Node] = {}

    def substitute(node: ast.Node) -> ast.Node:
        if isinstance(node, ast.Attribute) and node.bare and node.name in expanded:
            return expanded[node.name]
        return node

    for each in order:
        expanded[each] = ast.map_leaves(defined[each].expr, substitute)
    result: ast.Expr = ast.map_leaves(program.expr, substitute)  # type: ignore[assignment]
    return result


def _only_comments(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "//")):
            return False
    return True


_WORDS = {
    "NAME": "an attribute name",
    "BQNAME": "an attribute name",
    "STRING": "a string",
    "NUMBER": "a number",
    "DATETIME": "a date-time",
    "PARAM": "a $parameter",
    "REGEX": "a /regex/",
    "TRUE": "true",
    "FALSE": "false",
    "NULL": "null",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "COMMA": "`,`",
    "SEMI": "`;`",
    "LET": "`let`",
    "$END": "the end of the rule",
    "AND": "`and`",
    "OR": "`or`",
    "AMPAMP": "`and`",
    "PIPEPIPE": "`or`",
    "BANG": "`not`",
}
_VALUE_WORDS = {"STRING", "NUMBER", "DATETIME", "PARAM", "TRUE", "FALSE"}
_OPERATOR_WORDS = {"EQ", "NE", "LT", "GT", "IS", "EXISTS", "CONTAINS"}
_CONDITION_WORDS = {"NAME", "LPAR", "NOT"}

# Two tokens in a row that are a known typo: (previous, found) -> the operator meant.
_TYPOS = {
    ("EQEQ", "EQ"): "`===` is not an operator: write `=` (or `==`)",
    ("EQ", "GT"): "did you mean `>=`?",
    ("EQ", "LT"): "did you mean `<=`?",
    ("EQ", "BANG"): "did you mean `!=`?",
    ("EQ", "TILDE"): "a regex match is written `~`: did you mean `~`?",
    ("GT", "LT"): "did you mean `<>` (or `!=`)?",
    ("NE", "EQ"): "`!==` is not an operator: write `!=`",
    ("BANG", "EQ"): "did you mean `!=`?",
    ("LT", "GT"): "`< >` with a space is not an operator: write `<>` or `!=`",
}


def lex(text: str) -> Iterator[Token]:
    """The tokens of ``text`` (comments and white space left out), as the parser sees them."""
    lexer = _get_parser().parser.lexer
    assert isinstance(lexer, _Lexer)
    return tokens(text, lexer.pattern, lexer.ignore)


def _previous_tokens(source: Source, offset: int) -> list[Token]:
    found: list[Token] = []
    try:
        for token in lex(source.text):
            if (token.start_pos or 0) >= offset:
                break
            found.append(token)
    except LarkError:
        pass
    return found


def _expected_words(expected: set[str]) -> str:
    if len(expected & _VALUE_WORDS) >= 3:
        return "a value"
    if len(expected & _OPERATOR_WORDS) >= 3:
        return "a comparison such as `=`, `<`, `contains`, `exists` or `is`"
    if len(expected & _CONDITION_WORDS) >= 2:
        return "a condition"
    words: list[str] = []
    for name in sorted(expected):
        word = _WORDS.get(name)
        if word is None:
            word = f"`{name.lower()}`" if name in KEYWORD_TYPES else None
        if word is None:
            word = _symbol_word(name)
        if word and word not in words:
            words.append(word)
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _symbol_word(name: str) -> str:
    symbols = {
        "EQ": "`=`", "EQEQ": "`==`", "NE": "`!=`", "LTGT": "`<>`", "GE": "`>=`", "LE": "`<=`",
        "GT": "`>`", "LT": "`<`", "TILDE": "`~`", "NTILDE": "`!~`",
    }  # fmt: skip
    return symbols.get(name, "")


def _unexpected_token(exc: UnexpectedToken, source: Source) -> Diagnostic:
    token = exc.token
    expected = set(exc.expected)
    at_end = token.type == "$END"
    offset = len(source.text) if at_end else (token.start_pos or 0)
    previous = _previous_tokens(source, offset)
    last = previous[-1] if previous else None
    if at_end:
        end = (last.end_pos or 0) if last is not None else 0
        span = source.span(end, end)
    else:
        span = _span(token)

    # An unmatched parenthesis: point at the `(` that is never closed, or the stray `)`.
    depth_stack: list[Token] = []
    for t in previous:
        if t.type == "LPAR":
            depth_stack.append(t)
        elif t.type == "RPAR" and depth_stack:
            depth_stack.pop()
    if token.type == "RPAR" and not depth_stack:
        return Diagnostic(
            "this `)` has no matching `(`",
            span,
            "unmatched `)`",
            "remove it, or add the `(` it closes",
        )
    if at_end and "RPAR" in expected and depth_stack:
        opener = depth_stack[-1]
        return Diagnostic(
            "this `(` is never closed",
            _span(opener),
            "unclosed `(`",
            "add the missing `)`",
            (Label(span, "the rule ends here"),),
        )

    # LALR merges states, so Lark may list `,`, `;` or `)` where they cannot stand:
    # keep each only in the context that gives it a meaning.
    list_open = bool(depth_stack) and _opens_list(previous, depth_stack[-1])
    in_let = sum(t.type == "LET" for t in previous) > sum(t.type == "SEMI" for t in previous)
    if list_open and last is not None and _is_value(last):
        expected &= {"COMMA", "RPAR"}  # after a value in a list
    elif not list_open:
        expected.discard("COMMA")
    if not in_let:
        expected.discard("SEMI")
    if not depth_stack:
        expected.discard("RPAR")
    if depth_stack or in_let:
        expected.discard("$END")
    what = _expected_words(expected)
    after = f" after `{last}`" if last is not None else ""
    message = f"expected {what}{after}"
    found = f"found {_describe(token)}"
    hint = ""

    if last is not None and (last.type, token.type) in _TYPOS:
        hint = _TYPOS[(last.type, token.type)]
    elif last is not None and last.type in _CONNECTIVES and token.type in _CONNECTIVES:
        hint = f"`{last} {token}`: one connective too many"
    elif last is not None and last.type in ("AFTER", "BEFORE") and token.type == "NAME":
        hint = (
            "a date-time is written bare, e.g. `2024-01-31` or `2024-01-31T13:45:00Z`; "
            "for a relative time write `< 1 day` or `> 30 days`"
        )
    elif last is not None and last.type in ("CONTAINS", "INCLUDES") and token.type == "LPAR":
        hint = "for a list write `contains any (...)` or `contains all (...)`"
    elif expected & _VALUE_WORDS and token.type in KEYWORD_TYPES | {"NAME"}:
        # An unquoted string value: show the condition with the value quoted.
        start = _condition_start(previous)
        before = source.text[start:offset]
        hint = f"strings are quoted: {before}{_quote(str(token))}"
    elif not at_end and last is not None and last.type in ("PUSH", "EMAIL", "LAST_USED_APP",
                                             "PUSH_SUBSCRIPTION_STATUS",
                                             "EMAIL_SUBSCRIPTION_STATUS"):  # fmt: skip
        word = str(last)
        if last.type == "LAST_USED_APP":
            usage = "last_used_app after 2024-01-31"
        else:
            usage = f"{word} is opted_in"
        message = f"`{word}` is a built-in filter, not an attribute name"
        span = _span(last)
        found = "a keyword"
        hint = (
            f"`{word}` is a built-in filter ({usage}); "
            f"a custom attribute of that name is written in backticks: {_render_name(word.lower())}"
        )
    elif token.type in KEYWORD_TYPES and "NAME" in expected:
        hint = (
            f"`{token}` is a keyword; to use it as an attribute name write it in backticks: "
            f"{_render_name(str(token).lower())}"
        )
    elif (
        last is not None
        and last.type == "NAME"
        and len(previous) >= 2
        and previous[-2].type in ("NUMBER", "PARAM")
        and str(last).lower() not in DAY_UNITS
    ):
        # `age = 1 plan = 2`: the name after a number was read as the start of a duration.
        message = f"expected `and` or `or` after `{previous[-2]}`"
        span = _span(last)
        found = f"found the name `{last}`"
        hint = "join conditions with `and` or `or`; a duration is written `2 days`"
    elif token.type == "NAME" and last is not None and last.type == "NAME":
        hint = "two names in a row: join conditions with `and` or `or`, or quote a string value"
    elif at_end and last is not None and last.type in ("AND", "OR", "NOT", "AMPAMP", "PIPEPIPE"):
        hint = f"the rule ends after `{last}`: add the condition it is waiting for"
    elif token.type == "REGEX":
        hint = "a regex is matched with `~` (or `matches`)"
    return Diagnostic(message, span, found, hint)


_CONNECTIVES = {"AND", "OR", "AMPAMP", "PIPEPIPE"}


def _opens_list(previous: list[Token], opener: Token) -> bool:
    """Whether the `(` ``opener`` starts a list of values (after `in`, `any`, `all`)."""
    index = next(i for i, t in enumerate(previous) if t is opener)
    return index > 0 and previous[index - 1].type in ("IN", "ANY", "ALL")


def _condition_start(previous: list[Token]) -> int:
    """Offset where the condition holding the last token begins (for quoting hints)."""
    index = len(previous) - 1
    while index > 0 and previous[index - 1].type not in (
        "AND", "OR", "NOT", "AMPAMP", "PIPEPIPE", "BANG", "LPAR",
    ):  # fmt: skip
        index -= 1
    return previous[index].start_pos or 0 if previous else 0


def _unexpected_character(exc: UnexpectedCharacters, source: Source) -> Diagnostic:
    offset = exc.pos_in_stream or 0
    char = source.text[offset] if offset < len(source.text) else ""
    span = source.span(offset, offset + 1)
    line_rest = source.text[offset:].split("\n", 1)[0]
    if char in "\"'":
        return Diagnostic(
            "this string is never closed",
            span,
            "unterminated string",
            f"end the string with {char} on the same line; write \\{char} for a quote inside it",
        )
    if char == "`":
        return Diagnostic(
            "this backtick name is never closed",
            span,
            "unterminated name",
            "end the name with ` on the same line",
        )
    if char == "/":
        return Diagnostic(
            "this regex is never closed" if len(line_rest) > 1 else "a `/` on its own",
            span,
            "unterminated regex",
            "a regex is written `/.../` on one line; write \\/ for a slash inside it",
        )
    if char == "&":
        return Diagnostic("`&` on its own is not an operator", span, "here", "write `and` or `&&`")
    if char == "|":
        return Diagnostic("`|` on its own is not an operator", span, "here", "write `or` or `||`")
    dotted = re.match(r"(\d*)\.(\d*)", source.text[offset:])
    if dotted and (not dotted.group(1) or not dotted.group(2)) and dotted.group(0) != ".":
        whole = dotted.group(1) or "0"
        fraction = dotted.group(2) or "5"
        return Diagnostic(
            "a number needs digits on both sides of its `.`",
            source.span(offset, offset + len(dotted.group(0))),
            "not a number",
            f"write `{whole}.{fraction}` (or `{dotted.group(1)}` for a whole number)"
            if dotted.group(1)
            else f"write `{whole}.{fraction}`",
        )
    if char.isdigit():
        return Diagnostic(
            "a number must stand apart from the word after it",
            source.span(offset, offset + len(line_rest.split()[0]) if line_rest.split() else 1),
            "cannot read this",
            "put a space between a number and its unit: `2 days`; dates are written `2024-01-31`",
        )
    if char == "$":
        return Diagnostic(
            "a parameter is `$` followed by a name",
            span,
            "here",
            "write e.g. `$min_age`",
        )
    shown = repr(char) if not char.isprintable() or char.isspace() else f"`{char}`"
    hint = ""
    if not char.isascii() and char.isalpha():
        hint = "names with other characters than A-Z, 0-9 and _ are written in backticks: `名前`"
    return Diagnostic(f"unexpected character {shown}", span, "here", hint)
