"""Profiles aimed at a rule: values on and around each of its boundaries.

:func:`profiles` (with ``near``), :func:`matching` and :func:`not_matching` live here;
:mod:`audience_dsl.strategies` exports them.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from audience_dsl.check.schema import Schema
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.ast import DataType as T
from audience_dsl.strategies.edges import (
    ABSENT,
    Lazy,
    attribute_pool,
    core_values,
    profile_pool,
)
from audience_dsl.strategies.values import DEFAULT_NOW, iso, shown_as_called, stored

__all__ = ["matching", "not_matching", "profiles"]


#: Values of another type than each attribute type stores.
_WRONG_TYPED: dict[T, tuple[Any, ...]] = {
    T.STRING: (5, True, ["a"]),
    T.NUMERIC: ("5", True, [1]),
    T.BOOLEAN: ("true", 1, 0),
    T.TIME: ("not a date", 1717200000, "3001-01-01T00:00:00Z"),
    T.ARRAY: ("a", 1, [1, 2]),
}


def _empty(kind: T) -> Any:
    """The empty value of a type that has one (Braze counts it as missing), else null."""
    return [] if kind is T.ARRAY else "" if kind is T.STRING else None


# ---- boundaries of a rule -------------------------------------------------------------


def _near_node(near: object) -> ast.Node:
    """``near`` (a Rule, any AST node, rule text or a Connected Audience dict) as a tree."""
    if isinstance(near, ast.Rule):
        return near.expr
    if isinstance(near, ast.Node):
        return near
    if isinstance(near, str):
        from audience_dsl.pipeline import parse

        return parse(near).expr
    if isinstance(near, Mapping):
        from audience_dsl.braze.codec import to_core

        return to_core(near)
    raise InvalidArgument(
        f"near={near!r} must be a Rule, an AST node, rule text or a Connected Audience dict"
    )


def _leaves(node: ast.Node) -> list[ast.Node]:
    return [n for n in ast.walk(node) if not ast.children(n) and not isinstance(n, ast.Rule)]


def _key(leaf: ast.Node) -> tuple[str, str]:
    """Where in a profile a leaf looks: a custom attribute, a subscription or the apps."""
    if isinstance(leaf, ast.Subscription):
        return ("profile", f"{leaf.channel.value}_subscribe")
    if isinstance(leaf, ast.LastUsedApp):
        return ("profile", "apps")
    return ("attribute", leaf.name)  # type: ignore[attr-defined]


def _leaf_kind(leaf: ast.Node) -> T | None:
    from audience_dsl.vocabulary import implied_type

    if isinstance(leaf, ast.Attribute):
        if leaf.comparison in (C.IS_ANY_OF, C.IS_NONE_OF):
            return T.STRING
        return implied_type(leaf.comparison, leaf.value)
    if isinstance(leaf, ast.ContainsAny | ast.ContainsAll):
        return T.ARRAY
    if isinstance(leaf, ast.Between):
        return T.NUMERIC
    if isinstance(leaf, ast.In) and isinstance(leaf.values, tuple) and leaf.values:
        return implied_type(C.EQUALS, leaf.values[0])
    return None


def _pick(draw: st.DrawFn, pool: list[Any], core: list[Any]) -> Any:
    use_core = bool(core) and draw(st.booleans())
    value = draw(st.sampled_from(core if use_core else pool))
    return draw(value.strategy) if isinstance(value, Lazy) else value


class _Plan:
    """Every key a rule looks at, with its type and the values around its boundaries."""

    def __init__(self, types: Mapping[str, T], node: ast.Node | None) -> None:
        self.node = node
        self.cores: dict[tuple[str, str], list[Any]] = {}
        self.leaves = _leaves(node) if node is not None else []
        self.kinds: dict[tuple[str, str], T | None] = {
            ("attribute", n): k for n, k in types.items()
        }
        for leaf in self.leaves:
            key = _key(leaf)
            if key[0] == "attribute" and self.kinds.get(key) is None:
                self.kinds[key] = _leaf_kind(leaf)
            elif key[0] == "profile":
                self.kinds.setdefault(key, None)

    def pools(self, now: datetime, wrong_types: bool) -> dict[tuple[str, str], list[Any]]:
        pools: dict[tuple[str, str], list[Any]] = {}
        cores: dict[tuple[str, str], list[Any]] = {}
        for leaf in self.leaves:
            key = _key(leaf)
            pool = pools.setdefault(key, [])
            found = profile_pool(leaf, now) if key[0] == "profile" else attribute_pool(leaf, now)
            pool.extend(found)
            # The values right on a boundary (each constant and its nearest neighbours)
            # are where translations go wrong: half the draws from a pool take one.
            cores.setdefault(key, []).extend(core_values(leaf, now))
        for key, pool in pools.items():
            kind = self.kinds.get(key)
            if key[0] == "attribute":
                pool.extend([ABSENT, None, _empty(kind or T.STRING)])
                if wrong_types:
                    pool.extend(_WRONG_TYPED[kind or T.STRING])
            unique: list[Any] = []
            seen: set[str] = set()
            for value in pool:
                mark = (
                    "absent" if value is ABSENT else str(id(value)) if isinstance(value, Lazy)
                    else f"{type(value).__name__}:{value!r}"
                )  # fmt: skip
                if mark not in seen:
                    seen.add(mark)
                    unique.append(value)
            core = cores.get(key, [])
            if key[0] == "attribute":
                core.append(ABSENT)  # users without the attribute: where `not` goes wrong
            pool[:] = unique
        self.cores = cores
        return pools


_VOCABULARY: dict[T, tuple[Any, ...]] = {
    T.STRING: ("a", "b", "blue", "Blue", "gold", "x y", "é", "US", "ca", "12", "vip", "-"),
    T.NUMERIC: (0, 1, -1, 2, 7, 18, 21, 30, 100, 999, -1000, 0.5, 2.25, -3.75, 1e3),
    T.BOOLEAN: (True, False),
    T.ARRAY: (["a"], ["b"], ["a", "b"], ["x"], ["a", "c", "x"], ["blue", "Blue"], ["é"]),
}
_DAYS = (-400, -30, -7, -2, -1, 0, 1, 2, 7, 30, 400)


@functools.cache
def _ordinary_pool(key: tuple[str, str], kind: T | None, now: datetime) -> tuple[Any, ...]:
    """Everyday values for a key, with missing and null ones: one draw picks one. An
    entry drawn afresh (any text, any number) keeps variety."""
    if key == ("profile", "apps"):
        times = [iso(now + timedelta(days=d, hours=h)) for d in _DAYS for h in (0, 5)]
        return (ABSENT, ABSENT, *([{"name": "app", "last_used": t}] for t in times))
    if key[0] == "profile":
        return (ABSENT, *(s.value for s in ast.State))
    kind = kind or T.STRING
    if kind is T.TIME:
        values: tuple[Any, ...] = tuple(iso(now + timedelta(days=d, hours=3)) for d in _DAYS)
    else:
        values = _VOCABULARY[kind]
    fresh = Lazy(stored(kind, now))
    return (ABSENT,) * 3 + (None,) * 3 + values + (fresh,) * 3


def _ordinary(draw: st.DrawFn, key: tuple[str, str], kind: T | None, now: datetime) -> Any:
    value = draw(st.sampled_from(_ordinary_pool(key, kind, now)))
    if isinstance(value, Lazy):
        return draw(value.strategy)
    return value


def _assemble(draw: st.DrawFn, values: Mapping[tuple[str, str], Any]) -> dict[str, Any]:
    # Pools share their lists and dicts between draws: each profile gets its own copies.
    attributes = {
        key[1]: copy.deepcopy(value) if isinstance(value, list | dict) else value
        for key, value in values.items()
        if key[0] == "attribute" and value is not ABSENT
    }
    profile: dict[str, Any] = {
        "external_id": f"user-{draw(st.integers(0, 999_999))}",
        "custom_attributes": attributes,
    }
    for key, value in values.items():
        if key[0] == "profile" and value is not ABSENT:
            profile[key[1]] = copy.deepcopy(value)
    return profile


def _profile_keys(plan: _Plan) -> list[tuple[str, str]]:
    keys = list(plan.kinds)
    for extra in (
        ("profile", "push_subscribe"),
        ("profile", "email_subscribe"),
        ("profile", "apps"),
    ):
        if extra not in plan.kinds:
            keys.append(extra)
    return keys


def _check_now_argument(now: object) -> datetime:
    if now is None:
        return DEFAULT_NOW
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InvalidArgument(f"now={now!r} must be a time-zone aware datetime")
    return now


def _types_of(schema: object) -> dict[str, T]:
    if schema is None:
        return {}
    return dict(Schema.coerce(schema))  # type: ignore[arg-type]


@st.composite
def _near_profiles(
    draw: st.DrawFn,
    plan: _Plan,
    pools: Mapping[tuple[str, str], list[Any]],
    now: datetime,
    wrong_types: bool,
) -> dict[str, Any]:
    values: dict[tuple[str, str], Any] = {}
    needs: dict[tuple[str, str], list[tuple[ast.Node, bool]]] = {}
    focused = plan.node is not None and bool(plan.leaves) and draw(st.integers(0, 9)) < 8
    focus: ast.Node = ast.Not(operand=ast.And(children=()))  # stands for "no focus"
    if focused:
        # Most profiles make one leaf decide the rule (the others on its path set so
        # that they do not mask it), then put that leaf's attribute on a boundary: a
        # wrong translation of the leaf then shows in the result.
        assert plan.node is not None
        focus = draw(st.sampled_from(plan.leaves))
        for leaf, wanted in _sensitize(draw, plan.node, focus):
            needs.setdefault(_key(leaf), []).append((leaf, wanted))
    focus_key = _key(focus) if needs or focused else None
    for key in _profile_keys(plan):
        kind = plan.kinds.get(key)
        pool = pools.get(key)
        core = plan.cores.get(key, [])
        if key in needs and pool:
            chosen = _satisfying(draw, pool, core, key, needs[key], now)
            if chosen is not _ABSENT_CHOICE:
                values[key] = chosen
                continue
        if pool is None:
            values[key] = _ordinary(draw, key, kind, now)
            continue
        roll = 0 if key == focus_key else draw(st.integers(0, 19))
        if roll < 14:
            values[key] = _pick(draw, pool, core)
        elif key[0] == "attribute" and roll >= 17:
            values[key] = draw(st.sampled_from(_odd(kind, wrong_types)))
        else:
            values[key] = _ordinary(draw, key, kind, now)
    return _assemble(draw, values)


#: What :func:`_satisfying` returns when no value of the pool will do.
_ABSENT_CHOICE: Any = object()


def _satisfying(
    draw: st.DrawFn,
    pool: list[Any],
    core: list[Any],
    key: tuple[str, str],
    needs: list[tuple[ast.Node, bool]],
    now: datetime,
) -> Any:
    """A value of ``pool`` on which every leaf in ``needs`` says what it must (one of
    ``core`` half the time, when one will do)."""
    from audience_dsl.evaluator.predicates import InvalidValue, leaf_predicate
    from audience_dsl.semantics import Semantics

    try:
        checks = [(leaf_predicate(leaf, now, Semantics()), wanted) for leaf, wanted in needs]
    except InvalidValue:
        return _ABSENT_CHOICE

    def fits(value: Any) -> bool:
        attrs, profile = _alone(key, value)
        return all(check(attrs, profile) == wanted for check, wanted in checks)

    near = [v for v in core if fits(v)]
    use_core = bool(near) and draw(st.booleans())
    if use_core:
        return draw(st.sampled_from(near))
    candidates = []
    for value in pool:
        if isinstance(value, Lazy):
            value = draw(value.strategy)
        if fits(value):
            candidates.append(value)
    return draw(st.sampled_from(candidates)) if candidates else _ABSENT_CHOICE


def _sensitize(draw: st.DrawFn, root: ast.Node, focus: ast.Node) -> list[tuple[ast.Node, bool]]:
    """What the leaves off ``focus``'s path must say for ``focus`` to decide ``root``:
    the other children of an ``and`` true, of an ``or`` false."""
    parents: dict[int, ast.Node] = {}
    for node in ast.walk(root):
        for kid in ast.children(node):
            parents[id(kid)] = node
    out: list[tuple[ast.Node, bool]] = []
    current = focus
    while id(current) in parents:
        parent = parents[id(current)]
        if isinstance(parent, ast.And | ast.AllOf | ast.Or | ast.AnyOf):
            wanted = isinstance(parent, ast.And | ast.AllOf)
            for kid in parent.children:
                if kid is not current:
                    out.extend(_wants(draw, kid, wanted))
        current = parent
    return out


def _odd(kind: T | None, wrong_types: bool) -> list[Any]:
    """Missing, null and empty values, and (if asked) values of another type."""
    out = [ABSENT, None, _empty(kind or T.STRING)]
    return out + list(_WRONG_TYPED[kind or T.STRING]) if wrong_types else out


@shown_as_called
def profiles(
    schema: Schema | Mapping[str, object] | None,
    *,
    now: datetime | None = None,
    near: ast.Node | str | Mapping[str, Any] | None = None,
    wrong_types: bool | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """User profiles in Braze's export shape whose custom attributes fit ``schema``.

    Attributes may be missing or null; time values fall near ``now`` (default
    :data:`DEFAULT_NOW`), so relative-day filters are exercised on both sides.

    With ``near`` (a :class:`~audience_dsl.Rule`, an AST node, rule text or a Connected
    Audience dict), most values are drawn on and around the rule's boundaries: each
    constant and its neighbours (integers ±1 and ±0.5, decimals at the next float),
    instants just inside and outside each day window and each ``before``/``after`` (±1 s,
    ±1 h, ±1 day, the same instant at another offset, the date alone), equal and unequal
    strings and their case variants, texts a regex finds, arrays with and without each
    value, every subscription state, app sessions on both sides of an instant; missing,
    null and empty values. Attributes the rule names but ``schema`` lacks are added with
    the type the rule implies, so ``schema`` may be None when ``near`` is given.

    ``wrong_types`` adds values of another type than the attribute's (``"5"`` for a
    number); it defaults to True with ``near`` and False without, so that profiles drawn
    without a rule fit their schema. The rule and its compiled JSON need not agree on
    such values where the rule says ``not`` (docs/semantics.md), so compare a generator's
    JSON with the evaluated JSON of :func:`audience_dsl.to_audience`, as docs/testing.md
    shows.

    >>> from hypothesis import given
    >>> from audience_dsl import evaluate
    >>> @given(profiles(None, near="age between 18 and 30"))
    ... def test_edges(profile):
    ...     evaluate("age between 18 and 30", profile, now=DEFAULT_NOW)
    >>> test_edges()
    """
    moment = _check_now_argument(now)
    node = _near_node(near) if near is not None else None
    if schema is None and node is None:
        raise InvalidArgument("profiles() needs a schema, or a rule to draw near")
    plan = _Plan(_types_of(schema), node)
    odd = node is not None if wrong_types is None else bool(wrong_types)
    return _near_profiles(plan, plan.pools(moment, odd), moment, odd)


# ---- profiles a rule selects, or leaves out ------------------------------------------


def _wants(draw: st.DrawFn, node: ast.Node, want: bool) -> list[tuple[ast.Node, bool]]:
    """One way of making ``node`` come out ``want``: what each leaf on the way must say.

    ``and`` wanted true needs every child true, wanted false one child (drawn) false;
    ``or`` the other way round; ``not`` flips what it wants of its operand.
    """
    out: list[tuple[ast.Node, bool]] = []
    stack: list[tuple[ast.Node, bool]] = [(node, want)]
    while stack:
        current, wanted = stack.pop()
        if isinstance(current, ast.Rule):
            stack.append((current.expr, wanted))
        elif isinstance(current, ast.Not):
            stack.append((current.operand, not wanted))
        elif isinstance(current, ast.And | ast.AllOf | ast.Or | ast.AnyOf):
            every = wanted == isinstance(current, ast.And | ast.AllOf)
            if every:
                stack.extend((kid, wanted) for kid in current.children)
            else:
                stack.append((draw(st.sampled_from(current.children)), wanted))
        else:
            out.append((current, wanted))
    return out


@st.composite
def _deciding(
    draw: st.DrawFn,
    plan: _Plan,
    pools: Mapping[tuple[str, str], list[Any]],
    now: datetime,
    want: bool,
) -> dict[str, Any]:
    from hypothesis import assume

    from audience_dsl.evaluator.program import evaluate

    assert plan.node is not None
    values: dict[tuple[str, str], Any] = {}
    needs: dict[tuple[str, str], list[tuple[ast.Node, bool]]] = {}
    for leaf, wanted in _wants(draw, plan.node, want):
        needs.setdefault(_key(leaf), []).append((leaf, wanted))
    for key in _profile_keys(plan):
        kind = plan.kinds.get(key)
        if key not in needs:
            values[key] = _ordinary(draw, key, kind, now)
            continue
        chosen = _satisfying(draw, pools[key], plan.cores.get(key, []), key, needs[key], now)
        assume(chosen is not _ABSENT_CHOICE)
        values[key] = chosen
    profile = _assemble(draw, values)
    assume(evaluate(plan.node, profile, now=now) == want)
    return profile


def _alone(key: tuple[str, str], value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(custom attributes, profile) holding only ``value`` at ``key``."""
    if key[0] == "attribute":
        return ({} if value is ABSENT else {key[1]: value}), {}
    return {}, ({} if value is ABSENT else {key[1]: value})


