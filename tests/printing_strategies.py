"""Hypothesis strategies for the printer, decompiler and formatter tests.

``surface_exprs()`` draws ASTs of the shape the parser produces (flat chains, no
one-child groups); ``core_exprs()`` draws core trees whose attributes keep one data type
each (so their text passes the type check) and whose filters all have a text form.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C

DATETIMES = (
    "2019-07-22",
    "2019-07-22T13:17",
    "2019-07-22T13:17:55Z",
    "2019-07-22T13:17:55+0000",
    "2019-07-22T13:17:55.123+02:00",
    "2024-02-29T00:00:00-05",
)
#: Regexes that the compiler accepts (it checks them), some needing the string form.
REGEXES = ("a/b", "^\\d+$", "a\\/b", "x\ny", "", "caf\u00e9", "[\"']", "#tag", "//", "a b")
ODD_NAMES = ("and", "email", "push", "Favorite Color", "a-b", "名前", "x`y", "back\\slash", "true")
PLAIN_NAMES = ("age", "eye_color", "score", "plan", "last_purchase", "tags", "flag")

names = st.sampled_from(PLAIN_NAMES + ODD_NAMES) | st.text(
    st.characters(exclude_characters="\r\n"), min_size=1, max_size=8
)
strings = st.text(max_size=12)
numbers = st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False)
scalars = strings | numbers | st.booleans()
datetimes = st.sampled_from(DATETIMES)
days = st.integers(0, 10_000)


def params(days_per_unit: int = 1) -> st.SearchStrategy[ast.Param]:
    return st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).map(
        lambda name: ast.Param(name, days_per_unit)
    )


def _maybe_param(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return values | params()


@st.composite
def _attributes(draw: st.DrawFn) -> ast.Attribute:
    name = draw(names)
    kind = draw(st.integers(0, 7))
    if kind == 0:
        comparison = draw(st.sampled_from([C.EQUALS, C.NOT_EQUAL]))
        return ast.Attribute(name=name, comparison=comparison, value=draw(_maybe_param(scalars)))
    if kind == 1:
        comparison = draw(
            st.sampled_from(
                [C.GREATER_THAN, C.GREATER_THAN_OR_EQUAL_TO, C.LESS_THAN, C.LESS_THAN_OR_EQUAL_TO]
            )
        )
        return ast.Attribute(name=name, comparison=comparison, value=draw(_maybe_param(numbers)))
    if kind == 2:
        comparison = draw(st.sampled_from([C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX]))
        regex = st.text(max_size=10) | st.sampled_from(["a/b", "a\\/b", "^\\d+$", "\\", "x\\"])
        return ast.Attribute(name=name, comparison=comparison, value=draw(_maybe_param(regex)))
    if kind == 3:
        comparison = draw(st.sampled_from([C.INCLUDES_VALUE, C.DOES_NOT_INCLUDE_VALUE]))
        return ast.Attribute(name=name, comparison=comparison, value=draw(_maybe_param(strings)))
    if kind == 4:
        comparison = draw(st.sampled_from([C.EXISTS, C.DOES_NOT_EXIST]))
        return ast.Attribute(name=name, comparison=comparison)
    if kind == 5:
        comparison = draw(
            st.sampled_from(
                [
                    C.LESS_THAN_X_DAYS_AGO,
                    C.GREATER_THAN_X_DAYS_AGO,
                    C.LESS_THAN_X_DAYS_IN_THE_FUTURE,
                    C.GREATER_THAN_X_DAYS_IN_THE_FUTURE,
                ]
            )
        )
        value = draw(days | params(1) | params(7))
        return ast.Attribute(name=name, comparison=comparison, value=value)
    # Not `x after $p`: the parser reads it as `greater_than` (see docs/printing.md).
    comparison = draw(st.sampled_from([C.AFTER, C.BEFORE]))
    return ast.Attribute(name=name, comparison=comparison, value=draw(datetimes))


subscriptions = st.builds(
    lambda channel, negated, state: ast.Subscription(
        channel=channel, comparison=C.IS_NOT if negated else C.IS, state=state
    ),
    st.sampled_from(ast.Channel),
    st.booleans(),
    st.sampled_from(ast.State) | params(),
)
last_used_apps = st.builds(
    lambda comparison, value: ast.LastUsedApp(comparison=comparison, value=value),
    st.sampled_from([C.AFTER, C.BEFORE]),
    _maybe_param(datetimes),
)


@st.composite
def _sugar(draw: st.DrawFn) -> ast.Expr:
    name = draw(names)
    kind = draw(st.integers(0, 2))
    if kind == 0:
        values = draw(st.lists(_maybe_param(scalars), min_size=1, max_size=4).map(tuple) | params())
        return ast.In(name=name, values=values, negated=draw(st.booleans()))
    if kind == 1:
        low, high = sorted(draw(st.lists(numbers, min_size=2, max_size=2)))
        lo = draw(st.just(low) | params())
        hi = draw(st.just(high) | params())
        return ast.Between(name=name, low=lo, high=hi)
    values = draw(st.lists(_maybe_param(strings), min_size=1, max_size=4).map(tuple) | params())
    cls = draw(st.sampled_from([ast.ContainsAny, ast.ContainsAll]))
    return cls(name=name, values=values)


surface_leaves = _attributes() | subscriptions | last_used_apps | _sugar()


def _chain(cls: type[ast.And] | type[ast.Or], parts: list[ast.Expr]) -> ast.Expr:
    """A flat chain, as the parser builds it: children of the same kind are spliced in."""
    return ast.flat_group(cls, parts)  # type: ignore[return-value]


def _surface_extend(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    lists = st.lists(inner, min_size=2, max_size=4)
    return (
        lists.map(lambda parts: _chain(ast.And, parts))
        | lists.map(lambda parts: _chain(ast.Or, parts))
        | inner.map(lambda operand: ast.Not(operand=operand))
    )


def surface_exprs() -> st.SearchStrategy[ast.Expr]:
    """Surface ASTs of the shape the parser builds."""
    return st.recursive(surface_leaves, _surface_extend, max_leaves=12)


# ---- core trees that compile back ----------------------------------------------------------

_TYPED = {
    "s": st.sampled_from(["s_a", "s_b", "`s c`"]).map(lambda n: n.strip("`")),
    "n": st.sampled_from(["n_a", "n_b"]),
    "b": st.sampled_from(["b_a", "b_b"]),
    "t": st.sampled_from(["t_a", "t_b"]),
    "a": st.sampled_from(["a_a", "a_b"]),
}
_plain_strings = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="{%"), max_size=8
)


@st.composite
def _core_filters(draw: st.DrawFn) -> ast.Filter:
    kind = draw(st.integers(0, 9))
    pick = draw
    if kind == 0:
        return ast.Attribute(
            name=pick(_TYPED["s"]),
            comparison=pick(st.sampled_from([C.EQUALS, C.NOT_EQUAL])),
            value=pick(_plain_strings),
        )
    if kind == 1:
        return ast.Attribute(
            name=pick(_TYPED["n"]),
            comparison=pick(st.sampled_from([C.EQUALS, C.NOT_EQUAL, *_ORDERING])),
            value=pick(st.sampled_from([0, 1, 2, 3, -1, 2.5, 1e20])),
        )
    if kind == 2:
        return ast.Attribute(
            name=pick(_TYPED["b"]),
            comparison=pick(st.sampled_from([C.EQUALS, C.NOT_EQUAL])),
            value=pick(st.booleans()),
        )
    if kind == 3:
        return ast.Attribute(
            name=pick(_TYPED["s"]),
            comparison=pick(st.sampled_from([C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX])),
            value=pick(st.sampled_from(REGEXES)),
        )
    if kind == 4:
        return ast.Attribute(
            name=pick(_TYPED["a"]),
            comparison=pick(st.sampled_from([C.INCLUDES_VALUE, C.DOES_NOT_INCLUDE_VALUE])),
            value=pick(st.sampled_from(["x", "y", "z"])),
        )
    if kind == 5:
        return ast.Attribute(
            name=pick(st.sampled_from(["e_a", "s_a", "n_b"])),
            comparison=pick(st.sampled_from([C.EXISTS, C.DOES_NOT_EXIST])),
        )
    if kind == 6:
        return ast.Attribute(
            name=pick(_TYPED["t"]),
            comparison=pick(st.sampled_from([*_RELATIVE_TIMES, C.AFTER, C.BEFORE])),
            value=None,
        )
    if kind == 7:
        return pick(subscriptions.filter(lambda s: not isinstance(s.state, ast.Param)))
    if kind == 8:
        return ast.LastUsedApp(
            comparison=pick(st.sampled_from([C.AFTER, C.BEFORE])), value=pick(datetimes)
        )
    return ast.Attribute(
        name=pick(_TYPED["n"]), comparison=C.EQUALS, value=pick(st.sampled_from([1, 2]))
    )


_ORDERING = (C.GREATER_THAN, C.GREATER_THAN_OR_EQUAL_TO, C.LESS_THAN, C.LESS_THAN_OR_EQUAL_TO)
_RELATIVE_TIMES = (
    C.LESS_THAN_X_DAYS_AGO,
    C.GREATER_THAN_X_DAYS_AGO,
    C.LESS_THAN_X_DAYS_IN_THE_FUTURE,
    C.GREATER_THAN_X_DAYS_IN_THE_FUTURE,
)


@st.composite
def _fill_times(draw: st.DrawFn) -> ast.Filter:
    leaf = draw(_core_filters())
    if isinstance(leaf, ast.Attribute) and leaf.name.startswith("t_"):
        if leaf.comparison in (C.AFTER, C.BEFORE):
            value: ast.Value = draw(datetimes)
        else:
            value = draw(st.integers(0, 400))
        return ast.Attribute(name=leaf.name, comparison=leaf.comparison, value=value)
    return leaf


def _core_extend(inner: st.SearchStrategy[ast.CoreNode]) -> st.SearchStrategy[ast.CoreNode]:
    lists = st.lists(inner, min_size=1, max_size=5).map(tuple)
    return lists.map(lambda kids: ast.AllOf(children=kids)) | lists.map(
        lambda kids: ast.AnyOf(children=kids)
    )


def core_exprs() -> st.SearchStrategy[ast.CoreNode]:
    """Core trees (nested same-operator and one-child groups included)."""
    return st.recursive(_fill_times(), _core_extend, max_leaves=16)
