"""The lexer (audience_dsl.language.grammar.tokens): every token where the text has it,
lines and columns as the source's own line index counts them, and the scan stopped
where no terminal matches."""

from __future__ import annotations

import itertools
import re

import pytest
from lark.common import LexerConf
from lark.exceptions import UnexpectedCharacters
from lark.lexer import PatternRE, TerminalDef

from audience_dsl.language import grammar
from audience_dsl.source import Source

TEXTS = [
    '(a0 = "v0" or n1 > 1) and (t2 < 3 days or (push is opted_in and a4 = "v4"))',
    'a = 1 and\n  b = "x"  # why b\n  and c exists // and a comment\n\n\tor `d e` ~ /x\\/y/',
    "let vip = tier = 'gold';\r\nvip and\r\n  last_used_app after 2024-01-31T00:00:00Z",
    "\n\n  x in (1, 2.5, $p)\n# only a comment on the last line",
    "x",
]


@pytest.mark.parametrize("text", TEXTS)
def test_each_token_stands_where_the_source_says(text: str) -> None:
    source = Source(text)
    found = list(grammar.lex(text))
    assert found
    for token in found:
        assert str(token) == token.value == text[token.start_pos : token.end_pos]
        assert (token.line, token.column) == source.position(token.start_pos or 0)
        assert (token.end_line, token.end_column) == source.position(token.end_pos or 0)
    # Between the tokens there is only white space and comments.
    between = "".join(text[a.end_pos : b.start_pos] for a, b in itertools.pairwise(found))
    rest = text[: found[0].start_pos] + between + text[found[-1].end_pos :]
    assert re.fullmatch(r"(?:[ \t\r\n\f]+|#[^\n]*|//[^\n]*)*", rest)


@pytest.mark.parametrize(
    ("text", "offset"),
    [("a = @", 4), ("a = 1\n  b = ^ 2", 12), ("a = 1 # ok\n\n  ?", 14), ("é", 0)],
)
def test_the_scan_stops_where_no_terminal_matches(text: str, offset: int) -> None:
    with pytest.raises(UnexpectedCharacters) as caught:
        list(grammar.lex(text))
    assert caught.value.pos_in_stream == offset
    assert (caught.value.line, caught.value.column) == Source(text).position(offset)


def test_a_terminal_that_can_match_nothing_is_refused() -> None:
    conf = LexerConf([TerminalDef("A", PatternRE("a*")), TerminalDef("B", PatternRE("b"))], re)
    with pytest.raises(ValueError, match="match nothing: A"):
        grammar.FastLexer(conf)
