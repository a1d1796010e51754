"""The builder: one callback per grammar rule, called by Lark at every reduction, making
AST nodes straight from the tokens."""

from __future__ import annotations

import difflib
from typing import Any, NoReturn

from lark import Token

from audience_dsl.errors import (
    AudienceSyntaxError,
    AudienceTypeError,
    UnsupportedError,
)
from audience_dsl.language import ast, phrasings
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.comparisons import (
    array_item,
    check_non_empty,
    comparison_filter,
    expect_word,
    list_filter,
    scalar_value,
)
from audience_dsl.language.literals import (
    datetime_text,
    decode_string,
    describe_value,
    is_value,
    number_value,
    plural_days,
    quote,
    unescape_backticks,
    value_span_of,
    words_of,
)
from audience_dsl.language.names import (
    CALENDAR_UNITS,
    DAY_UNITS,
    SUB_DAY_UNITS,
    render_name,
)
from audience_dsl.language.parts import (
    Definition,
    Duration,
    Name,
    Op,
    Program,
    ValueList,
    cover_spans,
    expr_span,
    fail,
    flatten_group,
    token_span,
    tokens_span,
)


def _calendar_days(count: Token, unit_word: str) -> int:
    """Roughly the days of ``count`` months or years, for an example in a hint."""
    per = CALENDAR_UNITS[unit_word]
    text = str(count)
    return per * int(text) if text.isdigit() and 0 < int(text) < 1000 else per


