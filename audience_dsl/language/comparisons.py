"""Operators to Braze comparisons: a name, an operator and a value (or list) become one
attribute filter, or an error with a hint where the combination means nothing in Braze."""

from __future__ import annotations

from typing import Any, NoReturn

from lark import Token

from audience_dsl.errors import (
    AudienceSyntaxError,
    AudienceTypeError,
    UnsupportedError,
)
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.literals import (
    datetime_text,
    days_text,
    decode_string,
    describe_value,
    number_value,
    quote,
    value_span_of,
)
from audience_dsl.language.names import (
    render_name,
)
from audience_dsl.language.parts import Duration, Name, Op, ValueList, fail, token_span
from audience_dsl.source import Span


def expect_word(token: Token, word: str, form: str) -> None:
    """Check that a soft keyword (a NAME in the grammar) is ``word``."""
    if str(token).lower() != word:
        fail(
            AudienceSyntaxError,
            f"expected `{word}`, found `{token}`",
            token_span(token),
            f"not `{word}`",
            f"the form is {form}",
            code="soft-keyword-expected",
        )


def list_filter(
    name: Name, comparison: ast.Comparison, values: Token | ValueList, op_span: Span, form: str
) -> ast.Attribute:
    """One of Braze's list comparisons: a list of strings, or a single string."""
    if isinstance(values, Token):
        value: ast.Value = decode_string(values)
        spans: tuple[Span, ...] = (token_span(values),)
        end = token_span(values)
    else:
        end = values.span
        if isinstance(values.values, ast.Param):
            fail(
                AudienceSyntaxError,
                f"`{form}` takes its values in parentheses, not a list parameter",
                values.span,
                "a parameter",
                f"write `{render_name(name.text)} in $list` (an OR of `equals`), or the "
                "values themselves",
                code="list-parameter-in-list-comparison",
            )
        op = Op("LIST", False, op_span, form)
        check_non_empty(name, op, values)
        texts = []
        for item in values.values:
            if not (isinstance(item, Token) and item.type == "STRING"):
                fail(
                    AudienceTypeError,
                    f"`{form}` takes strings",
                    value_span_of(item),
                    f"found {describe_value(item)}",
                    'write the values as strings, e.g. ("a", "b")',
                    code="list-comparison-needs-strings",
                )
            texts.append(decode_string(item))
        value = tuple(texts)
        spans = tuple(value_span_of(v) for v in values.values)
    return ast.Attribute(
        name=name.text, comparison=comparison, value=value, span=name.span.cover(end),
        name_span=name.span, value_span=spans[0] if len(spans) == 1 else spans[0].cover(spans[-1]),
    )  # fmt: skip


def check_non_empty(name: Name, op: Op, values: ValueList) -> None:
    if not values.values:
        examples = {"IN": '("US", "CA")', "CONTAINS": '("a", "b")', "LIST": '("a", "b")'}
        fail(
            UnsupportedError,
            "an empty list matches nobody (or everybody), and Braze has no filter for it",
            values.open_span.cover(values.span),
            "empty list",
            f"give at least one value: `{render_name(name.text)} {op.text} "
            f"{examples.get(op.key, '(...)')}`",
            code="empty-list",
        )


def array_item(name: Name, op: Op, value: Token | Duration) -> str | ast.Param:
    if isinstance(value, Token) and value.type == "STRING":
        return decode_string(value)
    if isinstance(value, Token) and value.type == "PARAM":
        return ast.Param(value[1:], 1, token_span(value))
    shown = quote(str(value)) if isinstance(value, Token) else '"..."'
    fail(
        AudienceTypeError,
        "array attributes hold strings, so `contains` takes a string",
        value_span_of(value),
        f"found {describe_value(value)}",
        f"write `{render_name(name.text)} {op.text} {shown}`",
        code="array-item-not-string",
    )


