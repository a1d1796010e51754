"""Leaf predicates: each filter of a rule as a closure over a profile, built once, with
the meaning :mod:`audience_dsl.semantics` gives it; and how stored values are read."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from audience_dsl.errors import ValidationError
from audience_dsl.evaluator.regexes import BoundedRegexError, Search, compile_bounded
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.semantics import Kind, Semantics, WrongType, kind_of

# ---- stored values ------------------------------------------------------------------------

#: Braze stores a "time" with a year above 3000 as a string, so time filters skip it.
_MAX_YEAR = 3000


_SEQUENCES = (str, list, tuple)


def is_blank(value: object) -> bool:
    return value is None or (not value and type(value) in _SEQUENCES)


def parse_time(value: object) -> datetime | None:
    """A stored or written date-time as an aware instant, or ``None`` if it is not one.

    ISO 8601 (``Z``, ``+hh:mm`` and ``+hhmm`` offsets) and Braze's ``MM/dd/yyyy``; no
    offset means UTC, so a date alone is midnight UTC.
    """
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            try:
                instant = datetime.strptime(value, "%m/%d/%Y")
            except ValueError:
                return None
    else:
        return None
    if instant.year > _MAX_YEAR:
        return None
    if instant.tzinfo is None or instant.utcoffset() is None:
        instant = instant.replace(tzinfo=UTC)
    return instant


# ---- leaf predicates ----------------------------------------------------------------------

#: A compiled leaf: (custom attributes, whole profile) -> matches?
Predicate: TypeAlias = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


class InvalidValue(Exception):
    """A leaf that cannot be evaluated (bad regex, bad date-time, unbound parameter)."""

    def __init__(self, message: str, parameter: ast.Param | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter


def _check_bound(value: object) -> None:
    if isinstance(value, ast.Param):
        raise InvalidValue(f"the parameter `${value.name}` has no value", value)
    if isinstance(value, tuple):
        for item in value:
            _check_bound(item)


def _typed(
    name: str, missing: bool, wrong: bool, accepts: Callable[[object], bool],
    test: Callable[[Any], bool],
) -> Predicate:  # fmt: skip
    """A predicate from its three cells: missing, wrong type, and the test on good values."""

    def predicate(attrs: Mapping[str, Any], profile: Mapping[str, Any]) -> bool:
        stored = attrs.get(name)
        if stored is None or (not stored and type(stored) in _SEQUENCES):
            return missing
        if not accepts(stored):
            return wrong
        return test(stored)

    return predicate


def is_str(value: object) -> bool:
    return type(value) is str


def is_number(value: object) -> bool:
    return type(value) is int or type(value) is float


def is_bool(value: object) -> bool:
    return type(value) is bool


def is_array(value: object) -> bool:
    return type(value) is list or type(value) is tuple


def is_text_or_array(value: object) -> bool:
    return type(value) in (str, list, tuple)


def compile_regex(pattern: str) -> Search:
    """Braze's regex matching: a case-insensitive search (unanchored), run in bounded
    time (:mod:`audience_dsl.evaluator.regexes`); a pattern that cannot be is refused."""
    try:
        return compile_bounded(pattern)
    except BoundedRegexError as exc:
        raise InvalidValue(str(exc)) from None


def _attribute_predicate(leaf: ast.Attribute, now: datetime, sem: Semantics) -> Predicate:
    name, comparison, value = leaf.name, leaf.comparison, leaf.value
    _check_bound(value)
    if comparison is C.EXISTS:
        return lambda attrs, _p: not is_blank(attrs.get(name))
    if comparison is C.DOES_NOT_EXIST:
        return lambda attrs, _p: is_blank(attrs.get(name))
    missing = sem.missing_matches(comparison, value)
    wrong = missing if sem.wrong_type is WrongType.AS_MISSING else False
    kind = kind_of(comparison, value)

    if kind is Kind.TIME:
        return _time_predicate(name, comparison, value, now, sem, missing, wrong)
    if comparison in (C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX):
        if not isinstance(value, str):
            raise InvalidValue(f"`{comparison}` takes a regular expression as a string")
        search = compile_regex(value)
        if comparison is C.MATCHES_REGEX:
            return _typed(name, missing, wrong, is_str, lambda x: search(x) is not None)
        return _typed(name, missing, wrong, is_str, lambda x: search(x) is None)
    if kind in (Kind.ARRAY, Kind.TEXT_OR_ARRAY):
        wanted = frozenset(strings_of(comparison, value))
        accepts = is_array if kind is Kind.ARRAY else is_text_or_array

        def hit(x: Any) -> bool:
            if type(x) is str:
                return x in wanted
            return any(type(item) is str and item in wanted for item in x)

        if comparison in (C.INCLUDES_VALUE, C.IS_ANY_OF):
            return _typed(name, missing, wrong, accepts, hit)
        return _typed(name, missing, wrong, accepts, lambda x: not hit(x))
    if kind is Kind.BOOLEAN:
        if comparison is C.EQUALS:
            return _typed(name, missing, wrong, is_bool, lambda x: x is value)
        return _typed(name, missing, wrong, is_bool, lambda x: x is not value)
    if kind is Kind.NUMBER:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidValue(f"`{comparison}` compares numbers")
        number = value
        tests: dict[C, Callable[[Any], bool]] = {
            C.EQUALS: lambda x: x == number,
            C.NOT_EQUAL: lambda x: x != number,
            C.GREATER_THAN: lambda x: x > number,
            C.GREATER_THAN_OR_EQUAL_TO: lambda x: x >= number,
            C.LESS_THAN: lambda x: x < number,
            C.LESS_THAN_OR_EQUAL_TO: lambda x: x <= number,
        }
        return _typed(name, missing, wrong, is_number, tests[comparison])
    # strings: equals / not_equal
    if not isinstance(value, str):
        raise InvalidValue(f"`{comparison}` cannot compare {show_json(value)}")
    text = value
    if comparison is C.EQUALS:
        return _typed(name, missing, wrong, is_str, lambda x: x == text)
    if sem.string_not_equal_case_sensitive:
        return _typed(name, missing, wrong, is_str, lambda x: x != text)
    folded = text.casefold()
    return _typed(name, missing, wrong, is_str, lambda x: x.casefold() != folded)


def strings_of(comparison: C, value: object) -> tuple[str, ...]:
    values = value if isinstance(value, tuple | list) else (value,)
    if not values or not all(isinstance(v, str) for v in values):
        raise InvalidValue(f"`{comparison}` takes a string or a list of strings")
    return tuple(values)


def days_of(comparison: C, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InvalidValue(f"`{comparison}` takes a number of days (0 or more)")
    if not math.isfinite(value) or value > 3_650_000:
        raise InvalidValue(f"`{comparison}` takes a number of days below 10,000 years")
    return float(value)


def instant_of(comparison: str, value: object) -> datetime:
    instant = parse_time(value) if isinstance(value, str) else None
    if instant is None:
        raise InvalidValue(f"`{comparison}` takes an ISO 8601 date-time, not {show_json(value)}")
    return instant


def _window(
    comparison: C, value: object, now: datetime, sem: Semantics
) -> Callable[[datetime], bool]:
    """The test a time comparison makes on a present instant."""
    if comparison in (C.BEFORE, C.AFTER):
        bound = instant_of(comparison.value, value)
        strict = sem.strict_before_after
        if comparison is C.BEFORE:
            return (lambda t: t < bound) if strict else (lambda t: t <= bound)
        return (lambda t: t > bound) if strict else (lambda t: t >= bound)
    span = timedelta(days=days_of(comparison, value))
    inclusive = sem.day_boundary_inclusive
    if comparison is C.LESS_THAN_X_DAYS_AGO:
        low = now - span
        return (lambda t: low <= t <= now) if inclusive else (lambda t: low < t <= now)
    if comparison is C.GREATER_THAN_X_DAYS_AGO:
        edge = now - span
        return (lambda t: t <= edge) if inclusive else (lambda t: t < edge)
    if comparison is C.LESS_THAN_X_DAYS_IN_THE_FUTURE:
        high = now + span
        return (lambda t: now <= t <= high) if inclusive else (lambda t: now <= t < high)
    edge = now + span
    return (lambda t: t >= edge) if inclusive else (lambda t: t > edge)


def _time_predicate(
    name: str, comparison: C, value: object, now: datetime, sem: Semantics,
    missing: bool, wrong: bool,
) -> Predicate:  # fmt: skip
    test = _window(comparison, value, now, sem)

    def predicate(attrs: Mapping[str, Any], profile: Mapping[str, Any]) -> bool:
        stored = attrs.get(name)
        if stored is None or (not stored and type(stored) in _SEQUENCES):
            return missing
        instant = parse_time(stored)
        if instant is None:
            return wrong
        return test(instant)

    return predicate


_STATES = frozenset(state.value for state in ast.State)


def subscription_state(profile: Mapping[str, Any], channel: ast.Channel) -> str:
    """A profile's push or email subscription state; absent means ``subscribed``."""
    key = f"{channel.value}_subscribe"
    state = profile.get(key)
    if state is None:
        return ast.State.SUBSCRIBED.value
    if state not in _STATES:
        raise ValidationError(
            [
                (
                    key,
                    f"{show_json(state)} is not a subscription state "
                    "(opted_in, subscribed or unsubscribed)",
                )
            ]
        )
    return str(state)