def _deciding_strategy(
    rule: ast.Node | str | Mapping[str, Any],
    schema: Schema | Mapping[str, object] | None,
    now: datetime | None,
    want: bool,
) -> st.SearchStrategy[dict[str, Any]]:
    moment = _check_now_argument(now)
    plan = _Plan(_types_of(schema), _near_node(rule))
    return _deciding(plan, plan.pools(moment, True), moment, want)


@shown_as_called
def matching(
    rule: ast.Node | str | Mapping[str, Any],
    *,
    schema: Schema | Mapping[str, object] | None = None,
    now: datetime | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Profiles that ``rule`` selects at ``now`` (default :data:`DEFAULT_NOW`).

    Values come from the same boundaries as ``profiles(near=rule)``: a path through the
    rule's ``and``/``or``/``not`` is drawn, and each attribute gets a boundary value that
    makes its conditions on that path come out as needed. A rule that selects nobody
    (``x > 3 and x < 2``) makes Hypothesis give up with an ``Unsatisfiable`` error.

    >>> from hypothesis import given, settings
    >>> from audience_dsl import evaluate
    >>> rule = "age between 18 and 30 and not (tier = 'gold')"
    >>> @settings(max_examples=20)
    ... @given(matching(rule))
    ... def test_selected(profile):
    ...     assert evaluate(rule, profile, now=DEFAULT_NOW)
    >>> test_selected()
    """
    return _deciding_strategy(rule, schema, now, True)


@shown_as_called
def not_matching(
    rule: ast.Node | str | Mapping[str, Any],
    *,
    schema: Schema | Mapping[str, object] | None = None,
    now: datetime | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Profiles that ``rule`` leaves out at ``now``; the mirror of :func:`matching`.

    >>> from hypothesis import given, settings
    >>> from audience_dsl import evaluate
    >>> @settings(max_examples=20)
    ... @given(not_matching("age between 18 and 30"))
    ... def test_left_out(profile):
    ...     assert not evaluate("age between 18 and 30", profile, now=DEFAULT_NOW)
    >>> test_left_out()
    """
    return _deciding_strategy(rule, schema, now, False)
