"""The reference evaluator: does one user profile match a rule or a Connected Audience?

Braze evaluates audiences on its servers, out of sight. This module is the project's
executable statement of what every comparison means, so that a rule can be tried on
real profiles before it is sent, and so that the compiler's negation push-down can be
checked against an oracle (a rule and the JSON it compiles to must select the same users).

Meanings come from docs/semantics.md. Where Braze documents a behaviour the evaluator
follows it; where the behaviour had to be inferred, the choice is a named field of
:class:`Semantics`, so that a cell settled by a test against a live workspace is a
one-word change.

Three entry points share one compiled form of a rule (:class:`_Program`): every leaf
becomes a predicate closure, built once, and the AND/OR/NOT structure becomes a flat
post-order program run with an explicit stack, so that trees of any depth work.

* :func:`evaluate` answers one profile;
* :func:`explain` answers one profile and says why, condition by condition;
* :func:`preview` streams many profiles (dicts or a JSON-lines export) and counts.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeAlias

from . import ast
from .ast import Comparison as C
from .check import implied_type
from .errors import Diagnostic, ParameterError, ValidationError
from .source import Source, Span

__all__ = [
    "Explanation",
    "LeafCount",
    "Preview",
    "Semantics",
    "Step",
    "WrongType",
    "audience_to_ast",
    "evaluate",
    "explain",
    "preview",
]


# ---- the policy ---------------------------------------------------------------------------


class WrongType(StrEnum):
    """What a comparison does with a stored value of another type than it compares.

    ``"5"`` in a number comparison, ``5`` in a string comparison, a time attribute whose
    text is not a date-time, and so on. ``exists``/``does_not_exist`` have no type: they
    only ask whether a value is there.
    """

    #: The comparison matches nothing, negative comparisons included (Braze evidently
    #: drops such users from a segment's filters).
    NO_MATCH = "no_match"
    #: The comparison treats the value as missing (so ``not_equal`` matches it).
    AS_MISSING = "as_missing"


@dataclass(frozen=True, slots=True, kw_only=True)
class Semantics:
    """The inferred cells of the semantics tables, one switch each.

    The defaults are the reference semantics of docs/semantics.md, and agree with the
    compiler's ``lower.MISSING_MATCHES``. Each field names the cell it decides and
    whether Braze documents it (**D**) or it is our inference (**I**, with confidence).
    "Missing" means the key is absent, ``null``, ``""`` or ``[]``.

    Missing values:

    * ``string_equals_matches_missing`` — string ``equals`` on a missing value.
      I (high): ``False``.
    * ``string_not_equal_matches_missing`` — string ``not_equal`` on a missing value.
      I (medium; the UI's replacement, "is none of", includes missing): ``True``.
    * ``is_any_of_matches_missing`` — ``is_any_of`` (string or array) on a missing value.
      I (high): ``False``. (``is_none_of`` matches missing values: D, not switchable.)
    * ``regex_matches_missing`` — ``matches_regex`` on a missing value. I (high):
      ``False``. (``does_not_match_regex`` never matches missing values: D.)
    * ``number_equals_zero_matches_missing`` — number ``equals 0`` on a missing value.
      D for the dashboard's "Exactly 0", I (medium) for the API: ``True``.
    * ``number_not_equal_matches_missing`` — number ``not_equal``. I (low-medium): ``True``.
    * ``greater_than_matches_missing`` — I (high): ``False``.
    * ``greater_than_or_equal_to_matches_missing`` — I (medium): ``False``.
    * ``less_than_matches_missing`` — D for the dashboard's "Less Than", I (medium) for the
      API: ``True``.
    * ``less_than_or_equal_to_matches_missing`` — I (low, by analogy with ``less_than``):
      ``True``.
    * ``boolean_equals_matches_missing`` — boolean ``equals`` on a missing value. D for the
      dashboard ("or not set" is a separate option), I (medium) for the API: ``False``.
    * ``boolean_not_equal_matches_missing`` — boolean ``not_equal``. I (low): ``True``.
    * ``includes_value_matches_missing`` — ``includes_value`` on a missing or empty array.
      I (high): ``False``.
    * ``does_not_include_value_matches_missing`` — ``does_not_include_value`` on a missing
      or empty array. I (medium-high, as "includes none of"): ``True``.
    * ``time_matches_missing`` — every time comparison (``before``, ``after``, the four
      relative-day ones) on a missing value. I (high): ``False``.
    * ``never_used_app_matches`` — ``last_used_app after``/``before`` for a user with no
      app session. I (medium): ``False``.

    Present values:

    * ``wrong_type`` — a stored value of another type than the comparison compares
      (see :class:`WrongType`). I (low-medium): ``NO_MATCH``. ``exists`` is true for such
      a value under either setting (I, low).
    * ``string_not_equal_case_sensitive`` — whether string ``not_equal`` compares case
      sensitively. I (low: older docs call "does not equal" case-insensitive, its
      replacement "is none of" is case-sensitive): ``True``.
    * ``strict_before_after`` — ``before``/``after`` (custom attributes and
      ``last_used_app``) exclude the instant itself. I (low-medium): ``True``.
    * ``day_boundary_inclusive`` — the relative-day comparisons include a value exactly
      ``X·24h`` from now. I (low): ``False``. (Windows of 24 hours from now, with no
      future values in "ago" and no past values in "in the future": D.)
    * ``subscribed_includes_opted_in`` — subscription ``is subscribed`` also matches
      ``opted_in`` users (as ``/messages/send``'s ``recipient_subscription_state`` does).
      The Connected Audience docs compare the state itself (D): ``False``.
    """

    string_equals_matches_missing: bool = False
    string_not_equal_matches_missing: bool = True
    is_any_of_matches_missing: bool = False
    regex_matches_missing: bool = False
    number_equals_zero_matches_missing: bool = True
    number_not_equal_matches_missing: bool = True
    greater_than_matches_missing: bool = False
    greater_than_or_equal_to_matches_missing: bool = False
    less_than_matches_missing: bool = True
    less_than_or_equal_to_matches_missing: bool = True
    boolean_equals_matches_missing: bool = False
    boolean_not_equal_matches_missing: bool = True
    includes_value_matches_missing: bool = False
    does_not_include_value_matches_missing: bool = True
    time_matches_missing: bool = False
    never_used_app_matches: bool = False
    wrong_type: WrongType = WrongType.NO_MATCH
    string_not_equal_case_sensitive: bool = True
    strict_before_after: bool = True
    day_boundary_inclusive: bool = False
    subscribed_includes_opted_in: bool = False

    def missing_matches(self, comparison: C, value: object) -> bool:
        """Whether ``comparison value`` matches a user who lacks the attribute."""
        kind = _kind(comparison, value)
        if comparison is C.EXISTS:
            return False
        if comparison is C.DOES_NOT_EXIST or comparison is C.IS_NONE_OF:
            return True
        if comparison is C.DOES_NOT_MATCH_REGEX:
            return False
        if comparison is C.MATCHES_REGEX:
            return self.regex_matches_missing
        if comparison is C.IS_ANY_OF:
            return self.is_any_of_matches_missing
        if comparison is C.INCLUDES_VALUE:
            return self.includes_value_matches_missing
        if comparison is C.DOES_NOT_INCLUDE_VALUE:
            return self.does_not_include_value_matches_missing
        if kind is _Kind.TIME:
            return self.time_matches_missing
        if comparison is C.EQUALS:
            if kind is _Kind.STRING:
                return self.string_equals_matches_missing
            if kind is _Kind.BOOLEAN:
                return self.boolean_equals_matches_missing
            return value == 0 and self.number_equals_zero_matches_missing
        if comparison is C.NOT_EQUAL:
            if kind is _Kind.STRING:
                return self.string_not_equal_matches_missing
            if kind is _Kind.BOOLEAN:
                return self.boolean_not_equal_matches_missing
            return self.number_not_equal_matches_missing
        return {
            C.GREATER_THAN: self.greater_than_matches_missing,
            C.GREATER_THAN_OR_EQUAL_TO: self.greater_than_or_equal_to_matches_missing,
            C.LESS_THAN: self.less_than_matches_missing,
            C.LESS_THAN_OR_EQUAL_TO: self.less_than_or_equal_to_matches_missing,
        }[comparison]


class _Kind(StrEnum):
    """The type of stored value a comparison reads."""

    STRING = "a string"
    NUMBER = "a number"
    BOOLEAN = "a boolean"
    TIME = "a date-time"
    ARRAY = "an array"
    TEXT_OR_ARRAY = "a string or an array"
    ANY = "any value"




_KIND_OF_TYPE = {
    ast.DataType.STRING: _Kind.STRING,
    ast.DataType.NUMERIC: _Kind.NUMBER,
    ast.DataType.BOOLEAN: _Kind.BOOLEAN,
    ast.DataType.TIME: _Kind.TIME,
    ast.DataType.ARRAY: _Kind.ARRAY,
}


def _kind(comparison: C, value: object) -> _Kind:
    if comparison in (C.EXISTS, C.DOES_NOT_EXIST):
        return _Kind.ANY
    if comparison in (C.IS_ANY_OF, C.IS_NONE_OF):
        return _Kind.TEXT_OR_ARRAY
    implied = implied_type(comparison, value)
    return _KIND_OF_TYPE[implied] if implied is not None else _Kind.STRING


# ---- stored values ------------------------------------------------------------------------

#: Braze stores a "time" with a year above 3000 as a string, so time filters skip it.
_MAX_YEAR = 3000


_SEQUENCES = (str, list, tuple)


def _is_blank(value: object) -> bool:
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


class _Invalid(Exception):
    """A leaf that cannot be evaluated (bad regex, bad date-time, unbound parameter)."""

    def __init__(self, message: str, parameter: ast.Param | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter


def _check_bound(value: object) -> None:
    if isinstance(value, ast.Param):
        raise _Invalid(f"the parameter `${value.name}` has no value", value)
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


def _is_str(value: object) -> bool:
    return type(value) is str


def _is_number(value: object) -> bool:
    return type(value) is int or type(value) is float


def _is_bool(value: object) -> bool:
    return type(value) is bool


def _is_array(value: object) -> bool:
    return type(value) is list or type(value) is tuple


def _is_text_or_array(value: object) -> bool:
    return type(value) in (str, list, tuple)


def compile_regex(pattern: str) -> re.Pattern[str]:
    """Braze's regex matching: a case-insensitive search (unanchored)."""
    try:
        return re.compile(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as exc:
        raise _Invalid(f"invalid regular expression {pattern!r}: {exc}") from exc


def _attribute_predicate(leaf: ast.Attribute, now: datetime, sem: Semantics) -> Predicate:
    name, comparison, value = leaf.name, leaf.comparison, leaf.value
    _check_bound(value)
    if comparison is C.EXISTS:
        return lambda attrs, _p: not _is_blank(attrs.get(name))
    if comparison is C.DOES_NOT_EXIST:
        return lambda attrs, _p: _is_blank(attrs.get(name))
    missing = sem.missing_matches(comparison, value)
    wrong = missing if sem.wrong_type is WrongType.AS_MISSING else False
    kind = _kind(comparison, value)

    if kind is _Kind.TIME:
        return _time_predicate(name, comparison, value, now, sem, missing, wrong)
    if comparison in (C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX):
        if not isinstance(value, str):
            raise _Invalid(f"`{comparison}` takes a regular expression as a string")
        search = compile_regex(value).search
        if comparison is C.MATCHES_REGEX:
            return _typed(name, missing, wrong, _is_str, lambda x: search(x) is not None)
        return _typed(name, missing, wrong, _is_str, lambda x: search(x) is None)
    if kind in (_Kind.ARRAY, _Kind.TEXT_OR_ARRAY):
        wanted = frozenset(_strings(comparison, value))
        accepts = _is_array if kind is _Kind.ARRAY else _is_text_or_array

        def hit(x: Any) -> bool:
            if type(x) is str:
                return x in wanted
            return any(type(item) is str and item in wanted for item in x)

        if comparison in (C.INCLUDES_VALUE, C.IS_ANY_OF):
            return _typed(name, missing, wrong, accepts, hit)
        return _typed(name, missing, wrong, accepts, lambda x: not hit(x))
    if kind is _Kind.BOOLEAN:
        if comparison is C.EQUALS:
            return _typed(name, missing, wrong, _is_bool, lambda x: x is value)
        return _typed(name, missing, wrong, _is_bool, lambda x: x is not value)
    if kind is _Kind.NUMBER:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _Invalid(f"`{comparison}` compares numbers")
        number = value
        tests: dict[C, Callable[[Any], bool]] = {
            C.EQUALS: lambda x: x == number,
            C.NOT_EQUAL: lambda x: x != number,
            C.GREATER_THAN: lambda x: x > number,
            C.GREATER_THAN_OR_EQUAL_TO: lambda x: x >= number,
            C.LESS_THAN: lambda x: x < number,
            C.LESS_THAN_OR_EQUAL_TO: lambda x: x <= number,
        }
        return _typed(name, missing, wrong, _is_number, tests[comparison])
    # strings: equals / not_equal
    if not isinstance(value, str):
        raise _Invalid(f"`{comparison}` cannot compare {_json(value)}")
    text = value
    if comparison is C.EQUALS:
        return _typed(name, missing, wrong, _is_str, lambda x: x == text)
    if sem.string_not_equal_case_sensitive:
        return _typed(name, missing, wrong, _is_str, lambda x: x != text)
    folded = text.casefold()
    return _typed(name, missing, wrong, _is_str, lambda x: x.casefold() != folded)


def _strings(comparison: C, value: object) -> tuple[str, ...]:
    values = value if isinstance(value, tuple | list) else (value,)
    if not values or not all(isinstance(v, str) for v in values):
        raise _Invalid(f"`{comparison}` takes a string or a list of strings")
    return tuple(values)


def _days(comparison: C, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise _Invalid(f"`{comparison}` takes a number of days (0 or more)")
    if not math.isfinite(value) or value > 3_650_000:
        raise _Invalid(f"`{comparison}` takes a number of days below 10,000 years")
    return float(value)


def _instant(comparison: str, value: object) -> datetime:
    instant = parse_time(value) if isinstance(value, str) else None
    if instant is None:
        raise _Invalid(f"`{comparison}` takes an ISO 8601 date-time, not {_json(value)}")
    return instant


def _window(
    comparison: C, value: object, now: datetime, sem: Semantics
) -> Callable[[datetime], bool]:
    """The test a time comparison makes on a present instant."""
    if comparison in (C.BEFORE, C.AFTER):
        bound = _instant(comparison.value, value)
        strict = sem.strict_before_after
        if comparison is C.BEFORE:
            return (lambda t: t < bound) if strict else (lambda t: t <= bound)
        return (lambda t: t > bound) if strict else (lambda t: t >= bound)
    span = timedelta(days=_days(comparison, value))
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
                    f"{_json(state)} is not a subscription state "
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
        raise ValidationError([("apps", f"expected a list of apps, found {_json(apps)}")])
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
        raise _Invalid(f"{_json(state)} is not a subscription state")
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


def _expansion(node: ast.Node) -> tuple[bool, tuple[ast.Attribute, ...]]:
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


def _leaf_predicate(node: ast.Node, now: datetime, sem: Semantics) -> Predicate:
    if isinstance(node, ast.Attribute):
        return _attribute_predicate(node, now, sem)
    if isinstance(node, ast.Subscription):
        return _subscription_predicate(node, sem)
    if isinstance(node, ast.LastUsedApp):
        return _last_used_predicate(node, now, sem)
    all_of, parts = _expansion(node)
    if not parts:
        raise _Invalid("an empty list of values")
    predicates = tuple(_attribute_predicate(part, now, sem) for part in parts)
    if len(predicates) == 1:
        return predicates[0]
    if all_of:
        return lambda a, p: all(q(a, p) for q in predicates)
    return lambda a, p: any(q(a, p) for q in predicates)


# ---- the program: leaves plus a post-order structure ------------------------------------

_LEAF, _ALL, _ANY, _NOT = 0, 1, 2, 3
_SUGAR = (ast.In, ast.Between, ast.ContainsAny, ast.ContainsAll)
_FILTERS = (ast.Attribute, ast.Subscription, ast.LastUsedApp)

#: Deeper structures are run by the stack machine rather than generated code.
_GENERATED_DEPTH = 40
_GENERATED_LEAVES = 250


@dataclass(frozen=True, slots=True)
class _Instruction:
    op: int
    arg: int  # leaf index, or child count
    node: ast.Node
    order: int  # position in pre-order (for explanations)
    depth: int


@dataclass(slots=True)
class _Program:
    leaves: list[ast.Node]
    predicates: list[Predicate]
    code: list[_Instruction]
    depth: int
    source: Source | None

    def leaf_results(self, profile: Mapping[str, Any]) -> list[bool]:
        attrs = _attributes(profile)
        return [predicate(attrs, profile) for predicate in self.predicates]

    def combine(self, results: list[bool] | tuple[bool, ...]) -> list[bool]:
        """Every instruction's result (post-order), from the leaves' results."""
        values: list[bool] = []
        stack: list[bool] = []
        for instruction in self.code:
            op = instruction.op
            if op == _LEAF:
                value = results[instruction.arg]
            elif op == _NOT:
                value = not stack.pop()
            else:
                n = instruction.arg
                parts = stack[len(stack) - n :]
                del stack[len(stack) - n :]
                value = all(parts) if op == _ALL else any(parts)
            stack.append(value)
            values.append(value)
        return values

    def decide(self, results: list[bool] | tuple[bool, ...]) -> bool:
        return self.combine(results)[-1]

    def generated(
        self,
    ) -> tuple[
        Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[bool, ...]],
        Callable[[tuple[bool, ...]], bool],
    ]:
        """Fast straight-line functions: all leaves as a tuple, and the structure over it.

        The generated source holds only leaf indices and ``and``/``or``/``not``, never any
        text from a rule or profile. Deep or very wide rules use the general path instead.
        """
        n = len(self.predicates)
        if n <= _GENERATED_LEAVES:
            names = {f"p{i}": p for i, p in enumerate(self.predicates)}
            body = ", ".join(f"p{i}(a, q)" for i in range(n))
            scope: dict[str, Any] = dict(names)
            exec(f"def leaves(a, q):\n    return ({body},)\n", scope)
            leaves: Any = scope["leaves"]
        else:
            predicates = tuple(self.predicates)
            leaves = lambda a, q: tuple([p(a, q) for p in predicates])  # noqa: E731
        if self.depth > _GENERATED_DEPTH:
            return leaves, self.decide
        parts: list[str] = []
        for instruction in self.code:
            if instruction.op == _LEAF:
                parts.append(f"r[{instruction.arg}]")
            elif instruction.op == _NOT:
                parts.append(f"(not {parts.pop()})")
            else:
                k = instruction.arg
                joiner = " and " if instruction.op == _ALL else " or "
                group = "(" + joiner.join(parts[len(parts) - k :]) + ")"
                del parts[len(parts) - k :]
                parts.append(group)
        decide: Callable[[tuple[bool, ...]], bool] = eval(f"lambda r: bool({parts[0]})")
        return leaves, decide


def _attributes(profile: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(profile, Mapping):
        raise ValidationError([("profile", f"a profile is a JSON object, not {_json(profile)}")])
    attrs = profile.get("custom_attributes")
    if attrs is None:
        return {}
    if not isinstance(attrs, Mapping):
        raise ValidationError([("custom_attributes", f"expected an object, found {_json(attrs)}")])
    return attrs


def _build(target: object, now: datetime, sem: Semantics) -> _Program:
    """Compile a rule (text, AST or Connected Audience dict) into a :class:`_Program`."""
    _check_now(now)
    if not isinstance(sem, Semantics):
        raise ValidationError([("semantics", "expected a Semantics object")])
    paths: dict[int, str] = {}
    source: Source | None = None
    if isinstance(target, str):
        from . import parse

        target = parse(target)
    if isinstance(target, Mapping):
        root: ast.Node = audience_to_ast(target, paths)
    elif isinstance(target, ast.Node):
        root = target
    else:
        raise ValidationError(
            [
                (
                    "rule",
                    "expected rule text, an AST or a Connected Audience object, "
                    f"not {type(target).__name__}",
                )
            ]
        )
    if isinstance(root, ast.Rule):
        source = root.source
    leaves: list[ast.Node] = []
    predicates: list[Predicate] = []
    code: list[_Instruction] = []
    problems: list[tuple[str, str]] = []
    unbound: list[ast.Param] = []
    order = 0
    max_depth = 0
    stack: list[tuple[ast.Node, int, int, bool]] = [(root, 0, 0, False)]
    while stack:
        node, depth, position, done = stack.pop()
        if isinstance(node, ast.Rule):
            stack.append((node.expr, depth, position, False))
            continue
        if done:
            op = (
                _NOT
                if isinstance(node, ast.Not)
                else _ALL
                if isinstance(node, ast.And | ast.AllOf)
                else _ANY
            )
            count = 1 if op == _NOT else len(ast.children(node))
            code.append(_Instruction(op, count, node, position, depth))
            continue
        position, order = order, order + 1
        max_depth = max(max_depth, depth)
        if isinstance(node, (*_FILTERS, *_SUGAR)):
            try:
                predicates.append(_leaf_predicate(node, now, sem))
            except _Invalid as problem:
                if problem.parameter is not None:
                    unbound.append(problem.parameter)
                problems.append((paths.get(id(node)) or _where(node.span), problem.message))
                predicates.append(lambda _a, _p: False)
            code.append(_Instruction(_LEAF, len(leaves), node, position, depth))
            leaves.append(node)
            continue
        kids = ast.children(node)
        if not kids:
            problems.append((paths.get(id(node)) or _where(node.span), "an empty group"))
            continue
        stack.append((node, depth, position, True))
        stack.extend((kid, depth + 1, 0, False) for kid in reversed(kids))
    if unbound and len(unbound) == len(problems):
        raise ParameterError(
            [Diagnostic(f"the parameter `${p.name}` has no value", p.span or _NOWHERE, f"${p.name}",
                        f"bind it with audience_dsl.parse(text, params={{'{p.name}': ...}})")
             for p in unbound],
            source or Source(""),
        )  # fmt: skip
    if problems:
        raise ValidationError(problems)
    return _Program(leaves, predicates, code, max_depth, source)


_NOWHERE = Span(0, 0, 1, 1, 1, 1)


def _where(span: Span | None) -> str:
    return f"rule:{span.line}:{span.column}" if span is not None else "rule"


def _check_now(now: object) -> None:
    if not isinstance(now, datetime):
        raise ValidationError([("now", f"expected an aware datetime, not {type(now).__name__}")])
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValidationError(
            [("now", "`now` must be time-zone aware, e.g. datetime.now(timezone.utc)")]
        )


# ---- Connected Audience JSON to core AST ----------------------------------------------------


def audience_to_ast(
    audience: Mapping[str, Any], paths: dict[int, str] | None = None
) -> ast.CoreNode:
    """A Connected Audience object as a core AST, checked on the way.

    Raises :class:`ValidationError` listing every problem with its JSON path
    (``$.AND[1].custom_attribute.value``). ``paths``, when given, receives the JSON path
    of every filter node built, keyed by ``id(node)``.
    """
    from .braze import to_core

    return to_core(audience, paths=paths)


# ---- evaluate -------------------------------------------------------------------------------


def evaluate(
    rule_or_audience: str | ast.Node | Mapping[str, Any],
    profile: Mapping[str, Any],
    *,
    now: datetime,
    semantics: Semantics = Semantics(),
) -> bool:
    """Whether ``profile`` (Braze export shape) matches a rule or a Connected Audience.

    ``rule_or_audience`` is rule text, an AST (surface nodes are evaluated as written:
    ``not`` is logical negation, sugar means its expansion) or a Connected Audience
    object. ``now`` is the instant of evaluation, time-zone aware.

    >>> from datetime import datetime, timezone
    >>> now = datetime(2024, 1, 15, tzinfo=timezone.utc)
    >>> evaluate('age > 18 and push is opted_in',
    ...          {"custom_attributes": {"age": 30}, "push_subscribe": "opted_in"}, now=now)
    True
    """
    program = _build(rule_or_audience, now, semantics)
    return program.decide(program.leaf_results(profile))


# ---- explain --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One line of an explanation: a condition or a group, and whether it held."""

    text: str
    result: bool
    reason: str
    depth: int
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a profile matched a rule or not, condition by condition (parents first)."""

    matched: bool
    steps: tuple[Step, ...]

    def __bool__(self) -> bool:
        return self.matched

    def __str__(self) -> str:
        lines = ["matched" if self.matched else "not matched"]
        for step in self.steps:
            indent = "  " * (1 + min(step.depth, 30))
            mark = "yes" if step.result else "no "
            reason = f" -- {step.reason}" if step.reason else ""
            lines.append(f"{indent}{mark} {step.text}{reason}")
        return "\n".join(lines)


def explain(
    rule: str | ast.Node | Mapping[str, Any],
    profile: Mapping[str, Any],
    *,
    now: datetime,
    semantics: Semantics = Semantics(),
) -> Explanation:
    """Evaluate like :func:`evaluate`, keeping every condition's result and the reason.

    >>> from datetime import datetime, timezone
    >>> now = datetime(2024, 1, 15, tzinfo=timezone.utc)
    >>> print(explain('last_purchase < 2 days',
    ...               {"custom_attributes": {"last_purchase": "2024-01-10"}}, now=now))
    not matched
      no  last_purchase < 2 days -- last_purchase was 5 days ago; the rule needs less than 2
    """
    program = _build(rule, now, semantics)
    attrs = _attributes(profile)
    results = [predicate(attrs, profile) for predicate in program.predicates]
    values = program.combine(results)
    steps: list[Step | None] = [None] * len(program.code)
    for instruction, value in zip(program.code, values, strict=True):
        node = instruction.node
        reason = _reason(node, attrs, profile, now, semantics) if instruction.op == _LEAF else ""
        steps[instruction.order] = Step(
            _text(node, program.source, instruction.op), value, reason, instruction.depth, node.span
        )
    return Explanation(values[-1], tuple(step for step in steps if step is not None))


def _text(node: ast.Node, source: Source | None, op: int) -> str:
    if op == _ALL:
        return "all of"
    if op == _ANY:
        return "any of"
    if op == _NOT:
        return "not"
    if source is not None and node.span is not None:
        return " ".join(source.text[node.span.start : node.span.end].split())
    return _render(node)


def _render(node: ast.Node) -> str:
    if isinstance(node, ast.Attribute):
        if node.comparison in (C.EXISTS, C.DOES_NOT_EXIST):
            return f"{node.name} {node.comparison}"
        return f"{node.name} {node.comparison} {_json(node.value)}"
    if isinstance(node, ast.Subscription):
        state = node.state.value if isinstance(node.state, ast.State) else node.state
        return f"{node.channel}_subscription_status {node.comparison} {state}"
    if isinstance(node, ast.LastUsedApp):
        return f"last_used_app {node.comparison} {node.value}"
    if isinstance(node, ast.In):
        return f"{node.name} {'not in' if node.negated else 'in'} {_json(node.values)}"
    if isinstance(node, ast.Between):
        return f"{node.name} between {node.low} and {node.high}"
    if isinstance(node, ast.ContainsAny | ast.ContainsAll):
        word = "any" if isinstance(node, ast.ContainsAny) else "all"
        return f"{node.name} contains {word} {_json(node.values)}"
    return type(node).__name__  # pragma: no cover


_NEEDS = {
    C.EQUALS: "exactly {v}",
    C.NOT_EQUAL: "anything but {v}",
    C.GREATER_THAN: "more than {v}",
    C.GREATER_THAN_OR_EQUAL_TO: "at least {v}",
    C.LESS_THAN: "less than {v}",
    C.LESS_THAN_OR_EQUAL_TO: "at most {v}",
    C.MATCHES_REGEX: "a match for the regex {v} (case-insensitive)",
    C.DOES_NOT_MATCH_REGEX: "no match for the regex {v} (case-insensitive)",
    C.INCLUDES_VALUE: "an element equal to {v}",
    C.DOES_NOT_INCLUDE_VALUE: "no element equal to {v}",
    C.IS_ANY_OF: "one of {v}",
    C.IS_NONE_OF: "none of {v}",
    C.EXISTS: "a value",
    C.DOES_NOT_EXIST: "no value",
    C.BEFORE: "a time before {v}",
    C.AFTER: "a time after {v}",
    C.LESS_THAN_X_DAYS_AGO: "less than {v}",
    C.GREATER_THAN_X_DAYS_AGO: "more than {v}",
    C.LESS_THAN_X_DAYS_IN_THE_FUTURE: "less than {v}",
    C.GREATER_THAN_X_DAYS_IN_THE_FUTURE: "more than {v}",
}


def _reason(node: ast.Node, attrs: Mapping[str, Any], profile: Mapping[str, Any],
            now: datetime, sem: Semantics) -> str:  # fmt: skip
    if isinstance(node, ast.Subscription):
        state = subscription_state(profile, node.channel)
        default = " (the default)" if profile.get(f"{node.channel}_subscribe") is None else ""
        wanted = node.state.value if isinstance(node.state, ast.State) else str(node.state)
        word = "" if node.comparison is C.IS else "anything but "
        return f"{node.channel} state is {state}{default}; the rule needs {word}{wanted}"
    if isinstance(node, ast.LastUsedApp):
        instant = last_used(profile)
        if instant is None:
            verdict = (
                "matches" if sem.never_used_app_matches else "matches neither after nor before"
            )
            return f"the user never used an app, which {verdict}"
        need = f"a time {node.comparison} {node.value}"
        return f"the app was last used at {instant.isoformat()}; the rule needs {need}"
    if isinstance(node, ast.Attribute):
        name, comparison = node.name, node.comparison
        need = _NEEDS[comparison].format(v=_json(node.value))
    else:
        all_of, parts = _expansion(node)
        name, comparison = parts[0].name, parts[0].comparison
        if isinstance(node, ast.Between):
            need = f"between {node.low} and {node.high} (both included)"
        else:
            values = ", ".join(_json(p.value) for p in parts)
            word = "all" if all_of else "any"
            need = f"{word} of: " + ", ".join(
                _NEEDS[comparison].format(v=_json(p.value)) for p in parts
            )
            if isinstance(node, ast.In):
                need = ("none of " if node.negated else "one of ") + f"({values})"
    stored = attrs.get(name)
    if _is_blank(stored):
        what = "missing" if name not in attrs or stored is None else f"blank ({_json(stored)})"
        if comparison in (C.EXISTS, C.DOES_NOT_EXIST):
            return f"{name} is {what}"
        rule = "matches" if _leaf_missing(node, sem) else "does not match"
        return f"{name} is {what}; `{comparison}` {rule} users without a value"
    kind = _kind(
        comparison,
        getattr(node, "value", None) if isinstance(node, ast.Attribute) else parts[0].value,
    )
    if kind is _Kind.TIME:
        instant = parse_time(stored)
        if instant is None:
            return f"{name} is {_json(stored)}, not a date-time"
        if comparison in (C.BEFORE, C.AFTER):
            return f"{name} is {instant.isoformat()}; the rule needs {need}"
        ago = (now - instant) / timedelta(days=1)
        if comparison in (C.LESS_THAN_X_DAYS_AGO, C.GREATER_THAN_X_DAYS_AGO):
            when = (
                f"was {_amount(ago)} days ago"
                if ago >= 0
                else f"is {_amount(-ago)} days in the future"
            )
        else:
            when = (
                f"is {_amount(-ago)} days from now" if ago <= 0 else f"was {_amount(ago)} days ago"
            )
        return f"{name} {when}; the rule needs {need}"
    accepts = {
        _Kind.STRING: _is_str, _Kind.NUMBER: _is_number, _Kind.BOOLEAN: _is_bool,
        _Kind.ARRAY: _is_array, _Kind.TEXT_OR_ARRAY: _is_text_or_array,
    }.get(kind)  # fmt: skip
    if accepts is not None and not accepts(stored):
        return f"{name} is {_json(stored)}, not {kind.value}, so the comparison does not apply"
    return f"{name} is {_json(stored)}; the rule needs {need}"


def _leaf_missing(node: ast.Node, sem: Semantics) -> bool:
    if isinstance(node, ast.Attribute):
        return sem.missing_matches(node.comparison, node.value)
    all_of, parts = _expansion(node)
    cells = [sem.missing_matches(p.comparison, p.value) for p in parts]
    return all(cells) if all_of else any(cells)


def _amount(days: float) -> str:
    rounded = round(days, 1)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def _json(value: object) -> str:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, ast.Param):
        return f"${value.name}"
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return type(value).__name__


# ---- preview --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeafCount:
    """How many of the previewed users one condition held for."""

    text: str
    passed: int
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Preview:
    """The result of running a rule over many users."""

    matched: int
    total: int
    sample: tuple[str, ...]
    leaves: tuple[LeafCount, ...]

    def __str__(self) -> str:
        share = f" ({100 * self.matched / self.total:.1f}%)" if self.total else ""
        lines = [f"{self.matched} of {self.total} users match{share}"]
        lines.extend(f"  {leaf.passed:>10}  {leaf.text}" for leaf in self.leaves)
        if self.sample:
            lines.append("sample: " + ", ".join(self.sample))
        return "\n".join(lines)


#: Distinct leaf-result patterns kept before they are folded into the counts.
_TALLY_LIMIT = 4096


def preview(
    rule: str | ast.Node | Mapping[str, Any],
    users: Iterable[Mapping[str, Any]] | str | os.PathLike[str],
    *,
    now: datetime,
    sample: int = 10,
    semantics: Semantics = Semantics(),
    engine: str = "python",
    table: str | None = None,
) -> Preview:
    """Run a rule over many users: how many match, which ones, and how often each condition held.

    ``users`` is an iterable of profiles, or the path of a JSON-lines file with one user
    per line (Braze's segment export), or of a Parquet export. Users are streamed: memory
    does not grow with their number. The sample holds the first ``sample`` matching
    users' ``external_id`` (else ``braze_id``, else their position).

    ``engine="duckdb"`` runs the same rule as SQL in embedded DuckDB (the ``sql`` extra)
    and returns the same answer; it also reads a DuckDB database file or connection,
    given the name of its ``table`` of users (docs/preview.md).
    """
    if engine == "duckdb":
        from .sql import preview_duckdb

        return preview_duckdb(
            rule, users, now=now, sample=sample, semantics=semantics, table=table
        )
    if engine != "python":
        raise ValidationError([("engine", f"expected 'python' or 'duckdb', not {engine!r}")])
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise ValidationError([("sample", "expected a whole number, 0 or more")])
    program = _build(rule, now, semantics)
    leaves_of, decide = program.generated()
    n = len(program.predicates)
    counts = [0] * n
    matched = 0
    total = 0
    picked: list[str] = []
    tally: dict[tuple[bool, ...], int] = {}
    decided: dict[tuple[bool, ...], bool] = {}

    def fold() -> int:
        hits = 0
        for pattern, times in tally.items():
            for i, value in enumerate(pattern):
                if value:
                    counts[i] += times
            if decide(pattern):
                hits += times
        tally.clear()
        return hits

    for where, profile in _profiles(users):
        total += 1
        try:
            if type(profile) is dict:
                attrs = profile.get("custom_attributes")
                if attrs is None:
                    attrs = {}
                elif type(attrs) is not dict:
                    attrs = _attributes(profile)
            else:
                attrs = _attributes(profile)
            pattern = leaves_of(attrs, profile)
        except ValidationError as error:
            raise ValidationError(
                [(f"{where}.{path}", message) for path, message in error.problems]
            ) from None
        tally[pattern] = tally.get(pattern, 0) + 1
        if len(picked) < sample:
            hit = decided.get(pattern)
            if hit is None:
                hit = decided[pattern] = decide(pattern)
                if len(decided) > _TALLY_LIMIT:
                    decided.clear()
            if hit:
                picked.append(_identity(profile, where))
        if len(tally) > _TALLY_LIMIT:
            matched += fold()
    matched += fold()
    texts = [(_text(node, program.source, _LEAF), node.span) for node in program.leaves]
    return Preview(
        matched,
        total,
        tuple(picked),
        tuple(
            LeafCount(text, count, span) for (text, span), count in zip(texts, counts, strict=True)
        ),
    )


def _identity(profile: Mapping[str, Any], where: str) -> str:
    for key in ("external_id", "braze_id"):
        value = profile.get(key)
        if value is not None and value != "":
            return str(value)
    return where


def _profiles(users: object) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(users, str | os.PathLike):
        path = os.fspath(users)
        if path.lower().endswith((".parquet", ".pq")):
            from .sql import parquet_rows

            yield from parquet_rows(path)
            return
        yield from _read_lines(path)
        return
    if isinstance(users, Mapping) or not isinstance(users, Iterable):
        raise ValidationError([("users", "expected an iterable of profiles or a JSON-lines path")])
    for index, profile in enumerate(users):
        yield f"users[{index}]", profile


def _read_lines(path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    loads = json.loads
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below, generator
    except OSError as exc:
        raise ValidationError([(path, f"cannot read the file: {exc.strerror or exc}")]) from exc
    with handle:
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    profile = loads(line)
                except (ValueError, RecursionError) as exc:
                    raise ValidationError(
                        [(f"{path}:{number}", f"not a JSON object: {exc}")]
                    ) from None
                if type(profile) is not dict:
                    raise ValidationError(
                        [(f"{path}:{number}", "each line must hold one JSON object")]
                    )
                yield f"{path}:{number}", profile
        except UnicodeDecodeError as exc:
            raise ValidationError([(path, f"not UTF-8 text: {exc}")]) from None
