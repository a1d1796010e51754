"""Hypothesis strategies for property tests of code that uses audience rules.

Rules compile (each attribute keeps one data type, ``not`` is only put over conditions
Braze can negate exactly), audiences pass :func:`audience_dsl.validate`, request bodies
pass the request check, and profiles drawn without a rule fit their schema; profiles
drawn ``near`` a rule also hold missing, empty and wrong-typed values, on purpose
(:mod:`~audience_dsl.strategies.boundaries`), and :func:`invalid_rule_texts` are refused
on purpose. Shrinking works on the trees, and rule text is obtained by printing a drawn
tree, so it shrinks with it. docs/testing.md shows the recipe.

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
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from audience_dsl.check.schema import Schema
from audience_dsl.errors import AudienceError
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.ast import DataType as T
from audience_dsl.semantics import REFUSED
from audience_dsl.strategies.boundaries import matching, not_matching, profiles
from audience_dsl.strategies.values import DEFAULT_NOW, WORDS, shown_as_called
from audience_dsl.vocabulary import ALLOWED

__all__ = [
    "DEFAULT_NOW",
    "MISTAKES",
    "SUGAR",
    "audiences",
    "invalid_rule_texts",
    "matching",
    "not_matching",
    "profiles",
    "rule_texts",
    "rules",
    "rules_with_profiles",
    "schemas",
    "trigger_send_bodies",
    "values",
]

#: Comparisons the language writes, for each type, in the order of :class:`Comparison`
#: (the plain comparisons first, so that they are the ones drawn most and shrunk to).
_WRITABLE = {kind: [c for c in C if c in ALLOWED[kind]] for kind in T}
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


@shown_as_called
def schemas(*, min_size: int = 1, max_size: int = 8) -> st.SearchStrategy[Schema]:
    """Schemas of ``min_size`` to ``max_size`` attributes with plain names."""
    _check_size("min_size", min_size, 1)
    _check_size("max_size", max_size, min_size)
    return st.dictionaries(
        _NAMES, st.sampled_from(list(T)), min_size=min_size, max_size=max_size
    ).map(Schema)


#: Any text a rule can hold: control characters, quotes, backslashes and characters
#: outside the Basic Multilingual Plane, which the printer writes as escapes. No lone
#: surrogates (no rule can hold one) and no Liquid (which Braze would evaluate).
_ESCAPED: st.SearchStrategy[str] = st.text(st.characters(codec="utf-8"), max_size=8).filter(
    lambda s: "{{" not in s and "{%" not in s
)


def _value(kind: T, comparison: C, words: st.SearchStrategy[str] = WORDS) -> st.SearchStrategy[Any]:
    if comparison in (C.EXISTS, C.DOES_NOT_EXIST):
        return st.none()
    if comparison in ast.RELATIVE_DAYS:
        return st.integers(0, 3650)
    if comparison in (C.AFTER, C.BEFORE):
        return _INSTANTS.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if comparison in (C.IS_ANY_OF, C.IS_NONE_OF):
        return words | st.lists(words, min_size=1, max_size=3).map(tuple)
    if comparison in (C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX):
        return st.sampled_from(["^a", "b$", "[0-9]+", "x|y", "a.c", "\\d", "^$", "é"])
    if kind is T.NUMERIC:
        return st.integers(-(10**6), 10**6) | st.decimals(
            -(10**6), 10**6, places=2, allow_nan=False, allow_infinity=False
        ).map(float)
    if kind is T.BOOLEAN:
        return st.booleans()
    return words.filter(bool) if comparison in (C.EQUALS, C.NOT_EQUAL) else words


@shown_as_called
def values(
    data_type: T | str, *, comparison: C | str | None = None, escapes: bool = False
) -> st.SearchStrategy[Any]:
    """Values a condition on an attribute of ``data_type`` compares with, as :func:`rules`
    draws them (for ``comparison``, default ``equals``; ``after`` for Time,
    ``includes_value`` for Array): printable strings (any text with ``escapes=True``),
    numbers within ±1,000,000 with at most two decimals, ISO 8601 instants, day counts.

    >>> from hypothesis import given
    >>> @given(values("Numeric"))
    ... def test_sane(number):
    ...     assert abs(number) <= 1_000_000
    >>> test_sane()
    """
    try:
        kind = T(data_type)
    except ValueError:
        raise InvalidArgument(
            f"data_type={data_type!r}: the types are {', '.join(t.value for t in T)}"
        ) from None
    default = {T.TIME: C.AFTER, T.ARRAY: C.INCLUDES_VALUE}.get(kind, C.EQUALS)
    try:
        chosen = C(comparison) if comparison is not None else default
    except ValueError:
        raise InvalidArgument(f"comparison={comparison!r} is not a comparison") from None
    if chosen not in ALLOWED[kind]:
        raise InvalidArgument(f"{kind.value} attributes do not take {chosen.value}")
    return _value(kind, chosen, _ESCAPED if escapes else WORDS)


@st.composite
def _leaf(
    draw: st.DrawFn,
    schema: Mapping[str, T],
    builtins: bool,
    allowed: frozenset[C],
    words: st.SearchStrategy[str] = WORDS,
) -> ast.Node:
    usable = sorted(n for n, k in schema.items() if any(c in allowed for c in _WRITABLE[k]))
    if builtins and (not usable or draw(st.integers(0, 9)) == 0):
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
    name = draw(st.sampled_from(usable))
    kind = schema[name]
    comparison = draw(st.sampled_from([c for c in _WRITABLE[kind] if c in allowed]))
    value = draw(_value(kind, comparison, words))
    return ast.Attribute(name=name, comparison=comparison, value=value)


def _allowed(comparisons: object, list_comparisons: bool) -> frozenset[C]:
    if comparisons is None:
        chosen = set(C) - {C.IS, C.IS_NOT}
    else:
        if isinstance(comparisons, str) or not isinstance(comparisons, Iterable):
            raise InvalidArgument(
                f"comparisons={comparisons!r} must be a collection of comparison names, "
                'e.g. ["equals", "greater_than"]'
            )
        chosen = set()
        for item in comparisons:
            try:
                chosen.add(C(item))
            except ValueError:
                names = ", ".join(c.value for c in C if c not in (C.IS, C.IS_NOT))
                raise InvalidArgument(
                    f"comparisons: {item!r} is not a comparison; the comparisons are {names}"
                ) from None
    if not list_comparisons:
        chosen -= {C.IS_ANY_OF, C.IS_NONE_OF}
    return frozenset(chosen)


#: The sugar forms :func:`rules` can draw, by the name ``sugar=`` takes.
SUGAR = ("in", "not in", "between", "contains any", "contains all")


def _sugar_choices(schema: Mapping[str, T], forms: frozenset[str]) -> list[str]:
    scalar = (T.STRING, T.NUMERIC, T.BOOLEAN)
    needs = {"in": scalar, "not in": scalar, "between": (T.NUMERIC,),
             "contains any": (T.ARRAY,), "contains all": (T.ARRAY,)}  # fmt: skip
    return [f for f in SUGAR if f in forms and any(k in needs[f] for k in schema.values())]


@st.composite
def _sugar(
    draw: st.DrawFn,
    schema: Mapping[str, T],
    forms: frozenset[str],
    words: st.SearchStrategy[str] = WORDS,
) -> ast.Node:
    choice = draw(st.sampled_from(_sugar_choices(schema, forms)))
    if choice in ("in", "not in"):
        scalars = sorted(n for n, k in schema.items() if k in (T.STRING, T.NUMERIC, T.BOOLEAN))
        name = draw(st.sampled_from(scalars))
        # Two values at least: with one, `in` is `=` and any/all have no boundary.
        values = tuple(
            draw(st.lists(_value(schema[name], C.EQUALS, words), min_size=2, max_size=4))
        )
        return ast.In(name=name, values=values, negated=choice == "not in")
    if choice == "between":
        name = draw(st.sampled_from(sorted(n for n, k in schema.items() if k is T.NUMERIC)))
        low, high = sorted(draw(st.lists(st.integers(-1000, 1000), min_size=2, max_size=2)))
        return ast.Between(name=name, low=low, high=high)
    name = draw(st.sampled_from(sorted(n for n, k in schema.items() if k is T.ARRAY)))
    items = tuple(draw(st.lists(_value(T.ARRAY, C.INCLUDES_VALUE, words), min_size=2, max_size=4)))
    return (ast.ContainsAny if choice == "contains any" else ast.ContainsAll)(
        name=name, values=items
    )


def _sugar_forms(sugar: object) -> frozenset[str]:
    if sugar is True:
        return frozenset(SUGAR)
    if sugar is False:
        return frozenset()
    if isinstance(sugar, str) or not isinstance(sugar, Iterable):
        raise InvalidArgument(f"sugar={sugar!r} must be True, False or some of {list(SUGAR)}")
    forms = frozenset(sugar)
    unknown = sorted(str(f) for f in forms - set(SUGAR))
    if unknown:
        raise InvalidArgument(f"sugar: {', '.join(unknown)} unknown; the forms are {list(SUGAR)}")
    return forms


def _negatable(node: ast.Node) -> bool:
    return not any(
        isinstance(n, ast.LastUsedApp) or (isinstance(n, ast.Attribute) and n.comparison in REFUSED)
        for n in ast.walk(node)
    )


def _group(cls: type[ast.And] | type[ast.Or], parts: list[ast.Expr]) -> ast.Expr:
    return ast.flat_group(cls, parts)  # type: ignore[return-value]


def _maybe_not(node: ast.Expr, negate: bool) -> ast.Expr:
    return ast.Not(operand=node) if negate and _negatable(node) else node


@shown_as_called
def rules(
    *,
    schema: Schema | Mapping[str, object] | None = None,
    max_leaves: int = 10,
    negation: bool = True,
    sugar: bool | Iterable[str] = True,
    builtins: bool = True,
    comparisons: Iterable[C | str] | None = None,
    list_comparisons: bool = False,
    max_depth: int | None = None,
    escapes: bool = False,
) -> st.SearchStrategy[ast.Expr]:
    """Surface ASTs of rules that compile, over ``schema``'s attributes (drawn if None).

    ``negation``, ``sugar`` and ``builtins`` allow ``not``, the list and range sugar and
    the built-in filters; ``sugar`` may also name the forms to draw (of :data:`SUGAR`:
    ``["between", "not in"]``). ``comparisons`` (Braze's names, e.g. ``["equals",
    "greater_than"]``) limits the comparisons of custom-attribute conditions; the list
    comparisons ``is_any_of``/``is_none_of``, which not every workspace accepts, are only
    drawn with ``list_comparisons=True``. Keeping ``max_leaves`` small (3 or 4) makes
    each drawn rule's boundaries more likely to be hit by :func:`profiles`.
    ``max_depth`` bounds the nesting of ``and``/``or`` groups (1: a single condition).
    Strings are printable (the printed rule holds no escapes) unless ``escapes=True``,
    which draws any text: control characters, quotes, characters beyond U+FFFF.
    """
    _check_size("max_leaves", max_leaves, 1)
    if max_depth is not None:
        _check_size("max_depth", max_depth, 1)
    allowed = _allowed(comparisons, list_comparisons)
    forms = _sugar_forms(sugar)
    if schema is None:
        return schemas(min_size=2, max_size=6).flatmap(
            lambda drawn: rules(
                schema=drawn, max_leaves=max_leaves, negation=negation,
                sugar=sugar if isinstance(sugar, bool) else forms, builtins=builtins,
                comparisons=allowed, list_comparisons=list_comparisons, max_depth=max_depth,
                escapes=escapes,
            )
        )  # fmt: skip
    types = Schema.coerce(schema)
    if not types:
        raise InvalidArgument("schema must name at least one attribute")
    plain = any(c in allowed for k in types.values() for c in _WRITABLE[k])
    sugared = bool(_sugar_choices(types, forms))
    if not (builtins or plain or sugared):
        raise InvalidArgument(
            "no attribute of the schema takes any of the comparisons or sugar asked for, "
            "and builtins=False: there is nothing to draw"
        )
    words = _ESCAPED if escapes else WORDS
    base: st.SearchStrategy[ast.Node] = _leaf(types, builtins, allowed, words)
    if sugared and (plain or builtins) and sugar is True:
        # One leaf in four is sugar: most rules people write are plain comparisons.
        plain_or_sugar = (base, _sugar(types, forms, words))
        base = st.sampled_from((0, 0, 0, 1)).flatmap(lambda i: plain_or_sugar[i])
    elif sugared and (plain or builtins):
        # Sugar forms asked for by name are what the test is about: one leaf in two.
        base = st.one_of(base, _sugar(types, forms, words))
    elif sugared:
        base = _sugar(types, forms, words)
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

    if max_depth is None:
        return st.recursive(base, extend, max_leaves=max_leaves)  # type: ignore[arg-type]
    tree: st.SearchStrategy[ast.Expr] = base  # type: ignore[assignment]
    for _ in range(max_depth - 1):
        tree = st.one_of(base, extend(tree))
    return tree.filter(lambda rule: _leaf_count(rule) <= max_leaves)


def _leaf_count(node: ast.Node) -> int:
    return sum(1 for n in ast.walk(node) if not ast.children(n))


def _depth(node: ast.Node) -> int:
    """Levels of ``and``/``or`` groups above the deepest condition, plus one."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        grows = isinstance(current, ast.And | ast.Or)
        stack.extend((kid, level + grows) for kid in ast.children(current))
    return deepest


