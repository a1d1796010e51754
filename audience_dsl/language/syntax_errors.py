"""Syntax errors in words: Lark's unexpected tokens and characters turned into diagnostics
that say what was expected, filtered by context, with hints for known mistakes."""

from __future__ import annotations

import re

from lark import Token
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedToken

from audience_dsl.errors import (
    Diagnostic,
    Label,
)
from audience_dsl.language.grammar import lex
from audience_dsl.language.literals import describe_value, is_value, quote
from audience_dsl.language.names import (
    DAY_UNITS,
    KEYWORD_TYPES,
    render_name,
)
from audience_dsl.language.parts import token_span
from audience_dsl.source import Source


def only_comments(text: str) -> bool:
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


def unexpected_token(exc: UnexpectedToken, source: Source) -> Diagnostic:
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
        span = token_span(token)

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
            token_span(opener),
            "unclosed `(`",
            "add the missing `)`",
            (Label(span, "the rule ends here"),),
        )

    # LALR merges states, so Lark may list `,`, `;` or `)` where they cannot stand:
    # keep each only in the context that gives it a meaning.
    list_open = bool(depth_stack) and _opens_list(previous, depth_stack[-1])
    in_let = sum(t.type == "LET" for t in previous) > sum(t.type == "SEMI" for t in previous)
    if list_open and last is not None and is_value(last):
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
    found = f"found {describe_value(token)}"
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
        hint = f"strings are quoted: {before}{quote(str(token))}"
    elif not at_end and last is not None and last.type in ("PUSH", "EMAIL", "LAST_USED_APP",
                                             "PUSH_SUBSCRIPTION_STATUS",
                                             "EMAIL_SUBSCRIPTION_STATUS"):  # fmt: skip
        word = str(last)
        if last.type == "LAST_USED_APP":
            usage = "last_used_app after 2024-01-31"
        else:
            usage = f"{word} is opted_in"
        message = f"`{word}` is a built-in filter, not an attribute name"
        span = token_span(last)
        found = "a keyword"
        hint = (
            f"`{word}` is a built-in filter ({usage}); "
            f"a custom attribute of that name is written in backticks: {render_name(word.lower())}"
        )
    elif token.type in KEYWORD_TYPES and "NAME" in expected:
        hint = (
            f"`{token}` is a keyword; to use it as an attribute name write it in backticks: "
            f"{render_name(str(token).lower())}"
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
        span = token_span(last)
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


def unexpected_character(exc: UnexpectedCharacters, source: Source) -> Diagnostic:
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
