"""Syntax errors in words: Lark's unexpected tokens and characters turned into diagnostics
that say what was expected, filtered by context, with hints for known mistakes."""

from __future__ import annotations

import difflib
import re

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from audience_dsl.errors import (
    Diagnostic,
    Label,
)
from audience_dsl.language.literals import describe_value, is_value, quote
from audience_dsl.language.names import (
    DAY_UNITS,
    KEYWORD_TYPES,
    render_name,
)
from audience_dsl.language.parts import token_span
from audience_dsl.language.phrasings import suggest_operator
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
    "LSQB": "`[`",
    "RSQB": "`]`",
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
    from audience_dsl.language.recovery import tolerant_tokens

    found: list[Token] = []
    for token in tolerant_tokens(source)[0]:
        if (token.start_pos or 0) >= offset:
            break
        found.append(token)
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

    # An unmatched bracket: point at the `(` or `[` never closed, or the stray `)` or `]`.
    depth_stack: list[Token] = []
    for t in previous:
        if t.type in ("LPAR", "LSQB"):
            depth_stack.append(t)
        elif t.type in ("RPAR", "RSQB") and depth_stack:
            depth_stack.pop()
    if token.type in ("RPAR", "RSQB") and not depth_stack:
        return Diagnostic(
            f"this `{token}` has no matching `{'(' if token.type == 'RPAR' else '['}`",
            span,
            f"unmatched `{token}`",
            "remove it, or add the bracket it closes",
            code="unmatched-closing-bracket",
        )
    closer = {"LPAR": "RPAR", "LSQB": "RSQB"}
    if at_end and depth_stack and closer[depth_stack[-1].type] in expected:
        opener = depth_stack[-1]
        return Diagnostic(
            f"this `{opener}` is never closed",
            token_span(opener),
            f"unclosed `{opener}`",
            f"add the missing `{')' if opener.type == 'LPAR' else ']'}`",
            (Label(span, "the rule ends here"),),
            code="unclosed-bracket",
            expected=(f"`{')' if opener.type == 'LPAR' else ']'}`",),
        )

    # LALR merges states, so Lark may list `,`, `;` or `)` where they cannot stand:
    # keep each only in the context that gives it a meaning.
    list_open = bool(depth_stack) and _opens_list(previous, depth_stack[-1])
    in_let = sum(t.type == "LET" for t in previous) > sum(t.type == "SEMI" for t in previous)
    if list_open and last is not None and is_value(last):
        expected &= {"COMMA", "RPAR", "RSQB"}  # after a value in a list
    elif not list_open:
        expected.discard("COMMA")
    if not in_let:
        expected.discard("SEMI")
    if not depth_stack or depth_stack[-1].type != "LPAR":
        expected.discard("RPAR")
    if not depth_stack or depth_stack[-1].type != "LSQB":
        expected.discard("RSQB")
    if depth_stack or in_let:
        expected.discard("$END")
    words = _expected_list(expected)
    what = _expected_words(expected)
    after = f" after `{last}`" if last is not None else ""
    message = f"expected {what}{after}"
    found = f"found {describe_value(token)}"
    hint = ""
    code = "unexpected-token"
    before_last = previous[-2] if len(previous) >= 2 else None
    wants_value = bool(expected & _VALUE_WORDS)

    if last is not None and (last.type, token.type) in _TYPOS:
        hint = _TYPOS[(last.type, token.type)]
        code = "operator-typo"
    elif last is not None and last.type in _OPERATORS and token.type == last.type:
        message = f"the operator `{token}` is written twice"
        hint = f"remove one `{token}`"
        code = "doubled-operator"
    elif last is not None and last.type in _CONNECTIVES and token.type in _CONNECTIVES:
        hint = f"`{last} {token}`: one connective too many"
        code = "doubled-connective"
    elif (
        last is not None
        and last.type == "IS"
        and before_last is not None
        and before_last.type in _CHANNELS
    ):
        message = f"expected a subscription state after `{before_last} is`"
        hint = (
            f"the states are opted_in, subscribed and unsubscribed, e.g. "
            f"`{before_last} is opted_in`"
        )
        code = "missing-subscription-state"
        words = ("opted_in", "subscribed", "unsubscribed")
    elif last is not None and last.type in ("AFTER", "BEFORE") and token.type == "NAME":
        hint = (
            "a date-time is written bare, e.g. `2024-01-31` or `2024-01-31T13:45:00Z`; "
            f"for a relative time write `{last} 30 days ago` or `{last} 5 days from now`"
        )
        code = "date-time-expected"
    elif (
        last is not None
        and last.type in ("EQ", "EQEQ", "NE", "LTGT")
        and token.type in ("LPAR", "LSQB")
        and before_last is not None
    ):
        word = "not in" if last.type in ("NE", "LTGT") else "in"
        message = f"`{last}` compares with one value, not a list"
        hint = f"for several values write `{before_last} {word} (...)`"
        code = "list-after-comparison"
    elif last is not None and last.type in ("CONTAINS", "INCLUDES") and token.type == "LPAR":
        hint = "for a list write `contains any (...)` or `contains all (...)`"
        code = "contains-list"
    elif (
        last is not None
        and last.type == "NAME"
        and before_last is not None
        and before_last.type in ("NAME", "BQNAME")
        and not is_value(token)
        and token.type not in ("LPAR", "LSQB")
        and (len(previous) < 3 or previous[-3].type not in ("NUMBER", "PARAM", "IS"))
    ):
        # `eye_color blue`: the second name was read as the start of an operator phrase.
        span = token_span(last)
        message = f"two names in a row: `{before_last}` and `{last}`"
        found = "a second name"
        operator = suggest_operator(str(last))
        proposal = f"{before_last} = {quote(str(last))}"
        if operator is not None:
            message = f"`{last}` is not an operator"
            hint = f"did you mean `{operator}`?"
            code = "misspelt-operator"
        else:
            hint = "join conditions with `and` or `or`"
            if _compiles(proposal):
                hint += f"; if `{last}` is a value, write `{proposal}`"
            code = "two-names"
        words = ("a comparison",)
    elif wants_value and token.type in _CONNECTIVES | {"RPAR", "RSQB", "$END", "SEMI"}:
        where = f"`{last}` and `{token}`" if not at_end else f"`{last}` and the end of the rule"
        hint = f"a value is missing between {where}"
        code = "missing-value"
    elif wants_value and last is not None and token.type in KEYWORD_TYPES | {"NAME"}:
        # An unquoted string value: show the condition with the value quoted, if that
        # condition is a rule.
        start = _condition_start(previous)
        before = source.text[start:offset]
        proposal = f"{before}{quote(str(token))}"
        if _compiles(proposal):
            hint = f"strings are quoted: `{proposal}`"
        else:
            hint = f"strings are quoted: {quote(str(token))}"
            if last.type in ("GT", "GE", "LT", "LE"):
                hint += f"; but `{last}` compares numbers and date-times, not strings"
        code = "unquoted-string"
    elif not at_end and last is not None and last.type in _CHANNELS | {"LAST_USED_APP"}:
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
        code = "builtin-as-attribute"
    elif (
        last is not None
        and last.type in ("NAME", "BQNAME")
        and token.type in _SINGULAR
        and not wants_value
    ):
        message = f"`{token}` is not an operator on its own"
        hint = f"did you mean `{_SINGULAR[token.type]}`?"
        code = "misspelt-operator"
    elif token.type in KEYWORD_TYPES and "NAME" in expected:
        hint = (
            f"`{token}` is a keyword; to use it as an attribute name write it in backticks: "
            f"{render_name(str(token).lower())}"
        )
        code = "keyword-as-name"
    elif (
        last is not None
        and last.type == "NAME"
        and before_last is not None
        and before_last.type in ("NUMBER", "PARAM")
        and str(last).lower() not in DAY_UNITS
    ):
        # `age = 1 plan = 2`: the name after a number was read as the start of a duration.
        message = f"expected `and` or `or` after `{before_last}`"
        span = token_span(last)
        found = f"found the name `{last}`"
        close = difflib.get_close_matches(str(last).lower(), ["and", "or"], n=1, cutoff=0.6)
        hint = (
            f"did you mean `{close[0]}`?"
            if close
            else "join conditions with `and` or `or`; a duration is written `2 days`"
        )
        code = "missing-connective"
        words = ("`and`", "`or`")
    elif (
        last is not None
        and (is_value(last) or last.type in ("NAME", "RPAR", "RSQB", "AGO", "NOW"))
        and token.type in ("NAME", "BQNAME", "LPAR", "NOT", "BANG")
        and expected & _CONNECTIVES
    ):
        # `eye_color = "blue" age > 30`: a condition ends, another starts.
        message = f"expected `and` or `or` before `{token}`"
        start = _condition_start(previous)
        line_end = min(i for i in (source.text.find("\n", offset), len(source.text)) if i != -1)
        proposal = (
            f"{source.text[start : last.end_pos or 0]} and {source.text[offset:line_end].rstrip()}"
        )
        hint = "join the conditions with `and` or `or`"
        if _compiles(proposal):
            hint += f": `{proposal}`"
        code = "missing-connective"
        words = ("`and`", "`or`")
    elif at_end and last is not None and last.type in ("AND", "OR", "NOT", "AMPAMP", "PIPEPIPE"):
        hint = f"the rule ends after `{last}`: add the condition it is waiting for"
        code = "missing-condition"
    elif token.type == "REGEX":
        hint = "a regex is matched with `~` (or `matches`)"
        code = "regex-without-match"
    return Diagnostic(message, span, found, hint, code=code, expected=words)


