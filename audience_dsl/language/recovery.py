"""Every syntax error of a rule at once.

The parser stops at the first mistake. Only then, the rule is read again here, by a
simulation of the same LALR(1) tables that keeps going: at each mistake it records the
diagnostic, then repairs the rule in the smallest way that lets the next few tokens be
read (drop the token, put a token of an expected kind in its place, or put one before
it), so that one mistake does not cause a cascade of others. Valid rules never come
here: this costs nothing on the fast path.
"""

from __future__ import annotations

from lark import Token
from lark.exceptions import UnexpectedToken
from lark.parsers.lalr_analysis import Shift

from audience_dsl.errors import Diagnostic
from audience_dsl.language.grammar import FastLexer, get_parser
from audience_dsl.language.syntax_errors import character_problem, unexpected_token
from audience_dsl.source import Source

#: How many tokens after a repair must be read without error for it to be taken.
_LOOKAHEAD = 3
#: At most this many mistakes are reported (the rest would be noise).
_LIMIT = 20

#: The kinds of token tried as a repair, most plausible first.
_PREFERENCE = [
    "STRING", "NUMBER", "AND", "OR", "RPAR", "RSQB", "EQ", "NAME", "COMMA", "SEMI",
    "DATETIME", "TRUE", "FALSE",
]  # fmt: skip


def _tables() -> tuple[dict[object, dict[str, tuple[object, object]]], object, object]:
    parser = get_parser()
    table = parser.parser.parser.parser.parse_table
    return table.states, table.start_states["start"], table.end_states["start"]


def _feed(
    states: dict[object, dict[str, tuple[object, object]]],
    stack: list[object],
    kind: str,
    end: object,
) -> bool:
    """Feed one token kind to the state stack (in place); False if it is not accepted."""
    while True:
        entry = states[stack[-1]].get(kind)
        if entry is None:
            return False
        action, arg = entry
        if action is Shift:
            stack.append(arg)
            return True
        size = len(arg.expansion)  # type: ignore[attr-defined]
        if size:
            del stack[-size:]
        goto = states[stack[-1]][arg.origin.name]  # type: ignore[attr-defined]
        stack.append(goto[1])
        if kind == "$END" and stack[-1] == end:
            return True


def _reads(
    states: dict[object, dict[str, tuple[object, object]]],
    stack: list[object],
    kinds: list[str],
    end: object,
) -> list[object] | None:
    trial = list(stack)
    for kind in kinds:
        if not _feed(states, trial, kind, end):
            return None
    return trial


_CLOSERS = {"LPAR": "RPAR", "LSQB": "RSQB"}


def _after_closing(kinds: list[str], i: int) -> int:
    """The index after the bracket that closes the one at ``i`` (or the end's index)."""
    depth = 0
    for j in range(i, len(kinds)):
        if kinds[j] in _CLOSERS:
            depth += 1
        elif kinds[j] in ("RPAR", "RSQB"):
            depth -= 1
            if depth == 0:
                return j + 1
    return len(kinds) - 1


def tolerant_tokens(source: Source) -> tuple[list[Token], list[Diagnostic]]:
    """The tokens of the rule, reading past characters that start no token."""
    lexer = get_parser().parser.lexer
    assert isinstance(lexer, FastLexer)
    text = source.text
    match = lexer.pattern.match
    tokens: list[Token] = []
    problems: list[Diagnostic] = []
    position = 0
    while position < len(text):
        found = match(text, position)
        if found is None:
            diagnostic, stop, kind = character_problem(position, source)
            problems.append(diagnostic)
            if kind:
                tokens.append(_token(source, kind, position, max(stop, position + 1)))
            position = max(stop, position + 1)
            continue
        kind = found.lastgroup or ""
        if kind not in lexer.ignore:
            if kind == "NAME":
                from audience_dsl.language.names import KEYWORDS

                kind = KEYWORDS.get(found.group().lower(), "NAME")
            tokens.append(_token(source, kind, position, found.end()))
        position = found.end()
    return tokens, problems


