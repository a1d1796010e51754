"""Loading the grammar and building the LALR parser, with a lexer of our own.

The grammar (``grammar/audience.lark``, shipped inside the package) is loaded once, lazily,
from its prebuilt tables (:mod:`~audience_dsl.language.lalr`), as an LALR(1) parser whose
reductions call the builder directly, so no parse tree is built and nothing recurses
however deep the rule nests.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token
from lark.common import LexerConf
from lark.exceptions import UnexpectedCharacters, UnexpectedInput
from lark.lexer import Lexer, LexerState

from audience_dsl.language import lalr
from audience_dsl.language.builder import Builder
from audience_dsl.language.names import (
    KEYWORDS,
)


def grammar_text() -> str:
    """The grammar's text: the copy inside the installed package, else the checkout's."""
    packaged = resources.files("audience_dsl").joinpath("grammar", "audience.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "grammar" / "audience.lark"
    return checkout.read_text(encoding="utf-8")


_lock = threading.Lock()
_parser: Lark | None = None
_driver: lalr.Driver | None = None


class FastLexer(Lexer):
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
        empty = [t.name for t in terminals if t.pattern.min_width == 0]
        if empty:  # every match must move the scan on (see tokens)
            raise ValueError(f"terminals that can match nothing: {', '.join(empty)}")
        alternatives = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals)
        self.pattern = re.compile(alternatives)
        self.ignore = frozenset(conf.ignore)

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Token]:
        text = lexer_state.text.text
        return tokens(text, self.pattern, self.ignore)


def tokens(text: str, pattern: re.Pattern[str], ignore: frozenset[str]) -> Iterator[Token]:
    """The tokens of ``text``; raises Lark's UnexpectedCharacters where nothing matches.

    Each token is made as Lark's ``Token(...)`` would make it, less the two Python calls
    its constructor goes through (a measured fifth of the time spent lexing). Each match
    is anchored where the last one ended, so the scan stops where no terminal matches;
    lines are counted only in a text that has more than one.
    """
    keywords = KEYWORDS
    new = str.__new__
    match = pattern.match
    one_line = "\n" not in text
    position = 0
    line = 1
    before_line = -1  # the offset of the line break before the current line
    while (found := match(text, position)) is not None:
        start = position
        kind = found.lastgroup
        position = found.end()
        if kind in ignore:
            if one_line:
                continue
            breaks = text.count("\n", start, position)
            if breaks:
                line += breaks
                before_line = text.rindex("\n", start, position)
            continue
        value = found[0]
        if kind == "NAME":
            kind = keywords.get(value.lower(), "NAME")
        token = new(Token, value)
        token.type = kind  # type: ignore[assignment]
        token.value = value
        token.start_pos = start
        token.end_pos = position
        token.line = token.end_line = line
        token.column = start - before_line
        token.end_column = position - before_line
        yield token
    if position != len(text):
        raise UnexpectedCharacters(text, position, line, position - before_line)  # type: ignore[no-untyped-call]


def build(grammar: str) -> Lark:
    """The parser built from the grammar's text (about 150 ms; see :mod:`.lalr`)."""
    return Lark(grammar, parser="lalr", lexer=FastLexer, transformer=Builder(),
                maybe_placeholders=False)  # fmt: skip


def get_parser() -> Lark:
    """The parser, loaded once from the shipped tables (built when they are stale)."""
    global _parser, _driver
    if _parser is None:
        with _lock:
            if _parser is None:
                grammar = grammar_text()
                loaded = lalr.load(grammar, FastLexer, Builder(), lambda: build(grammar))
                _plain_rule_names(loaded)
                _driver = lalr.Driver(loaded)
                _parser = loaded
    return _parser


def parse_text(text: str) -> Any:
    """The builder's result for ``text``, or Lark's exception for a text that is no rule."""
    parser = get_parser()
    assert _driver is not None
    lexer = parser.parser.lexer
    try:
        return _driver.run(tokens(text, lexer.pattern, lexer.ignore))
    except (lalr.Rejected, UnexpectedInput):
        # Lark parses it again and raises the exception syntax errors are explained from.
        return parser.parse(text)


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


def lex(text: str) -> Iterator[Token]:
    """The tokens of ``text`` (comments and white space left out), as the parser sees them."""
    lexer = get_parser().parser.lexer
    assert isinstance(lexer, FastLexer)
    return tokens(text, lexer.pattern, lexer.ignore)