#: Keywords that are operators only in `does not ...`, and the operator meant alone.
_SINGULAR = {
    "CONTAIN": "contains",
    "INCLUDE": "includes",
    "EXIST": "exists",
    "MATCH": "matches",
}
_OPERATORS = {"EQ", "EQEQ", "NE", "LTGT", "GT", "GE", "LT", "LE", "TILDE", "NTILDE"}
_CHANNELS = {"PUSH", "EMAIL", "PUSH_SUBSCRIPTION_STATUS", "EMAIL_SUBSCRIPTION_STATUS"}


def _compiles(text: str) -> bool:
    """Whether a condition proposed by a hint is itself a rule (hints never propose
    anything else)."""
    from audience_dsl.language.parser import parse_expr

    try:
        parse_expr(Source(text))
    except Exception:
        return False
    return True


def _expected_list(expected: set[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in sorted(expected):
        word = _WORDS.get(name) or (
            f"`{name.lower()}`" if name in KEYWORD_TYPES else _symbol_word(name)
        )
        if word and word not in out:
            out.append(word)
    return tuple(out)


_CONNECTIVES = {"AND", "OR", "AMPAMP", "PIPEPIPE"}


def _opens_list(previous: list[Token], opener: Token) -> bool:
    """Whether the `(` ``opener`` starts a list of values (after `in`, `any`, `all`)."""
    index = next(i for i, t in enumerate(previous) if t is opener)
    return index > 0 and previous[index - 1].type in ("IN", "ANY", "ALL", "NAME")


def _condition_start(previous: list[Token]) -> int:
    """Offset where the condition holding the last token begins (for quoting hints)."""
    index = len(previous) - 1
    while index > 0 and previous[index - 1].type not in (
        "AND", "OR", "NOT", "AMPAMP", "PIPEPIPE", "BANG", "LPAR",
    ):  # fmt: skip
        index -= 1
    return previous[index].start_pos or 0 if previous else 0


def unexpected_character(exc: UnexpectedCharacters, source: Source) -> Diagnostic:
    return character_problem(exc.pos_in_stream or 0, source)[0]


def character_problem(offset: int, source: Source) -> tuple[Diagnostic, int, str]:
    """What is wrong where the lexer stops at ``offset``: the diagnostic, where the bad
    text ends, and the kind of token it stands for ("" if none), so that reading can go on.
    """
    text = source.text
    char = text[offset] if offset < len(text) else ""
    span = source.span(offset, offset + 1)
    line_end = len(text)
    for stop in ("\n", "\r"):
        found = text.find(stop, offset)
        if found != -1:
            line_end = min(line_end, found)
    line_rest = text[offset:line_end]
    if char in "\"'":
        return (
            Diagnostic(
                "this string is never closed",
                span,
                "unterminated string",
                f"end the string with {char} on the same line; write \\{char} for a quote "
                "inside it",
                code="unterminated-string",
            ),
            line_end,
            "STRING",
        )
    if char == "`":
        return (
            Diagnostic(
                "this backtick name is never closed",
                span,
                "unterminated name",
                "end the name with ` on the same line",
                code="unterminated-name",
            ),
            line_end,
            "NAME",
        )
    if char == "/":
        return (
            Diagnostic(
                "this regex is never closed" if len(line_rest) > 1 else "a `/` on its own",
                span,
                "unterminated regex",
                "a regex is written `/.../` on one line; write \\/ for a slash inside it",
                code="unterminated-regex",
            ),
            line_end,
            "REGEX",
        )
    if char == "&":
        return (
            Diagnostic(
                "`&` on its own is not an operator",
                span,
                "here",
                "write `and` or `&&`",
                code="single-ampersand",
            ),
            offset + 1,
            "AND",
        )
    if char == "|":
        return (
            Diagnostic(
                "`|` on its own is not an operator",
                span,
                "here",
                "write `or` or `||`",
                code="single-pipe",
            ),
            offset + 1,
            "OR",
        )
    run = re.match(r"-?[0-9.][\w.]*", text[offset:line_end])
    if run and run.group(0).count(".") >= 2 and re.fullmatch(r"-?[0-9.]+", run.group(0)):
        word = run.group(0)
        return (
            Diagnostic(
                f"`{word}` is not a number: a number has one `.` at most",
                source.span(offset, offset + len(word)),
                "not a number",
                f"if this is text (a version, say), quote it: {quote(word)}; "
                "a date is written `2024-01-31`",
                code="number-with-dots",
            ),
            offset + len(word),
            "NUMBER",
        )
    dotted = re.match(r"(\d*)\.(\d*)", text[offset:])
    if dotted and (not dotted.group(1) or not dotted.group(2)) and dotted.group(0) != ".":
        whole = dotted.group(1) or "0"
        fraction = dotted.group(2) or "5"
        return (
            Diagnostic(
                "a number needs digits on both sides of its `.`",
                source.span(offset, offset + len(dotted.group(0))),
                "not a number",
                f"write `{whole}.{fraction}` (or `{dotted.group(1)}` for a whole number)"
                if dotted.group(1)
                else f"write `{whole}.{fraction}`",
                code="number-half-decimal",
            ),
            offset + len(dotted.group(0)),
            "NUMBER",
        )
    if char.isdigit() or (char == "-" and run):
        word = run.group(0) if run else char
        letters = re.match(r"-?[\d.]+", word)
        digits = letters.group(0) if letters else word
        return (
            Diagnostic(
                f"`{word}` is neither a number nor a name: a number must stand apart from "
                "the letters after it",
                source.span(offset, offset + len(word)),
                "cannot read this",
                f"put a space between a number and its unit: `{digits} days`; dates are "
                "written `2024-01-31`; a name cannot start with a digit (write it in "
                f"backticks: `{word}`)",
                code="number-glued-to-word",
            ),
            offset + len(word),
            "NUMBER",
        )
    if char == "$":
        return (
            Diagnostic(
                "a parameter is `$` followed by a name",
                span,
                "here",
                "write e.g. `$min_age`",
                code="bare-dollar",
            ),
            offset + 1,
            "PARAM",
        )
    shown = repr(char) if not char.isprintable() or char.isspace() else f"`{char}`"
    hint = ""
    if not char.isascii() and char.isalpha():
        hint = "names with other characters than A-Z, 0-9 and _ are written in backticks: `名前`"
    return (
        Diagnostic(
            f"unexpected character {shown}", span, "here", hint, code="unexpected-character"
        ),
        offset + 1,
        "",
    )
