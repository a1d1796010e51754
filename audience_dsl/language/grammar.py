"""Loading the grammar and building the LALR parser, with a lexer of our own.

The grammar (``grammar/audience.lark``, shipped inside the package) is built once, lazily,
as an LALR(1) parser whose reductions call the builder directly, so no parse tree is
built and nothing recurses however deep the rule nests.
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
from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer, LexerState

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


def get_parser() -> Lark:
    global _parser
    if _parser is None:
        with _lock:
            if _parser is None:
                built = Lark(
                    grammar_text(),
                    parser="lalr",
                    lexer=FastLexer,
                    transformer=Builder(),
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


def lex(text: str) -> Iterator[Token]:
    """The tokens of ``text`` (comments and white space left out), as the parser sees them."""
    lexer = get_parser().parser.lexer
    assert isinstance(lexer, FastLexer)
    return tokens(text, lexer.pattern, lexer.ignore)