@st.composite
def _rule_with_profiles(
    draw: st.DrawFn, rules_: st.SearchStrategy[ast.Expr], schema: Schema | None,
    now: datetime | None, size: int,
) -> tuple[ast.Expr, list[dict[str, Any]]]:  # fmt: skip
    rule = draw(rules_)
    users = draw(st.lists(profiles(schema, now=now, near=rule), min_size=size, max_size=size))
    return rule, users


@shown_as_called
def rules_with_profiles(
    *,
    schema: Schema | Mapping[str, object],
    now: datetime | None = None,
    size: int = 10,
    **kwargs: Any,
) -> st.SearchStrategy[tuple[ast.Expr, list[dict[str, Any]]]]:
    """A rule from :func:`rules` (same keyword arguments) with ``size`` users drawn near it.

    A property that checks every user of the list tries ``size`` boundaries of each drawn
    rule at the cost of one example; planted bugs are found in far fewer examples than
    with one user per rule (docs/testing.md).
    """
    _check_size("size", size, 1)
    types = Schema.coerce(schema)
    return _rule_with_profiles(rules(schema=types, **kwargs), types, now, size)


@shown_as_called
def rule_texts(**kwargs: Any) -> st.SearchStrategy[str]:
    """Rule text: :func:`rules` printed in canonical form. Takes the same arguments."""
    from audience_dsl.language.printer import print_rule

    return rules(**kwargs).map(print_rule)


