"""Literals as written: strings and their escapes, numbers, date-times, durations, and
how values are described and quoted in messages."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NoReturn

from lark import Token

from audience_dsl.errors import (
    AudienceSyntaxError,
    UnsupportedError,
)
from audience_dsl.language import ast
from audience_dsl.language.names import (
    KEYWORD_TYPES,
)
from audience_dsl.language.parts import Duration, fail, token_span
from audience_dsl.source import Span

_VALUE_TYPES = {"STRING", "NUMBER", "TRUE", "FALSE", "NULL", "DATETIME", "PARAM", "REGEX"}


def is_value(token: Token) -> bool:
    return token.type in _VALUE_TYPES


def value_span_of(value: Token | Duration) -> Span:
    return value.span if isinstance(value, Duration) else token_span(value)


def words_of(tokens: list[Token]) -> str:
    return " ".join(str(t) for t in tokens)


def describe_value(value: Token | Duration) -> str:
    if isinstance(value, Duration):
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


def quote(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def days_text(duration: Duration) -> str:
    days = duration.days
    shown = f"${days.name}" if isinstance(days, ast.Param) else str(days)
    unit = "day" if days == 1 else "days"
    return f"{shown} {unit}" + (" from now" if duration.future else "")


def plural_days(days: int) -> str:
    return f"{days} day" if days == 1 else f"{days} days"


def number_value(token: Token) -> int | float:
    text = str(token)
    if "." not in text:
        return int(text)
    value = float(text)
    if Decimal(repr(value)) != Decimal(text):
        fail(
            UnsupportedError,
            "this number has more digits than a JSON number keeps, so Braze would see another one",
            token_span(token),
            "not exactly representable",
            f"write `{value!r}`, the number Braze would use",
            code="inexact-number",
        )
    return value


def datetime_text(token: Token) -> str:
    text = str(token)
    try:
        datetime.fromisoformat(text)
    except ValueError as exc:
        fail(
            AudienceSyntaxError,
            f"`{text}` is not a real date-time ({exc})",
            token_span(token),
            "invalid date-time",
            "date-times are ISO 8601: `2024-01-31`, `2024-01-31T13:45:00Z`, "
            "`2024-01-31T13:45:00+0100`",
            code="invalid-date-time",
        )
    return text


_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n",
            "r": "\r", "t": "\t"}  # fmt: skip


def decode_string(token: Token) -> str:
    """A string literal's value, with JSON-style escapes (and ``\\'``) decoded."""
    body = str(token)[1:-1]
    if "\\" not in body:
        return body  # no escapes: the text is the value
    out: list[str] = []
    i = 0

    def bad(offset: int, width: int, message: str, hint: str) -> NoReturn:
        base = token_span(token)
        start = base.start + 1 + offset
        column = base.column + 1 + offset
        span = Span(start, start + width, base.line, column, base.line, column + width)
        fail(AudienceSyntaxError, message, span, "here", hint, code="bad-string-escape")

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


def unescape_backticks(token: Token) -> str:
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