class Builder:
    """Callbacks for each grammar rule, called by Lark at every reduction."""

    def start(self, items: list[Any]) -> Program:
        return Program(tuple(items[:-1]), items[-1])

    def definition(self, items: list[Any]) -> Definition:
        _let, name, _eq, expr, _semi = items
        return Definition(name, expr)

    # -- boolean structure --

    def or_expr(self, items: list[Any]) -> ast.Node:
        return flatten_group(ast.Or, items)

    def and_expr(self, items: list[Any]) -> ast.Node:
        return flatten_group(ast.And, items)

    def negation(self, items: list[Any]) -> ast.Node:
        operator, operand = items
        return ast.Not(operand=operand, span=cover_spans(token_span(operator), expr_span(operand)))

    def group(self, items: list[Any]) -> Any:
        return items[1]

    # -- pieces --

    def attr(self, items: list[Token]) -> Name:
        (token,) = items
        text = unescape_backticks(token) if token.type == "BQNAME" else str(token)
        return Name(text, token_span(token), token.type == "BQNAME")

    def compare_op(self, items: list[Token]) -> Op:
        (token,) = items
        key = {"EQEQ": "EQ", "LTGT": "NE"}.get(token.type, token.type)
        return Op(key, False, token_span(token), str(token))

    def match_op(self, items: list[Token]) -> Op:
        negated = items[0].type in ("NTILDE", "NOT", "DOES")
        return Op(
            "MATCH", negated, tokens_span(items[0], items[-1]), words_of(items)
        )

    def contains_op(self, items: list[Token]) -> Op:
        negated = items[0].type in ("NOT", "DOES")
        return Op(
            "CONTAINS", negated, tokens_span(items[0], items[-1]), words_of(items)
        )

    def exists_op(self, items: list[Token]) -> Op:
        negated = items[0].type in ("NOT", "DOES")
        return Op(
            "EXISTS", negated, tokens_span(items[0], items[-1]), words_of(items)
        )

    def compare_or_time(self, items: list[Any]) -> Op:
        (item,) = items
        if isinstance(item, Op):
            return item
        return Op(item.type, False, token_span(item), str(item))

    def subscription_channel(self, items: list[Token]) -> Token:
        return items[0]

    def is_target(self, items: list[Token]) -> Token:
        return items[0]

    def duration(self, items: list[Token]) -> Duration:
        count, unit, *direction = items
        future = bool(direction) and direction[0].type == "FROM"
        unit_word = unit.value.lower()
        count_span = token_span(count)
        span = tokens_span(count, items[-1])
        if unit_word in SUB_DAY_UNITS:
            fail(
                UnsupportedError,
                f"Braze measures relative times in whole days, not in {unit_word}",
                token_span(unit),
                "a unit shorter than a day",
                "write a number of days, e.g. `1 day`",
                code="sub-day-unit",
            )
        if unit_word in CALENDAR_UNITS:
            fail(
                UnsupportedError,
                f"`{unit}` is not a fixed number of days; Braze measures relative times in days",
                token_span(unit),
                "a calendar unit",
                "write the number of days you mean, e.g. "
                f"`{_calendar_days(count, unit_word)} days`",
                code="calendar-unit",
            )
        if unit_word not in DAY_UNITS:
            suggestion = difflib.get_close_matches(unit_word, list(DAY_UNITS), n=1)
            if suggestion:
                message = f"expected a unit (`days` or `weeks`) after `{count}`"
                hint = f"did you mean `{count} {suggestion[0]}`?"
            else:
                message = f"expected `and`, `or` or a unit (`days`, `weeks`) after `{count}`"
                hint = "conditions are joined with `and` or `or`; a duration is written `2 days`"
            fail(
                AudienceSyntaxError,
                message,
                token_span(unit),
                f"found the name `{unit}`",
                hint,
                code="unknown-duration-unit",
            )
        factor = DAY_UNITS[unit_word]
        if count.type == "PARAM":
            return Duration(
                ast.Param(count[1:], factor, count_span), future, span, count_span, words_of(items)
            )
        number = number_value(count)
        if isinstance(number, float):
            whole = int(number * factor)
            fail(
                UnsupportedError,
                "Braze counts relative times in whole days",
                count_span,
                "a fraction",
                f"write a whole number of days, e.g. `{plural_days(whole)}` or "
                f"`{plural_days(whole + 1)}`",
                code="fractional-days",
            )
        if number < 0:
            fail(
                UnsupportedError,
                "a duration cannot be negative",
                count_span,
                "a negative count",
                "for a time in the future write `5 days from now`",
                code="negative-duration",
            )
        return Duration(number * factor, future, span, count_span, words_of(items))

    def value_list(self, items: list[Any]) -> ValueList:
        if len(items) == 1:
            param = items[0]
            return ValueList(
                ast.Param(param[1:], 1, token_span(param)), token_span(param), token_span(param)
            )
        values = tuple(item for item in items if not isinstance(item, Token) or is_value(item))
        return ValueList(
            values, tokens_span(items[0], items[-1]), token_span(items[0])
        )

    # -- conditions --

    def bare(self, items: list[Any]) -> ast.Attribute:
        (name,) = items
        return ast.Attribute(
            name=name.text,
            comparison=C.EQUALS,
            value=True,
            span=name.span,
            name_span=name.span,
            bare=not name.quoted,
        )

    def compare(self, items: list[Any]) -> ast.Attribute:
        name, op, value = items
        return comparison_filter(name, op, value)

    def is_(self, items: list[Any]) -> ast.Attribute:
        name, _is, *rest = items
        negated = len(rest) == 2
        target: Token = rest[-1]
        span = name.span.cover(token_span(target))
        kind = target.type
        word = target.value.lower()
        if kind in ("TRUE", "FALSE", "PARAM"):
            value: ast.Value = (
                ast.Param(target[1:], 1, token_span(target))
                if kind == "PARAM"
                else (kind == "TRUE")
            )
            comparison = C.NOT_EQUAL if negated else C.EQUALS
            return ast.Attribute(
                name=name.text, comparison=comparison, value=value, span=span,
                name_span=name.span, value_span=token_span(target),
            )  # fmt: skip
        blank = phrasings.is_word(name, target, negated, span) if kind == "NAME" else None
        if blank is not None:
            return blank
        if kind in ("STRING", "NUMBER", "DATETIME"):
            key, text = ("NE", "is not") if negated else ("EQ", "is")
            return comparison_filter(name, Op(key, False, token_span(_is), text), target)
        if kind == "NULL" or (kind == "NAME" and word == "set"):
            exists = negated if kind == "NULL" else not negated
            return ast.Attribute(
                name=name.text,
                comparison=C.EXISTS if exists else C.DOES_NOT_EXIST,
                span=span,
                name_span=name.span,
            )
        shown = quote(target.value) if kind == "NAME" else str(target)
        close = difflib.get_close_matches(
            word, ["blank", "empty", "set", "null", "true", "false"], n=1, cutoff=0.75
        )
        if kind == "NAME" and close:
            fail(
                AudienceSyntaxError,
                f"`is {target}` is not a comparison",
                token_span(target),
                "not a known word",
                f"did you mean `{render_name(name.text)} is{' not' if negated else ''} "
                f"{close[0]}`? (a string is quoted: `{render_name(name.text)} "
                f"is{' not' if negated else ''} {quote(target.value)}`)",
                code="misspelt-is-word",
            )
        if kind == "NAME" and word in {s.value for s in ast.State}:
            extra = f"; for the subscription filter write `push is {word}` or `email is {word}`"
        else:
            extra = ""
        fail(
            AudienceSyntaxError,
            "`is` takes a value (a string in quotes), true, false, null, blank or set",
            token_span(target),
            f"found {describe_value(target)}",
            f"strings are quoted: `{render_name(name.text)} is{' not' if negated else ''} "
            f"{shown}`{extra}",
            code="unquoted-string-after-is",
        )

    def match(self, items: list[Any]) -> ast.Attribute:
        name, op, token = items
        comparison = C.DOES_NOT_MATCH_REGEX if op.negated else C.MATCHES_REGEX
        if isinstance(token, Duration) or token.type not in ("PARAM", "REGEX", "STRING"):
            fail(
                AudienceTypeError,
                f"`{op.text}` matches a regex, written `/.../` or as a string",
                value_span_of(token),
                f"found {describe_value(token)}",
                f"write `{render_name(name.text)} {op.text} /{token}/`"
                if isinstance(token, Token)
                else "",
                code="regex-expected",
            )
        if token.type == "PARAM":
            value: ast.Value = ast.Param(token[1:], 1, token_span(token))
        elif token.type == "REGEX":
            value = token[1:-1].replace("\\/", "/")
        else:
            value = decode_string(token)
        return ast.Attribute(
            name=name.text, comparison=comparison, value=value,
            span=name.span.cover(token_span(token)), name_span=name.span,
            value_span=token_span(token),
        )  # fmt: skip

    def contains(self, items: list[Any]) -> ast.Attribute:
        name, op, value = items
        comparison = C.DOES_NOT_INCLUDE_VALUE if op.negated else C.INCLUDES_VALUE
        text = array_item(name, op, value)
        return ast.Attribute(
            name=name.text, comparison=comparison, value=text,
            span=name.span.cover(value_span_of(value)), name_span=name.span,
            value_span=value_span_of(value),
        )  # fmt: skip

    def contains_list(self, items: list[Any]) -> ast.ContainsAny | ast.ContainsAll:
        name, contains, quantifier, values = items
        op = Op(
            "CONTAINS",
            False,
            tokens_span(contains, quantifier),
            words_of(items[1:3]),
        )
        cls = ast.ContainsAny if quantifier.type == "ANY" else ast.ContainsAll
        span = name.span.cover(values.span)
        if isinstance(values.values, ast.Param):
            return cls(name=name.text, values=values.values, span=span, name_span=name.span)
        check_non_empty(name, op, values)
        texts: Any = tuple(array_item(name, op, v) for v in values.values)
        spans = tuple(value_span_of(v) for v in values.values)
        return cls(name=name.text, values=texts, span=span, name_span=name.span, value_spans=spans)

    def list_or_one(self, items: list[Any]) -> Any:
        return items[0]

    def is_any_of(self, items: list[Any]) -> ast.Attribute:
        name, _is, _any, of, values = items
        expect_word(of, "of", "`is any of (...)`")
        return list_filter(
            name, C.IS_ANY_OF, values, tokens_span(_is, of), "is any of"
        )

    def includes_any_of(self, items: list[Any]) -> ast.Attribute:
        name, keyword, _any, of, values = items
        expect_word(of, "of", f"`{keyword} any of (...)`")
        span = tokens_span(keyword, of)
        return list_filter(name, C.INCLUDES_VALUE, values, span, f"{keyword} any of")

    def exists(self, items: list[Any]) -> ast.Attribute:
        name, op = items
        return ast.Attribute(
            name=name.text,
            comparison=C.DOES_NOT_EXIST if op.negated else C.EXISTS,
            span=name.span.cover(op.span),
            name_span=name.span,
        )

    def is_words(self, items: list[Any]) -> Any:
        name, _is, *rest = items
        negated = rest[0].type == "NOT"
        words = rest[1:-1] if negated else rest[:-1]
        return phrasings.worded(name, words, rest[-1], negated, after_is=True)

    def words(self, items: list[Any]) -> Any:
        name, *words, value = items
        return phrasings.worded(name, words, value, False, after_is=False)

    def not_words(self, items: list[Any]) -> Any:
        name, *rest = items
        words = [t for t in rest[:-1] if t.type == "NAME"]
        prefix = " ".join(str(t) for t in rest[:-1] if t.type != "NAME").lower()
        return phrasings.not_worded(name, words, rest[-1], prefix)

    def value_or_list(self, items: list[Any]) -> Any:
        first = items[0]
        if len(items) == 1 and not (isinstance(first, Token) and first.type in ("LPAR", "LSQB")):
            return first
        values = tuple(item for item in items if not isinstance(item, Token) or is_value(item))
        return ValueList(
            values, tokens_span(items[0], items[-1]), token_span(items[0])
        )

    def period(self, items: list[Any]) -> ast.Node:
        name, *rest = items
        if rest[0].type == "IS":
            rest = rest[1:]
        negated = rest[0].type == "NOT"
        if negated:
            rest = rest[1:]
        keyword, *words = rest
        value = None
        if words and not (isinstance(words[-1], Token) and words[-1].type == "NAME"):
            value = words.pop()
        found = phrasings.period(name, keyword, words, value)
        if negated:
            return ast.Not(operand=found, span=name.span.cover(found.span or name.span))
        return found

    def within(self, items: list[Any]) -> ast.Attribute:
        name, *_is, keyword, value = items
        op = Op("WITHIN", False, token_span(keyword), str(keyword))
        if not isinstance(value, Duration):
            fail(
                AudienceTypeError,
                "`within` takes a duration",
                value_span_of(value),
                f"found {describe_value(value)}",
                f"e.g. `{render_name(name.text)} within 7 days`",
                code="within-needs-duration",
            )
        return comparison_filter(name, Op("LT", False, op.span, op.text), value)

    def after_before(self, items: list[Any]) -> ast.Attribute:
        name, *_is, keyword, value = items
        key = "GT" if keyword.type == "AFTER" else "LT"
        op = Op(key, False, token_span(keyword), str(keyword))
        if isinstance(value, Duration):
            return phrasings.relative_after_before(name, keyword, value)
        if value.type not in ("DATETIME", "PARAM"):
            fail(
                AudienceTypeError,
                f"`{keyword}` takes a date-time",
                token_span(value),
                f"found {describe_value(value)}",
                f"write a date-time, e.g. `{render_name(name.text)} {keyword} 2024-01-31`",
                code="date-time-expected-after-before",
            )
        if value.type == "PARAM":
            comparison = C.AFTER if key == "GT" else C.BEFORE
            return ast.Attribute(
                name=name.text, comparison=comparison,
                value=ast.Param(value[1:], 1, token_span(value)),
                span=name.span.cover(token_span(value)), name_span=name.span,
                value_span=token_span(value),
            )  # fmt: skip
        return comparison_filter(name, op, value)

    def in_(self, items: list[Any]) -> ast.In:
        name = items[0]
        negated = any(item.type == "NOT" for item in items[1:-1])
        values: ValueList = items[-1]
        op = Op(
            "IN", negated, tokens_span(items[1], items[-2]), words_of(items[1:-1])
        )
        span = name.span.cover(values.span)
        if isinstance(values.values, ast.Param):
            return ast.In(
                name=name.text, values=values.values, negated=negated, span=span,
                name_span=name.span,
            )  # fmt: skip
        check_non_empty(name, op, values)
        scalars = tuple(scalar_value(name, op, v) for v in values.values)
        spans = tuple(value_span_of(v) for v in values.values)
        return ast.In(
            name=name.text, values=scalars, negated=negated, span=span, name_span=name.span,
            value_spans=spans,
        )  # fmt: skip

    def between(self, items: list[Any]) -> ast.Between:
        name, keyword, low, _and, high = items
        op = Op("BETWEEN", False, token_span(keyword), str(keyword))
        bounds: list[int | float | ast.Param] = []
        for value in (low, high):
            if isinstance(value, Token) and value.type == "DATETIME":
                fail(
                    UnsupportedError,
                    "`between` is inclusive, and Braze compares date-times only strictly",
                    op.span,
                    "inclusive bounds on a date-time",
                    f"write `{render_name(name.text)} after {low} and "
                    f"{render_name(name.text)} before {high}` (both bounds left out)",
                    code="between-date-times",
                )
            if isinstance(value, Token) and value.type == "PARAM":
                bounds.append(ast.Param(value[1:], 1, token_span(value)))
            elif isinstance(value, Token) and value.type == "NUMBER":
                bounds.append(number_value(value))
            else:
                fail(
                    AudienceTypeError,
                    "`between` takes two numbers",
                    value_span_of(value),
                    f"found {describe_value(value)}",
                    f"e.g. `{render_name(name.text)} between 18 and 30`",
                    code="between-needs-numbers",
                )
        lo, hi = bounds
        if not isinstance(lo, ast.Param) and not isinstance(hi, ast.Param) and lo > hi:
            fail(
                AudienceTypeError,
                "the lower bound is above the upper bound, so nobody can match",
                tokens_span(low, high),
                "empty range",
                f"if you meant the values from {high} to {low}, write "
                f"`{render_name(name.text)} between {high} and {low}`",
                code="empty-range",
            )
        return ast.Between(
            name=name.text, low=lo, high=hi, span=name.span.cover(token_span(high)),
            name_span=name.span, value_spans=(token_span(low), token_span(high)),
        )  # fmt: skip

    # -- built-in filters --

    def subscription(self, items: list[Any]) -> ast.Subscription:
        channel_token, _is, *rest = items
        negated = len(rest) == 2
        target: Token = rest[-1]
        channel = ast.Channel.PUSH if channel_token.type.startswith("PUSH") else ast.Channel.EMAIL
        comparison = C.IS_NOT if negated else C.IS
        span = tokens_span(channel_token, target)
        if target.type == "PARAM":
            state: ast.State | ast.Param = ast.Param(target[1:], 1, token_span(target))
        else:
            word = decode_string(target) if target.type == "STRING" else str(target)
            states = [s.value for s in ast.State]
            if word.lower() not in states:
                close = difflib.get_close_matches(word.lower(), states, n=1, cutoff=0.5)
                fail(
                    AudienceSyntaxError,
                    f"unknown subscription state `{word}`",
                    token_span(target),
                    "not a subscription state",
                    (f"did you mean `{close[0]}`? " if close else "")
                    + "the states are opted_in, subscribed and unsubscribed",
                    code="unknown-subscription-state",
                )
            state = ast.State(word.lower())
        return ast.Subscription(channel=channel, comparison=comparison, state=state, span=span)

    def last_used_app_alone(self, items: list[Any]) -> NoReturn:
        (keyword,) = items
        word = str(keyword)
        fail(
            AudienceSyntaxError,
            f"`{word}` is a built-in filter, not an attribute name",
            token_span(keyword),
            "needs `after` or `before` and a date-time",
            "write e.g. `last_used_app after 2024-01-31T00:00:00Z`; a custom attribute of "
            f"that name is written in backticks: {render_name(word.lower())}",
            code="builtin-as-attribute",
        )

    def last_used_app(self, items: list[Any]) -> ast.LastUsedApp:
        keyword, op, value = items
        span = token_span(keyword).cover(value_span_of(value))
        if isinstance(value, Duration):
            fail(
                UnsupportedError,
                "Braze filters `last_used_app` only by a date-time, not by a relative time",
                value.span,
                "a relative time",
                "write a date-time, e.g. `last_used_app after 2024-01-31T00:00:00Z`",
                code="last-used-app-relative-time",
            )
        if op.key in ("GT", "AFTER"):
            comparison = C.AFTER
        elif op.key in ("LT", "BEFORE"):
            comparison = C.BEFORE
        else:
            fail(
                UnsupportedError,
                f"Braze filters `last_used_app` only with `after` or `before`, not `{op.text}`",
                op.span,
                "no such comparison",
                "write `last_used_app after <date-time>` or `last_used_app before <date-time>`",
                code="last-used-app-comparison",
            )
        if value.type == "PARAM":
            return ast.LastUsedApp(
                comparison=comparison, value=ast.Param(value[1:], 1, token_span(value)), span=span,
                value_span=token_span(value),
            )  # fmt: skip
        if value.type != "DATETIME":
            fail(
                AudienceTypeError,
                "`last_used_app` is compared with a date-time",
                token_span(value),
                f"found {describe_value(value)}",
                "write e.g. `last_used_app after 2024-01-31T00:00:00Z`",
                code="last-used-app-needs-date-time",
            )
        return ast.LastUsedApp(
            comparison=comparison,
            value=datetime_text(value),
            span=span,
            value_span=token_span(value),
        )
