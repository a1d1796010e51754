"""The builder's intermediate values (a name, an operator, a duration, a list) and the
exception it raises, which the parser turns into an AudienceError with the source.

The intermediate values live from one reduction to the next and are never changed, but
they are not frozen dataclasses: one is made for most tokens, and a frozen dataclass
takes about three times as long to make (each field is set through ``object.__setattr__``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from lark import Token

from audience_dsl.errors import (
    Diagnostic,
    Label,
    RuleError,
)
from audience_dsl.language import ast
from audience_dsl.source import Span


class Problem(Exception):
    """Raised inside the builder; turned into an AudienceError (with the source) by parse."""

    def __init__(self, kind: type[RuleError], diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.kind = kind
        self.diagnostic = diagnostic


def fail(
    kind: type[RuleError],
    message: str,
    span: Span,
    label: str = "",
    hint: str = "",
    labels: tuple[Label, ...] = (),
    *,
    code: str = "",
) -> NoReturn:
    raise Problem(kind, Diagnostic(message, span, label, hint, labels, code=code))


def token_span(token: Token) -> Span:
    return Span(
        token.start_pos or 0,
        token.end_pos or 0,
        token.line or 1,
        token.column or 1,
        token.end_line or 1,
        token.end_column or 1,
    )


def tokens_span(first: Token, last: Token) -> Span:
    """The span from ``first`` to ``last``, a later token (or the same): one span made
    where ``token_span(first).cover(token_span(last))`` makes three."""
    return Span(
        first.start_pos or 0,
        last.end_pos or 0,
        first.line or 1,
        first.column or 1,
        last.end_line or 1,
        last.end_column or 1,
    )


def cover_spans(first: Span | None, last: Span | None) -> Span | None:
    if first is None:
        return last
    if last is None:
        return first
    return first.cover(last)


@dataclass(slots=True)
class Name:
    text: str
    span: Span
    quoted: bool = False


@dataclass(slots=True)
class Op:
    """An operator: its canonical key, whether it is negated, and where it stands."""

    key: str
    negated: bool
    span: Span
    text: str


@dataclass(slots=True)
class Duration:
    days: int | ast.Param
    future: bool
    span: Span
    count_span: Span
    written: str = ""  # as the rule wrote it: `30 days`, `2 weeks ago`


@dataclass(slots=True)
class ValueList:
    values: tuple[Token | Duration, ...] | ast.Param
    span: Span
    open_span: Span


def expr_span(node: Any) -> Span | None:
    return node.span if isinstance(node, ast.Node) else None


def flatten_group(cls: type[ast.And] | type[ast.Or], items: list[Any]) -> ast.Node:
    parts = [item for item in items if not isinstance(item, Token)]
    span = cover_spans(expr_span(parts[0]), expr_span(parts[-1]))
    return ast.flat_group(cls, parts, span)


@dataclass(frozen=True, slots=True)
class Definition:
    """A named sub-rule, ``let name = expr;``, as written (not expanded)."""

    name: Name
    expr: ast.Expr


@dataclass(frozen=True, slots=True)
class Program:
    """A rule as written: its definitions, and its expression with names unexpanded."""

    definitions: tuple[Definition, ...]
    expr: ast.Expr