def scalar_value(name: Name, op: Op, value: Token | Duration) -> Any:
    if isinstance(value, Token):
        if value.type == "STRING":
            return decode_string(value)
        if value.type == "NUMBER":
            return number_value(value)
        if value.type in ("TRUE", "FALSE"):
            return value.type == "TRUE"
        if value.type == "PARAM":
            return ast.Param(value[1:], 1, token_span(value))
    fail(
        AudienceTypeError,
        "`in` takes strings, numbers or booleans",
        value_span_of(value),
        f"found {describe_value(value)}",
        f'write e.g. `{render_name(name.text)} {op.text} ("US", "CA")`',
        code="in-value-type",
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
_EQUALITY = {"EQ": C.EQUALS, "NE": C.NOT_EQUAL}
_SCALAR = {**_EQUALITY, **_ORDER}  # numbers and parameters
_SYMBOL = {"EQ": "=", "NE": "!=", "GT": ">", "GE": ">=", "LT": "<", "LE": "<="}


def _bare(value: Duration) -> str:
    days = value.days
    count = f"${days.name}" if isinstance(days, ast.Param) else str(days)
    return f"{count} day" if days == 1 else f"{count} days"


def comparison_filter(name: Name, op: Op, value: Token | Duration) -> ast.Attribute:
    """``name op value`` for the comparison operators (=, !=, <, <=, >, >=)."""
    value_span = value_span_of(value)

    def make(comparison: ast.Comparison, payload: ast.Value) -> ast.Attribute:
        return ast.Attribute(
            name=name.text, comparison=comparison, value=payload,
            span=name.span.cover(value_span), name_span=name.span, value_span=value_span,
        )  # fmt: skip

    if isinstance(value, Duration):
        comparison = _RELATIVE.get((op.key, value.future))
        if comparison is None:
            _refuse_duration(name, op, value)
        return make(comparison, value.days)
    kind = value.type
    if kind == "PARAM":
        return make(_SCALAR[op.key], ast.Param(value[1:], 1, token_span(value)))
    if kind == "NUMBER":
        return make(_SCALAR[op.key], number_value(value))
    if kind == "STRING":
        text = decode_string(value)  # a bad escape is reported before a wrong operator
        if op.key in _EQUALITY:
            return make(_EQUALITY[op.key], text)
    elif kind == "DATETIME":
        text = datetime_text(value)  # an impossible date before a wrong operator
        if op.key in _INSTANT:
            return make(_INSTANT[op.key], text)
    elif kind in ("TRUE", "FALSE") and op.key in _EQUALITY:
        return make(_EQUALITY[op.key], kind == "TRUE")
    _refuse(name, op, value)


def _refuse_duration(name: Name, op: Op, value: Duration) -> NoReturn:
    """The error for a duration compared with an operator Braze has no filter for."""
    shown_name = render_name(name.text)
    count = days_text(value)
    if op.key in ("LE", "GE"):
        message = (
            f"`{op.text}` with a duration has no Braze equivalent: Braze compares "
            "relative times strictly, in whole days"
        )
        if op.key == "LE":
            edge = "from now" if value.future else "ago"
            hint = (
                f"write `{shown_name} < {count}`, which leaves out the instant "
                f"exactly {_bare(value)} {edge}"
            )
        else:
            edge = "from now" if value.future else "ago"
            hint = (
                f"write `{shown_name} > {count}`, which leaves out the instant exactly "
                f"{_bare(value)} {edge}"
            )
        code = "inclusive-relative-time"
    else:
        message = f"`{op.text}` with a duration has no Braze equivalent"
        hint = (
            "Braze has no filter for an exact number of days; compare with `<` (less "
            f"than {_bare(value)} {'from now' if value.future else 'ago'}) or `>` "
            "(more than that)"
        )
        code = "relative-time-equality"
    fail(UnsupportedError, message, op.span, "no exact Braze comparison", hint, code=code)


def _refuse(name: Name, op: Op, value: Token) -> NoReturn:
    """The error for a value compared with an operator that means nothing for its kind."""
    shown_name = render_name(name.text)
    kind = value.type
    if kind == "DATETIME":
        text = datetime_text(value)
        if op.key in ("GE", "LE"):
            word = "after" if op.key == "GE" else "before"
            fail(
                UnsupportedError,
                f"`{op.text}` with a date-time has no Braze equivalent: `{word}` is strict",
                op.span,
                "no exact Braze comparison",
                f"write `{shown_name} {word} {text}` (which leaves out {text} itself), "
                f"or the instant just {'before' if word == 'after' else 'after'} it",
                code="inclusive-date-time",
            )
        fail(
            UnsupportedError,
            f"Braze cannot compare a date-time with `{op.text}`",
            op.span,
            "no Braze comparison",
            f"write a range: `{shown_name} after ... and {shown_name} before ...`",
            code="date-time-comparison",
        )
    if kind in ("TRUE", "FALSE"):
        fail(
            AudienceTypeError,
            f"`{op.text}` compares numbers, not booleans",
            token_span(value),
            "a boolean",
            f"booleans are compared with `=` or `!=`, e.g. `{shown_name} = {str(value).lower()}`",
            code="ordered-boolean",
        )
    if kind == "STRING":
        fail(
            AudienceTypeError,
            f"`{op.text}` compares numbers or date-times, not strings",
            token_span(value),
            "a string",
            "Braze has no ordering of strings; use `=`, `in (...)` or a regex `~ /.../`",
            code="ordered-string",
        )
    if kind == "NULL":
        fix = {"EQ": "is null", "NE": "is not null"}.get(op.key)
        fail(
            AudienceSyntaxError,
            "`null` is not a value to compare with",
            token_span(value),
            "null",
            f"to test whether the attribute is set write `{shown_name} {fix}`"
            if fix
            else f"to test whether the attribute is set write `{shown_name} is null` or "
            f"`{shown_name} is not null`",
            code="null-comparison",
        )
    # REGEX
    fail(
        AudienceTypeError,
        f"a regex is matched with `~`, not `{op.text}`",
        op.span,
        "not a regex operator",
        {"EQ": f"write `{shown_name} ~ {value}`", "NE": f"write `{shown_name} !~ {value}`"}.get(
            op.key, "a regex matches or not: `~` or `!~`; it has no order"
        ),
        code="regex-with-comparison",
    )
