"""The words people use for comparisons: ``x more than 30 days ago``, ``x in the last 7
days``, ``x starts with "a"``, ``x is one of [...]``. Each phrase becomes the one filter
that means exactly the same as its symbolic form, or an error whose hint says what the
nearest rule leaves out.

The words are not reserved: they reach the builder as names, and the tables here say
what each phrase means (and suggest the nearest phrase for a misspelt one).
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Any, NoReturn

from lark import Token

from audience_dsl.errors import AudienceSyntaxError, AudienceTypeError, UnsupportedError
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.comparisons import comparison_filter, list_filter
from audience_dsl.language.literals import (
    decode_string,
    describe_value,
    quote,
    value_span_of,
)
from audience_dsl.language.names import CALENDAR_UNITS, DAY_UNITS, SUB_DAY_UNITS, render_name
from audience_dsl.language.parts import Duration, Name, Op, ValueList, fail, token_span, tokens_span
from audience_dsl.source import Span

#: Comparison phrases (lower case words) and the operator each stands for.
#: STARTS/ENDS are regex matches, IN an OR of equals, CONTAINS an array's includes_value.
WORD_OPERATORS: dict[tuple[str, ...], str] = {
    ("more", "than"): "GT",
    ("greater", "than"): "GT",
    ("over",): "GT",
    ("above",): "GT",
    ("less", "than"): "LT",
    ("fewer", "than"): "LT",
    ("under",): "LT",
    ("below",): "LT",
    ("at", "least"): "GE",
    ("at", "most"): "LE",
    ("equals",): "EQ",
    ("equal", "to"): "EQ",
    ("starts", "with"): "STARTS",
    ("begins", "with"): "STARTS",
    ("startswith",): "STARTS",
    ("starts_with",): "STARTS",
    ("ends", "with"): "ENDS",
    ("endswith",): "ENDS",
    ("ends_with",): "ENDS",
    ("has",): "CONTAINS",
    ("older", "than"): "GT",
    ("newer", "than"): "LT",
    ("younger", "than"): "LT",
    ("one", "of"): "IN",
}

#: Phrases after `does not` (and `not`): `x does not start with "a"`.
NOT_WORD_OPERATORS: dict[tuple[str, ...], str] = {
    **WORD_OPERATORS,
    ("start", "with"): "STARTS",
    ("begin", "with"): "STARTS",
    ("end", "with"): "ENDS",
    ("have",): "CONTAINS",
    ("equal",): "EQ",
    ("equal", "to"): "EQ",
}

#: Phrases that follow `is` only.
IS_WORD_OPERATORS: dict[tuple[str, ...], str] = {
    ("none", "of"): "NONE_OF",
    **{words: key for words, key in WORD_OPERATORS.items() if key not in ("CONTAINS",)},
}

#: The words of other operators, for did-you-mean on a misspelt one.
_KNOWN_WORDS = sorted(
    {" ".join(words) for words in WORD_OPERATORS}
    | {
        "contains",
        "includes",
        "matches",
        "exists",
        "within",
        "after",
        "before",
        "between",
        "in",
        "is",
    }
)

_SYMBOLS = {"GT": ">", "LT": "<", "GE": ">=", "LE": "<=", "EQ": "=", "NE": "!="}

#: Words naming a window of time: in the last/past/next N days.
_PAST_WORDS = {"last", "past", "previous"}
_FUTURE_WORDS = {"next", "coming"}

_REGEX_SPECIAL = set("\\^$.|?*+()[]{}/")


def escape_regex(text: str) -> str:
    """``text`` as a regex that matches it literally (in Braze's PCRE and in Python's re)."""
    return "".join("\\" + ch if ch in _REGEX_SPECIAL else ch for ch in text)


def _span_of(tokens: list[Token]) -> Span:
    return tokens_span(tokens[0], tokens[-1])


def _words(tokens: list[Token]) -> tuple[str, ...]:
    return tuple(str(t).lower() for t in tokens)


def unknown_words(
    name: Name, tokens: list[Token], value: Any, after_is: bool, prefix: str = ""
) -> NoReturn:
    """Fail for a phrase that is not an operator, suggesting the closest one; ``prefix``
    is what stands before it (`is`, `is not`, `does not`), kept in the suggestion."""
    written = " ".join(str(t) for t in tokens)
    spelled = written.lower()
    known = _KNOWN_WORDS + (["any of", "none of"] if after_is else [])
    if prefix and not after_is:
        known = sorted({" ".join(words) for words in NOT_WORD_OPERATORS})
    close = difflib.get_close_matches(spelled, known, n=1, cutoff=0.7)
    shown = render_name(name.text) + (f" {prefix}" if prefix else "")
    if after_is:
        message = (
            f"`{prefix} {written}` is not a comparison: `is` takes a value, true, false, null, "
            "blank, set, or `any of` / `none of` / `one of` a list"
        )
    elif len(tokens) == 1 and not close and not prefix:
        message = f"two names in a row: `{name.text}` and `{written}`"
    else:
        message = f"`{written}` is not an operator"
    if close:
        proposal = f"{shown} {close[0]} {_value_text(value)}"
        hint = (
            f"did you mean `{proposal}`?"
            if _compiles(proposal)
            else f"did you mean `{shown} {close[0]} ...`?"
        )
        code = "misspelt-operator"
    elif len(tokens) == 1 and not after_is and not prefix:
        hint = (
            "join conditions with `and` or `or`, or quote a string value; comparisons are "
            "written `=`, `<`, `contains`, `starts with`, `is any of (...)`"
        )
        code = "two-names"
    else:
        hint = (
            "comparisons are written `=`, `!=`, `<`, `>`, `more than`, `less than`, "
            "`starts with`, `ends with`, `contains`, `is one of (...)`"
        )
        code = "unknown-operator-words"
    fail(AudienceSyntaxError, message, _span_of(tokens), "not an operator", hint, code=code)


def _value_text(value: Any) -> str:
    """A value (or list) as the rule wrote it, for a suggestion."""
    if isinstance(value, Token):
        return str(value)
    if (
        isinstance(value, ValueList)
        and isinstance(value.values, tuple)
        and all(isinstance(item, Token) for item in value.values)
    ):
        return "(" + ", ".join(str(item) for item in value.values) + ")"
    return "..."


def suggest_operator(word: str) -> str | None:
    """The operator word closest to a misspelt one (`exsits` -> `exists`), if any."""
    close = difflib.get_close_matches(word.lower(), [*_KNOWN_WORDS, "exists"], n=1, cutoff=0.75)
    return close[0] if close else None


def _compiles(text: str) -> bool:
    from audience_dsl.language.parser import parse_expr
    from audience_dsl.source import Source

    try:
        parse_expr(Source(text))
    except Exception:
        return False
    return True


def not_worded(name: Name, tokens: list[Token], value: Any, prefix: str) -> Any:
    """``x does not start with "a"``: like `does not match` and `does not contain`, Braze's
    negative comparison (`does_not_match_regex`, `does_not_include_value`, `not_equal`);
    for a comparison that has none (`does not exceed`...), the negation (see Negation)."""
    key = NOT_WORD_OPERATORS.get(_words(tokens))
    if key is None:
        unknown_words(name, tokens, value, after_is=False, prefix=prefix)
    written = f"{prefix} " + " ".join(str(t) for t in tokens)
    if key == "EQ":
        return comparison_filter(name, Op("NE", False, _span_of(tokens), written), value)
    positive = _worded(name, tokens, value, False, key, written)
    if isinstance(positive, ast.Attribute) and positive.comparison in _NEGATIVE:
        return replace(positive, comparison=_NEGATIVE[positive.comparison])
    return ast.Not(operand=positive, span=positive.span)


_NEGATIVE = {
    C.MATCHES_REGEX: C.DOES_NOT_MATCH_REGEX,
    C.INCLUDES_VALUE: C.DOES_NOT_INCLUDE_VALUE,
}


def worded(name: Name, tokens: list[Token], value: Any, negated: bool, after_is: bool) -> Any:
    """``x <words> value``: the filter a comparison phrase stands for."""
    table = IS_WORD_OPERATORS if after_is else WORD_OPERATORS
    found = table.get(_words(tokens))
    if found is None:
        prefix = "is not" if negated else "is" if after_is else ""
        unknown_words(name, tokens, value, after_is, prefix)
    key: str = found
    written = ("is not " if negated else "is " if after_is else "") + " ".join(
        str(t) for t in tokens
    )
    return _worded(name, tokens, value, negated, key, written)


def _worded(
    name: Name, tokens: list[Token], value: Any, negated: bool, key: str, written: str
) -> Any:
    op_span = _span_of(tokens)
    if key in ("IN", "NONE_OF"):
        return _listed(name, key, negated, value, op_span, written)
    if isinstance(value, ValueList):
        fail(
            AudienceTypeError,
            f"`{written}` takes one value, not a list",
            value.span,
            "a list",
            f"for several values write `{render_name(name.text)} is one of (...)`"
            if key == "EQ"
            else "join one condition per value with `or`",
            code="list-after-single-value-operator",
        )
    if key in ("STARTS", "ENDS"):
        result: Any = affix(name, key, value, written)
    elif key == "CONTAINS":
        from audience_dsl.language.comparisons import array_item

        op = Op("CONTAINS", False, op_span, written)
        item = array_item(name, op, value)
        result = ast.Attribute(
            name=name.text, comparison=C.INCLUDES_VALUE, value=item,
            span=name.span.cover(value_span_of(value)), name_span=name.span,
            value_span=value_span_of(value),
        )  # fmt: skip
    elif key == "EQ" and negated:
        result = comparison_filter(name, Op("NE", False, op_span, written), value)
        return result
    else:
        result = comparison_filter(name, Op(key, False, op_span, written), value)
    if negated:
        return ast.Not(operand=result, span=result.span)
    return result


def _listed(name: Name, key: str, negated: bool, value: Any, op_span: Span, written: str) -> Any:
    from audience_dsl.language.comparisons import check_non_empty, scalar_value
    from audience_dsl.language.literals import value_span_of as vspan

    if key == "NONE_OF":
        if negated:
            fail(
                AudienceSyntaxError,
                "`is not none of` is a double negative",
                op_span,
                "double negative",
                f"write `{render_name(name.text)} is any of (...)`",
                code="double-negative-list",
            )
        if isinstance(value, Token) and value.type == "PARAM":
            value = ValueList(
                ast.Param(value[1:], 1, token_span(value)), token_span(value), token_span(value)
            )
        elif not isinstance(value, ValueList) and not (
            isinstance(value, Token) and value.type == "STRING"
        ):
            fail(
                AudienceTypeError,
                "`is none of` takes strings",
                vspan(value),
                f"found {describe_value(value)}",
                'write the values as strings, e.g. ("a", "b")',
                code="list-of-strings-expected",
            )
        return list_filter(name, C.IS_NONE_OF, value, op_span, "is none of")
    # `is one of`: the same as `in`.
    op = Op("IN", negated, op_span, written)
    if isinstance(value, Token) and value.type == "PARAM":
        param = ast.Param(value[1:], 1, token_span(value))
        return ast.In(
            name=name.text, values=param, negated=negated,
            span=name.span.cover(token_span(value)), name_span=name.span,
        )  # fmt: skip
    if not isinstance(value, ValueList):
        items: tuple[Any, ...] = (value,)
        span = vspan(value)
    else:
        assert not isinstance(value.values, ast.Param)
        check_non_empty(name, op, value)
        items = value.values
        span = value.span
    scalars = tuple(scalar_value(name, op, v) for v in items)
    return ast.In(
        name=name.text, values=scalars, negated=negated, span=name.span.cover(span),
        name_span=name.span, value_spans=tuple(vspan(v) for v in items),
    )  # fmt: skip


def affix(name: Name, key: str, value: Any, written: str) -> ast.Attribute:
    """``x starts with "v"`` / ``x ends with "v"``: an anchored, escaped regex match."""
    if not (isinstance(value, Token) and value.type == "STRING"):
        fail(
            AudienceTypeError,
            f"`{written}` takes a string",
            value_span_of(value),
            f"found {describe_value(value)}",
            f'write the text in quotes, e.g. `{render_name(name.text)} {written} "abc"`'
            if not (isinstance(value, Token) and value.type == "PARAM")
            else f"a parameter cannot be escaped here; write `{render_name(name.text)} ~ "
            f"{value}` with a regex as its value",
            code="affix-needs-string",
        )
    text = decode_string(value)
    if not text:
        fail(
            UnsupportedError,
            f'`{written} ""` takes every string, so it says nothing',
            token_span(value),
            "empty text",
            f"to select users who have a value write `{render_name(name.text)} exists` "
            "(which also takes values that are not strings)",
            code="empty-affix",
        )
    pattern = "^" + escape_regex(text) if key == "STARTS" else escape_regex(text) + "$"
    return ast.Attribute(
        name=name.text, comparison=C.MATCHES_REGEX, value=pattern,
        span=name.span.cover(token_span(value)), name_span=name.span,
        value_span=token_span(value),
    )  # fmt: skip


def period(name: Name, keyword: Token, words: list[Token], value: Any) -> ast.Attribute:
    """``x in the last 7 days``, ``x within the next 2 weeks``, ``x in the past day``."""
    shown = render_name(name.text)
    meaningful = [t for t in words if str(t).lower() != "the"]
    where = _span_of(words)
    unit: Token | None = None
    if value is None and len(meaningful) >= 2:
        unit = meaningful[-1]
        meaningful = meaningful[:-1]
    direction = str(meaningful[0]).lower() if len(meaningful) == 1 else ""
    if direction not in _PAST_WORDS | _FUTURE_WORDS:
        close = difflib.get_close_matches(
            " ".join(str(t).lower() for t in meaningful),
            sorted(_PAST_WORDS | _FUTURE_WORDS),
            n=1,
            cutoff=0.6,
        )
        fail(
            AudienceSyntaxError,
            f"expected `the last`, `the past` or `the next` after `{keyword}`",
            where,
            "not a window of time",
            (f"did you mean `{keyword} the {close[0]} ...`? " if close else "")
            + f"e.g. `{shown} {keyword} the last 7 days` or `{shown} {keyword} the next 7 days`",
            code="unknown-time-window",
        )
    future = direction in _FUTURE_WORDS
    if unit is not None:
        word = str(unit).lower()
        if word in SUB_DAY_UNITS:
            fail(
                UnsupportedError,
                f"Braze measures relative times in whole days, not in {word}",
                token_span(unit),
                "a unit shorter than a day",
                f"write a number of days, e.g. `{shown} {keyword} the {direction} 1 day`",
                code="sub-day-unit",
            )
        if word in CALENDAR_UNITS:
            fail(
                UnsupportedError,
                f"`{unit}` is not a fixed number of days; Braze measures relative times in days",
                token_span(unit),
                "a calendar unit",
                f"write the number of days you mean, e.g. `{shown} {keyword} the {direction} "
                f"{CALENDAR_UNITS[word]} days`",
                code="calendar-unit",
            )
        if word not in ("day", "week"):
            fail(
                AudienceSyntaxError,
                f"expected a number of days after `{keyword} the {direction}`",
                token_span(unit),
                "not a duration",
                f"write e.g. `{shown} {keyword} the {direction} 7 days`",
                code="time-window-needs-duration",
            )
        days = DAY_UNITS[word]
        span = token_span(unit)
        duration = Duration(days, future, span, span)
    elif isinstance(value, Duration):
        if value.future != future and value.future:
            fail(
                AudienceSyntaxError,
                f"`{keyword} the {direction} ... from now` mixes the past and the future",
                value.span,
                "from now",
                f"write `{shown} {keyword} the next {_days(value)}` for the future, or "
                f"`{shown} {keyword} the {direction} {_days(value)}` for the past",
                code="time-window-mixed-direction",
            )
        duration = Duration(value.days, future, value.span, value.count_span)
    else:
        fail(
            AudienceSyntaxError,
            f"expected a number of days after `{keyword} the {direction}`",
            value_span_of(value) if value is not None else where,
            f"found {describe_value(value)}" if value is not None else "no duration",
            f"write e.g. `{shown} {keyword} the {direction} 7 days`",
            code="time-window-needs-duration",
        )
    op = Op("LT", False, token_span(keyword).cover(where), f"{keyword} the {direction}")
    return comparison_filter(name, op, duration)


def _days(value: Duration) -> str:
    days = value.days
    count = f"${days.name}" if isinstance(days, ast.Param) else str(days)
    return f"{count} day" if days == 1 else f"{count} days"


def relative_after_before(name: Name, keyword: Token, value: Duration) -> ast.Attribute:
    """``x before 30 days ago``, ``x after 5 days from now``; the other two are refused."""
    shown = render_name(name.text)
    word = str(keyword).lower()
    count = _days(value)
    op_span = token_span(keyword)
    if word == "before" and not value.future:
        return comparison_filter(name, Op("GT", False, op_span, str(keyword)), value)
    if word == "after" and value.future:
        return comparison_filter(name, Op("GT", False, op_span, str(keyword)), value)
    if word == "after":
        fail(
            UnsupportedError,
            f"`{keyword} {value.written or count}` also takes every time in the future, and no "
            "Braze filter "
            "selects both",
            op_span.cover(value.span),
            "past and future",
            f"write `{shown} < {count}` (less than {count} ago), which leaves out every time "
            "in the future",
            code="after-days-ago",
        )
    fail(
        UnsupportedError,
        f"`{keyword} {value.written or count}` also takes every time in the past, and no "
        "Braze filter "
        "selects both",
        op_span.cover(value.span),
        "past and future",
        f"write `{shown} < {count} from now`, which leaves out every time in the past",
        code="before-days-from-now",
    )


def is_word(name: Name, target: Token, negated: bool, span: Span) -> ast.Attribute | None:
    """``x is blank`` / ``x is empty`` (and ``is not``): Braze's words for the existence
    filters; None for any other word."""
    if str(target).lower() not in ("blank", "empty"):
        return None
    return ast.Attribute(
        name=name.text,
        comparison=C.EXISTS if negated else C.DOES_NOT_EXIST,
        span=span,
        name_span=name.span,
    )


def quoted(word: Token) -> str:
    return quote(str(word))