def last_used(profile: Mapping[str, Any]) -> datetime | None:
    """The latest ``last_used`` of a profile's apps, or ``None`` if it never used one."""
    apps = profile.get("apps")
    if apps is None:
        return None
    if not isinstance(apps, list | tuple):
        raise ValidationError([("apps", f"expected a list of apps, found {show_json(apps)}")])
    latest: datetime | None = None
    for app in apps:
        instant = parse_time(app.get("last_used")) if isinstance(app, Mapping) else None
        if instant is not None and (latest is None or instant > latest):
            latest = instant
    return latest


def _subscription_predicate(leaf: ast.Subscription, sem: Semantics) -> Predicate:
    _check_bound(leaf.state)
    state = leaf.state.value if isinstance(leaf.state, ast.State) else str(leaf.state)
    if state not in _STATES:
        raise InvalidValue(f"{show_json(state)} is not a subscription state")
    accepted = {state}
    if sem.subscribed_includes_opted_in and state == ast.State.SUBSCRIBED.value:
        accepted.add(ast.State.OPTED_IN.value)
    wanted = frozenset(accepted)
    channel = leaf.channel
    if leaf.comparison is C.IS:
        return lambda _a, profile: subscription_state(profile, channel) in wanted
    return lambda _a, profile: subscription_state(profile, channel) not in wanted


