"""Hypothesis strategies for property tests of code that uses audience rules.

Everything drawn is valid: rules compile (each attribute keeps one data type, ``not`` is
only put over conditions Braze can negate exactly), audiences pass
:func:`audience_dsl.validate`, and profiles fit their schema. Shrinking works on the
trees (they are built with :func:`hypothesis.strategies.recursive`), and rule text is
obtained by printing a drawn tree, so it shrinks with it.

>>> import audience_dsl
>>> from hypothesis import given
>>> from audience_dsl import strategies
>>> @given(strategies.rule_texts(max_leaves=5))
... def test_compiles(text):
...     audience_dsl.compile(text)
>>> test_compiles()

Needs the ``strategies`` extra (``pip install audience-dsl[strategies]``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from audience_dsl.check.schema import Schema
from audience_dsl.errors import AudienceWarning
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.ast import DataType as T
from audience_dsl.semantics import REFUSED
from audience_dsl.vocabulary import ALLOWED

__all__ = ["audiences", "profiles", "rule_texts", "rules", "schemas"]

#: Comparisons the language writes, for each type.
_WRITABLE = {kind: sorted(ALLOWED[kind]) for kind in T}
_INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@functools.cache
def _reserved() -> frozenset[str]:
    from audience_dsl.language.names import KEYWORDS
    from audience_dsl.vocabulary import DEFAULT_FIELDS

    return frozenset(KEYWORDS) | DEFAULT_FIELDS | {"set", "day", "days", "week", "weeks"}


def _plain(name: str) -> bool:
    return name not in _reserved()


_NAMES: st.SearchStrategy[str] = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    _plain
)


def _check_size(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidArgument(f"{name}={value!r} must be a whole number of at least {low}")


def schemas(*, min_size: int = 1, max_size: int = 8) -> st.SearchStrategy[Schema]:
    """Schemas of ``min_size`` to ``max_size`` attributes with plain names."""
    _check_size("min_size", min_size, 1)
    _check_size("max_size", max_size, min_size)
    return st.dictionaries(
        _NAMES, st.sampled_from(list(T)), min_size=min_size, max_size=max_size
    ).map(Schema)


def _value(kind: T, comparison: C) -> st.SearchStrategy[Any]:
    if comparison in (C.EXISTS, C.DOES_NOT_EXIST):
        return st.none()
    if comparison in ast.RELATIVE_DAYS:
        return st.integers(0, 3650)
    if comparison in (C.AFTER, C.BEFORE):
        return _INSTANTS.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if comparison in (C.IS_ANY_OF, C.IS_NONE_OF):
        words = st.text(max_size=6).filter(lambda s: "{{" not in s and "{%" not in s)
        return words | st.lists(words, min_size=1, max_size=3).map(tuple)
    if comparison in (C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX):
        return st.sampled_from(["^a", "b$", "[0-9]+", "x|y", "a.c", "\\d", "^$", "é"])
    if kind is T.NUMERIC:
        return st.integers(-(10**9), 10**9) | st.floats(
            -1e9, 1e9, allow_nan=False, allow_infinity=False
        ).map(lambda f: float(repr(f)))
    if kind is T.BOOLEAN:
        return st.booleans()
    return st.text(max_size=12).filter(lambda s: "{{" not in s and "{%" not in s)


@st.composite
def _leaf(draw: st.DrawFn, schema: Mapping[str, T], builtins: bool) -> ast.Node:
    if builtins and draw(st.integers(0, 9)) == 0:
        if draw(st.booleans()):
            return ast.Subscription(
                channel=draw(st.sampled_from(list(ast.Channel))),
                comparison=draw(st.sampled_from([C.IS, C.IS_NOT])),
                state=draw(st.sampled_from(list(ast.State))),
            )
        return ast.LastUsedApp(
            comparison=draw(st.sampled_from([C.AFTER, C.BEFORE])),
            value=draw(_value(T.TIME, C.AFTER)),
        )
    name = draw(st.sampled_from(sorted(schema)))
    kind = schema[name]
    comparison = draw(st.sampled_from(_WRITABLE[kind]))
    value = draw(_value(kind, comparison))
    return ast.Attribute(name=name, comparison=comparison, value=value)


@st.composite
def _sugar(draw: st.DrawFn, schema: Mapping[str, T]) -> ast.Node:
    numeric = sorted(n for n, k in schema.items() if k is T.NUMERIC)
    scalar = sorted(n for n, k in schema.items() if k in (T.STRING, T.NUMERIC, T.BOOLEAN))
    arrays = sorted(n for n, k in schema.items() if k is T.ARRAY)
    choices = [c for c, names in (("in", scalar), ("between", numeric), ("any", arrays)) if names]
    choice = draw(st.sampled_from(choices))
    if choice == "in":
        name = draw(st.sampled_from(scalar))
        values = tuple(draw(st.lists(_value(schema[name], C.EQUALS), min_size=1, max_size=4)))
        return ast.In(name=name, values=values, negated=draw(st.booleans()))
    if choice == "between":
        name = draw(st.sampled_from(numeric))
        low, high = sorted(draw(st.lists(st.integers(-1000, 1000), min_size=2, max_size=2)))
        return ast.Between(name=name, low=low, high=high)
    name = draw(st.sampled_from(arrays))
    items = tuple(draw(st.lists(_value(T.ARRAY, C.INCLUDES_VALUE), min_size=1, max_size=4)))
    cls = draw(st.sampled_from([ast.ContainsAny, ast.ContainsAll]))
    return cls(name=name, values=items)


def _negatable(node: ast.Node) -> bool:
    return not any(
        isinstance(n, ast.LastUsedApp) or (isinstance(n, ast.Attribute) and n.comparison in REFUSED)
        for n in ast.walk(node)
    )


def _group(cls: type[ast.And] | type[ast.Or], parts: list[ast.Expr]) -> ast.Expr:
    return ast.flat_group(cls, parts)  # type: ignore[return-value]


def _maybe_not(node: ast.Expr, negate: bool) -> ast.Expr:
    return ast.Not(operand=node) if negate and _negatable(node) else node


def rules(
    *,
    schema: Schema | Mapping[str, object] | None = None,
    max_leaves: int = 10,
    negation: bool = True,
    sugar: bool = True,
    builtins: bool = True,
) -> st.SearchStrategy[ast.Expr]:
    """Surface ASTs of rules that compile, over ``schema``'s attributes (drawn if None).

    ``negation``, ``sugar`` and ``builtins`` allow ``not``, the list and range sugar and
    the built-in filters.
    """
    _check_size("max_leaves", max_leaves, 1)
    if schema is None:
        return schemas(min_size=2, max_size=6).flatmap(
            lambda drawn: rules(
                schema=drawn, max_leaves=max_leaves, negation=negation, sugar=sugar,
                builtins=builtins,
            )
        )  # fmt: skip
    types = Schema.coerce(schema)
    if not types:
        raise InvalidArgument("schema must name at least one attribute")
    base: st.SearchStrategy[ast.Node] = _leaf(types, builtins)
    if sugar and any(kind is not T.TIME for kind in types.values()):
        base = base | _sugar(types)
    if negation:
        base = st.tuples(base, st.booleans()).map(lambda pair: _maybe_not(*pair))  # type: ignore[arg-type]

    def extend(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
        kinds: st.SearchStrategy[type[ast.And] | type[ast.Or]] = st.sampled_from([ast.And, ast.Or])
        groups = st.tuples(kinds, st.lists(inner, min_size=2, max_size=4)).map(
            lambda pair: _group(*pair)
        )
        if negation:
            return st.tuples(groups, st.booleans()).map(lambda pair: _maybe_not(*pair))
        return groups

    return st.recursive(base, extend, max_leaves=max_leaves)  # type: ignore[arg-type]


def rule_texts(**kwargs: Any) -> st.SearchStrategy[str]:
    """Rule text: :func:`rules` printed in canonical form. Takes the same arguments."""
    from audience_dsl.language.printer import print_rule

    return rules(**kwargs).map(print_rule)


def _compile_quietly(node: ast.Node) -> dict[str, Any]:
    from audience_dsl.pipeline import to_audience

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudienceWarning)
        return to_audience(node)


def audiences(**kwargs: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Valid Connected Audience objects: :func:`rules` compiled. Same arguments."""
    return rules(**kwargs).map(_compile_quietly)


