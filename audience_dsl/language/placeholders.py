"""Parsing that goes on past a condition the builder refuses, for editors and services.

The ordinary parser stops at the first problem. :func:`parse_recovering` parses with a
builder whose conditions, when one is refused (``x < 2 months``), record the diagnostic
and stand in the tree as a neutral placeholder (``x exists``), so that the later stages
(parameters, types, schema) can still report their own problems of the other
conditions. A tree with placeholders is never compiled: the caller has an error to
report already. Text that is not a rule at all (a syntax error from the grammar) still
stops at its first problem: after it, nothing is known about the shape of the rule.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from lark import Lark, Token

from audience_dsl.errors import AudienceError, Diagnostic, RuleError
from audience_dsl.language import ast, lalr
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.builder import Builder
from audience_dsl.language.definitions import expand_definitions
from audience_dsl.language.grammar import FastLexer, grammar_text
from audience_dsl.language.parser import parse_program
from audience_dsl.language.parts import Name, Problem, Program, cover_spans, token_span
from audience_dsl.source import NOWHERE, Source, Span

__all__ = ["parse_recovering"]

# The grammar rules that make one condition: a refused one becomes a placeholder.
_CONDITIONS = frozenset({
    "bare", "compare", "is_", "match", "contains", "contains_list", "is_any_of",
    "is_none_of", "includes_any_of", "exists", "within", "after_before", "in_", "between",
    "subscription", "last_used_app",
})  # fmt: skip

# The diagnostics of the parse under way in this thread (or task).
_collected: ContextVar[list[Diagnostic] | None] = ContextVar("_collected", default=None)


class _Refused:
    """A piece of a condition (a duration, a list) that the builder refused."""


_REFUSED = _Refused()


def _record(problem: Problem) -> None:
    collected = _collected.get()
    if collected is None:  # pragma: no cover - only this module's parser uses the builder
        raise problem
    collected.append(problem.diagnostic)


def _span_of(items: list[Any]) -> Span:
    spans: list[Span] = []
    for item in items:
        if isinstance(item, Token):
            spans.append(token_span(item))
        elif isinstance(item, Name) or isinstance(getattr(item, "span", None), Span):
            spans.append(item.span)
    return cover_spans(spans[0], spans[-1]) or NOWHERE if spans else NOWHERE


def _placeholder(items: list[Any]) -> ast.Node:
    """A condition that no later stage has anything to say about."""
    span = _span_of(items)
    first = items[0] if items else None
    if isinstance(first, Name):
        return ast.Attribute(
            name=first.text, comparison=C.EXISTS, span=span, name_span=first.span
        )
    return ast.Subscription(
        channel=ast.Channel.PUSH, comparison=C.IS, state=ast.State.OPTED_IN, span=span
    )


def _condition(method: Callable[[Any, list[Any]], Any]) -> Callable[[Any, list[Any]], Any]:
    def callback(self: Any, items: list[Any]) -> Any:
        if not any(item is _REFUSED for item in items):
            try:
                return method(self, items)
            except Problem as problem:
                _record(problem)
        return _placeholder(items)

    return callback


def _piece(method: Callable[[Any, list[Any]], Any]) -> Callable[[Any, list[Any]], Any]:
    def callback(self: Any, items: list[Any]) -> Any:
        if any(item is _REFUSED for item in items):
            return _REFUSED
        try:
            return method(self, items)
        except Problem as problem:
            _record(problem)
            return _REFUSED

    return callback


# The rules that combine whole conditions: a refused piece that reaches one of them (from
# a phrasing not listed above) stands there as a placeholder too.
_STRUCTURE = frozenset({"start", "definition", "or_expr", "and_expr", "negation", "group"})


def _structure(method: Callable[[Any, list[Any]], Any]) -> Callable[[Any, list[Any]], Any]:
    def callback(self: Any, items: list[Any]) -> Any:
        return method(self, [_placeholder([]) if item is _REFUSED else item for item in items])

    return callback


class _RecoveringBuilder(Builder):
    pass


for _name, _method in vars(Builder).items():
    if callable(_method) and not _name.startswith("_"):
        if _name in _CONDITIONS:
            wrap = _condition
        elif _name in _STRUCTURE:
            wrap = _structure
        else:
            wrap = _piece
        setattr(_RecoveringBuilder, _name, wrap(_method))

_parser: Lark | None = None
_lock = threading.Lock()


def _get_parser() -> Lark:
    global _parser
    if _parser is None:
        with _lock:
            if _parser is None:
                grammar = grammar_text()
                _parser = lalr.load(grammar, FastLexer, _RecoveringBuilder(), lambda: Lark(
                    grammar, parser="lalr", lexer=FastLexer, transformer=_RecoveringBuilder(),
                    maybe_placeholders=False,
                ))  # fmt: skip
    return _parser


def parse_recovering(source: Source) -> tuple[ast.Expr | None, list[Diagnostic]]:
    """The rule's expression (refused conditions replaced by placeholders) and the
    diagnostics of every refused condition; ``None`` and the diagnostic when the text is
    not a rule at all. Never raises :class:`~audience_dsl.errors.AudienceError`."""
    collected: list[Diagnostic] = []
    token = _collected.set(collected)
    try:
        program: Program | None = _get_parser().parse(source.text)  # type: ignore[assignment]
    except Exception:  # Lark's own: the text is not a rule (explained just below)
        program = None
    finally:
        _collected.reset(token)
    if program is None or not source.text.strip():
        # Not a rule: the ordinary parser says why, with every syntax error at once.
        try:
            parse_program(source)
        except RuleError as error:
            return None, [*collected, *error.diagnostics]
        if program is None:  # pragma: no cover - both parsers read the same grammar
            return None, collected
    try:
        expr = _expand(program, collected)
    except AudienceError as error:
        diagnostics = list(error.diagnostics) if isinstance(error, RuleError) else []
        return None, [*collected, *diagnostics]
    return expr, collected


def _expand(program: Program, warnings: list[Diagnostic]) -> ast.Expr:
    try:
        return expand_definitions(program, warnings=warnings)
    except Problem as problem:
        raise problem.kind(problem.diagnostic, Source("")) from None