def _token(source: Source, kind: str, start: int, stop: int) -> Token:
    line, column = source.position(start)
    end_line, end_column = source.position(stop)
    return Token(kind, source.text[start:stop], start, line, column, end_line, end_column, stop)


def every_syntax_error(source: Source) -> list[Diagnostic]:
    """Every independent syntax mistake of the rule, in source order."""
    states, start, end = _tables()
    tokens, problems = tolerant_tokens(source)
    text_end = len(source.text)
    line, column = source.position(text_end)
    eof = Token("$END", "", text_end, line, column, line, column, text_end)
    stream = [*tokens, eof]
    kinds = [t.type for t in stream]
    stack: list[object] = [start]
    before_previous: list[object] | None = None  # the stack before token i - 1 was read
    i = 0
    found: list[Diagnostic] = []
    while i < len(stream) and len(found) < _LIMIT:
        trial = list(stack)
        if _feed(states, trial, kinds[i], end):
            before_previous = stack
            stack = trial
            i += 1
            continue
        expected = {k for k in states[stack[-1]] if isinstance(k, str) and k.isupper()}
        error = UnexpectedToken(stream[i], expected)  # type: ignore[no-untyped-call]
        found.append(unexpected_token(error, source))
        ahead = kinds[i + 1 : i + 1 + _LOOKAHEAD]
        ordered = [k for k in _PREFERENCE if k in expected] + sorted(
            expected - set(_PREFERENCE) - {"$END"}
        )
        repaired: tuple[list[object], int] | None = None
        if kinds[i] != "$END":
            after = _reads(states, stack, ahead, end)  # drop the token
            if after is not None:
                repaired = (after, i + 1 + len(ahead))
        for kind in ordered:
            if repaired is not None:
                break
            if kinds[i] != "$END":
                after = _reads(states, stack, [kind, *ahead], end)  # replace it
                if after is not None:
                    repaired = (after, i + 1 + len(ahead))
                    break
            after = _reads(states, stack, [kind, *kinds[i : i + _LOOKAHEAD]], end)  # insert
            if after is not None:
                repaired = (after, i + len(kinds[i : i + _LOOKAHEAD]))
        if repaired is None and before_previous is not None and kinds[i - 1] == "NAME":
            # `age = 1 plan = 2`: the name was read as the unit of `1 plan`, and the
            # `and` belongs before it.
            window = kinds[i - 1 : i - 1 + _LOOKAHEAD + 1]
            for kind in ("AND", "OR"):
                after = _reads(states, before_previous, [kind, *window], end)
                if after is not None:
                    repaired = (after, i - 1 + len(window))
                    break
        if repaired is not None:
            stack, i = repaired
            before_previous = None
            continue
        # No small repair: skip tokens until one is read (or the rule ends); a bracketed
        # list where none can stand is skipped whole.
        if kinds[i] in _CLOSERS:
            i = _after_closing(kinds, i)
            # The list stood where a value was expected: read on as if it were one.
            before_previous = None
            as_value = None
            for kind in ordered:
                as_value = _reads(states, stack, [kind, *kinds[i : i + _LOOKAHEAD]], end)
                if as_value is not None:
                    stack, i = as_value, i + len(kinds[i : i + _LOOKAHEAD])
                    break
            if as_value is not None:
                continue
        else:
            i += 1
        while i < len(stream):
            trial = list(stack)
            if _feed(states, trial, kinds[i], end):
                break
            i += 1
    merged = sorted([*problems, *found], key=lambda d: (d.span.start, d.span.end))
    # A token made from unreadable characters stands for them: drop a second
    # diagnostic at the same place.
    out: list[Diagnostic] = []
    for diagnostic in merged:
        if out and out[-1].span.start == diagnostic.span.start:
            continue
        out.append(diagnostic)
    return out