def _last_used_predicate(leaf: ast.LastUsedApp, now: datetime, sem: Semantics) -> Predicate:
    _check_bound(leaf.value)
    test = _window(leaf.comparison, leaf.value, now, sem)
    never = sem.never_used_app_matches

    def predicate(attrs: Mapping[str, Any], profile: Mapping[str, Any]) -> bool:
        instant = last_used(profile)
        return never if instant is None else test(instant)

    return predicate


def expansion(node: ast.Node) -> tuple[bool, tuple[ast.Attribute, ...]]:
    """A sugar node as (all_of?, its filters), following the language's expansion table."""
    if isinstance(node, ast.In):
        _check_bound(node.values)
        assert isinstance(node.values, tuple)
        comparison = C.NOT_EQUAL if node.negated else C.EQUALS
        parts = tuple(
            ast.Attribute(name=node.name, comparison=comparison, value=v) for v in node.values
        )
        return node.negated, parts
    if isinstance(node, ast.Between):
        _check_bound((node.low, node.high))
        return True, (
            ast.Attribute(name=node.name, comparison=C.GREATER_THAN_OR_EQUAL_TO, value=node.low),
            ast.Attribute(name=node.name, comparison=C.LESS_THAN_OR_EQUAL_TO, value=node.high),
        )
    assert isinstance(node, ast.ContainsAny | ast.ContainsAll)
    _check_bound(node.values)
    assert isinstance(node.values, tuple)
    parts = tuple(
        ast.Attribute(name=node.name, comparison=C.INCLUDES_VALUE, value=v) for v in node.values
    )
    return isinstance(node, ast.ContainsAll), parts


def leaf_predicate(node: ast.Node, now: datetime, sem: Semantics) -> Predicate:
    if isinstance(node, ast.Attribute):
        return _attribute_predicate(node, now, sem)
    if isinstance(node, ast.Subscription):
        return _subscription_predicate(node, sem)
    if isinstance(node, ast.LastUsedApp):
        return _last_used_predicate(node, now, sem)
    all_of, parts = expansion(node)
    if not parts:
        raise InvalidValue("an empty list of values")
    predicates = tuple(_attribute_predicate(part, now, sem) for part in parts)
    if len(predicates) == 1:
        return predicates[0]
    if all_of:
        return lambda a, p: all(q(a, p) for q in predicates)
    return lambda a, p: any(q(a, p) for q in predicates)


def show_json(value: object) -> str:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, ast.Param):
        return f"${value.name}"
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return type(value).__name__