def _stored(kind: T, now: datetime) -> st.SearchStrategy[Any]:
    if kind is T.TIME:
        offsets = st.integers(-400, 400).map(lambda d: timedelta(days=d)) | st.sampled_from(
            [timedelta(0), timedelta(days=1), timedelta(days=-1), timedelta(days=7)]
        )
        return offsets.map(lambda d: (now + d).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if kind is T.ARRAY:
        return st.lists(st.sampled_from(["a", "b", "c", "x"]) | st.text(max_size=4), max_size=4)
    if kind is T.NUMERIC:
        return st.integers(-1000, 1000) | st.floats(-1e3, 1e3, allow_nan=False)
    if kind is T.BOOLEAN:
        return st.booleans()
    return st.text(max_size=8)


@st.composite
def profiles(
    draw: st.DrawFn, schema: Schema | Mapping[str, object], *, now: datetime | None = None
) -> dict[str, Any]:
    """User profiles in Braze's export shape whose custom attributes fit ``schema``.

    Attributes may be missing or null; time values fall near ``now`` (default: 2024-06-01
    UTC), so relative-day filters are exercised on both sides.
    """
    types = Schema.coerce(schema)
    moment = now or datetime(2024, 6, 1, tzinfo=UTC)
    attributes: dict[str, Any] = {}
    for name, kind in types.items():
        presence = draw(st.integers(0, 4))
        if presence == 0:
            continue
        attributes[name] = None if presence == 1 else draw(_stored(kind, moment))
    profile: dict[str, Any] = {
        "external_id": draw(st.from_regex(r"user-[0-9]{1,6}", fullmatch=True)),
        "custom_attributes": attributes,
    }
    for key in ("push_subscribe", "email_subscribe"):
        if draw(st.booleans()):
            profile[key] = draw(st.sampled_from([s.value for s in ast.State]))
    used = draw(st.lists(_stored(T.TIME, moment), max_size=2))
    if used:
        profile["apps"] = [{"name": "app", "last_used": t} for t in used]
    return profile