def _compile_quietly(node: ast.Node) -> dict[str, Any]:
    from audience_dsl.pipeline import to_audience

    # The call's warnings go to a list of its own: no process-wide filter is touched.
    return cast("dict[str, Any]", to_audience(node, warnings=[]))


@shown_as_called
def audiences(**kwargs: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Valid Connected Audience objects: :func:`rules` compiled. Same arguments."""
    return rules(**kwargs).map(_compile_quietly)


# ---- near-miss rules -------------------------------------------------------------------

#: Keywords and a realistic misspelling of each.
_MISSPELLED = {
    "and": "adn", "or": "ro", "not": "nto", "contains": "contians", "between": "betwen",
    "exists": "exsits", "before": "befor", "after": "atfer", "is": "si", "in": "inn",
    "days": "dyas", "matches": "matchs",
}  # fmt: skip
_OPERATOR = re.compile(r"(?<![<>!=~])(!=|>=|<=|=|>|<|~)(?![=~])")
_KEYWORD = re.compile(r"\b(" + "|".join(_MISSPELLED) + r")\b")
#: The mistakes :func:`invalid_rule_texts` makes, by name.
MISTAKES = ("missing quote", "doubled operator", "misspelled keyword", "unbalanced parenthesis")


def _outside_strings(text: str, match: re.Match[str]) -> bool:
    return text[: match.start()].count('"') % 2 == 0


def _mistake(text: str, kind: str, pick: int) -> str | None:
    """``text`` with one mistake of ``kind`` at the ``pick``-th place it fits, if any."""
    if kind == "missing quote":
        places = [i for i, ch in enumerate(text) if ch == '"']
        if not places:
            return None
        i = places[pick % len(places)]
        return text[:i] + text[i + 1 :]
    if kind == "unbalanced parenthesis":
        closing = [i for i, ch in enumerate(text) if ch == ")"]
        if closing and pick % 2:
            i = closing[pick % len(closing)]
            return text[:i] + text[i + 1 :]
        return "(" + text
    pattern = _OPERATOR if kind == "doubled operator" else _KEYWORD
    found = [m for m in pattern.finditer(text) if _outside_strings(text, m)]
    if not found:
        return None
    m = found[pick % len(found)]
    wrong = f"{m.group()} {m.group()}" if kind == "doubled operator" else _MISSPELLED[m.group()]
    return text[: m.start()] + wrong + text[m.end() :]


def _refused(text: str) -> bool:
    from audience_dsl.pipeline import compile as compile_rule

    try:
        compile_rule(text, warnings=[])
    except AudienceError:
        return True
    return False


@st.composite
def _near_miss(draw: st.DrawFn, texts: st.SearchStrategy[str], kinds: tuple[str, ...]) -> str:
    text = draw(texts)
    pick = draw(st.integers(0, 50))
    for offset in range(len(kinds)):
        kind = kinds[(pick + offset) % len(kinds)]
        wrong = _mistake(text, kind, pick)
        if wrong is not None and _refused(wrong):
            return wrong
    wrong = "(" + text  # every rule has a place for this one
    assume(_refused(wrong))
    return wrong


@shown_as_called
def invalid_rule_texts(
    *, mistakes: Iterable[str] = MISTAKES, **kwargs: Any
) -> st.SearchStrategy[str]:
    """Rule text with one realistic mistake, which :func:`audience_dsl.compile` refuses:
    a missing quote, a doubled operator, a misspelled keyword or an unbalanced
    parenthesis (``mistakes`` picks some of :data:`MISTAKES`). Other keyword arguments
    go to :func:`rules`.

    >>> from hypothesis import given, settings
    >>> import audience_dsl
    >>> @settings(max_examples=20)
    ... @given(invalid_rule_texts(max_leaves=3))
    ... def test_refused(text):
    ...     try:
    ...         audience_dsl.compile(text)
    ...     except audience_dsl.AudienceError:
    ...         pass
    ...     else:
    ...         raise AssertionError(text)
    >>> test_refused()
    """
    kinds = tuple(mistakes)
    unknown = [k for k in kinds if k not in MISTAKES]
    if not kinds or unknown:
        raise InvalidArgument(f"mistakes={list(kinds)!r}: choose some of {list(MISTAKES)}")
    return _near_miss(rule_texts(**kwargs), kinds)


# ---- request bodies --------------------------------------------------------------------

_IDS = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"), min_size=1, max_size=24)
_PROPERTIES = st.dictionaries(_NAMES, st.integers(-1000, 1000) | st.booleans() | WORDS, max_size=3)


@st.composite
def _bodies(draw: st.DrawFn, schema: Schema | None, max_recipients: int) -> dict[str, Any]:
    body: dict[str, Any] = {"campaign_id": draw(_IDS)}
    if draw(st.booleans()):
        body["send_id"] = draw(_IDS)
    if draw(st.booleans()):
        body["trigger_properties"] = draw(_PROPERTIES)
    broadcast = draw(st.booleans())
    if draw(st.booleans()) or (broadcast is False and draw(st.booleans())):
        body["audience"] = draw(audiences(schema=schema, max_leaves=4))
    if broadcast:
        body["broadcast"] = True
        return body
    users = draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=max_recipients,
                          unique=True))  # fmt: skip
    recipients = []
    for user in users:
        recipient: dict[str, Any] = {"external_user_id": f"user-{user}"}
        if draw(st.integers(0, 3)) == 0:
            recipient["trigger_properties"] = draw(_PROPERTIES)
        recipients.append(recipient)
    body["recipients"] = recipients
    return body


@shown_as_called
def trigger_send_bodies(
    *, schema: Schema | Mapping[str, object] | None = None, max_recipients: int = 5
) -> st.SearchStrategy[dict[str, Any]]:
    """Whole request bodies for ``POST /campaigns/trigger/send`` that Braze accepts: a
    campaign id, maybe a send id and trigger properties, and either ``broadcast: true``
    (with or without an audience) or up to ``max_recipients`` recipients (with or without
    an audience drawn over ``schema``).

    >>> from audience_dsl.braze.body import check_body
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(trigger_send_bodies())
    ... def test_valid(body):
    ...     check_body(body)
    >>> test_valid()
    """
    _check_size("max_recipients", max_recipients, 1)
    types = Schema.coerce(schema) if schema is not None else None
    return _bodies(types, max_recipients)


# ---- st.from_type ----------------------------------------------------------------------

_SMALL = Schema({"name": "String", "age": "Numeric", "tags": "Array", "seen": "Time"})


def _only(cls: type[ast.Node]) -> st.SearchStrategy[Any]:
    return rules(schema=_SMALL, max_leaves=4).filter(lambda rule: type(rule) is cls)


def _groups(cls: type[ast.And] | type[ast.Or]) -> st.SearchStrategy[Any]:
    parts = st.lists(rules(schema=_SMALL, max_leaves=3), min_size=2, max_size=3)
    return parts.filter(lambda ps: not any(type(p) is cls for p in ps)).map(
        lambda ps: cls(children=tuple(ps))
    )


def _core_of(cls: type[ast.AllOf] | type[ast.AnyOf]) -> st.SearchStrategy[Any]:
    from audience_dsl.braze.codec import to_core

    return (
        audiences(schema=_SMALL, max_leaves=4).map(to_core).filter(lambda node: type(node) is cls)
    )


def _register() -> None:
    """Make ``st.from_type`` draw schemas, rules and each kind of AST node."""
    builtin = _leaf(_SMALL, True, frozenset())
    table: dict[type, st.SearchStrategy[Any]] = {
        Schema: schemas(),
        ast.Rule: rules().map(lambda expr: ast.Rule(expr=expr)),
        ast.Node: rules(),
        ast.Attribute: _leaf(_SMALL, False, _allowed(None, False)),
        ast.Subscription: builtin.filter(lambda n: isinstance(n, ast.Subscription)),
        ast.LastUsedApp: builtin.filter(lambda n: isinstance(n, ast.LastUsedApp)),
        ast.In: _sugar(_SMALL, frozenset({"in", "not in"})),
        ast.Between: _sugar(_SMALL, frozenset({"between"})),
        ast.ContainsAny: _sugar(_SMALL, frozenset({"contains any"})),
        ast.ContainsAll: _sugar(_SMALL, frozenset({"contains all"})),
        ast.And: _groups(ast.And),
        ast.Or: _groups(ast.Or),
        ast.Not: rules(schema=_SMALL, max_leaves=3)
        .filter(_negatable)
        .map(lambda expr: ast.Not(operand=expr)),
        ast.AllOf: _core_of(ast.AllOf),
        ast.AnyOf: _core_of(ast.AnyOf),
    }
    for cls, strategy in table.items():
        st.register_type_strategy(cls, strategy)


_register()
