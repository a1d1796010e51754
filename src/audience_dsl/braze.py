"""Braze's Connected Audience object: its JSON shape, and :func:`validate`.

This is the one module that knows how the object looks. A node is a JSON object with
exactly one key: ``AND`` or ``OR`` mapping to a non-empty array of nodes, or one of the
filter keys of :data:`FILTERS`, whose object is described by a pydantic model here.

:func:`validate` checks an object from any source (our compiler, a file, someone
else's code) against the rules of the specification (§9, rules 25 to 39) and raises one
:class:`~audience_dsl.errors.ValidationError` listing every problem, each with its JSON
path (``$.AND[2].OR[0].custom_attribute.value``) and, for JSON text, its line and column.

The tree is walked iteratively, so nesting depth is bounded only by memory; pydantic
checks the filter objects only (the leaves), and its errors are translated here into
our own. Validators raise pydantic's :class:`~pydantic_core.PydanticCustomError`, never
our exceptions: pydantic would swallow those.
"""

from __future__ import annotations

import bisect
import difflib
import json
import math
import re
import reprlib
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, ClassVar, TypeAlias

import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from .ast import (
    ORDERING,
    AllOf,
    AnyOf,
    Attribute,
    Channel,
    CoreNode,
    Filter,
    LastUsedApp,
    State,
    Subscription,
)
from .ast import Comparison as C
from .ast import DataType as T
from .errors import AudienceWarning, SchemaError, ValidationError

__all__ = [
    "ALLOWED",
    "ATTRIBUTE_COMPARISONS",
    "DEFAULT_FIELDS",
    "FILTERS",
    "GROUPS",
    "CustomAttributeFilter",
    "LastUsedAppFilter",
    "SubscriptionFilter",
    "to_core",
    "validate",
]

# ---- the tables -------------------------------------------------------------------------

#: Which comparisons Braze allows for each custom attribute data type (§4.2, newest).
ALLOWED: dict[T, frozenset[C]] = {
    T.STRING: frozenset({
        C.EQUALS, C.NOT_EQUAL, C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX,
        C.EXISTS, C.DOES_NOT_EXIST, C.IS_ANY_OF, C.IS_NONE_OF,
    }),
    T.ARRAY: frozenset({
        C.INCLUDES_VALUE, C.DOES_NOT_INCLUDE_VALUE, C.EXISTS, C.DOES_NOT_EXIST,
        C.IS_ANY_OF, C.IS_NONE_OF,
    }),
    T.NUMERIC: frozenset({
        C.EQUALS, C.NOT_EQUAL, C.GREATER_THAN, C.GREATER_THAN_OR_EQUAL_TO,
        C.LESS_THAN, C.LESS_THAN_OR_EQUAL_TO, C.EXISTS, C.DOES_NOT_EXIST,
    }),
    T.BOOLEAN: frozenset({C.EQUALS, C.NOT_EQUAL, C.EXISTS, C.DOES_NOT_EXIST}),
    T.TIME: frozenset({
        C.LESS_THAN_X_DAYS_AGO, C.GREATER_THAN_X_DAYS_AGO,
        C.LESS_THAN_X_DAYS_IN_THE_FUTURE, C.GREATER_THAN_X_DAYS_IN_THE_FUTURE,
        C.AFTER, C.BEFORE, C.EXISTS, C.DOES_NOT_EXIST,
    }),
}  # fmt: skip

#: The comparisons a ``custom_attribute`` filter may use (every type's, together).
ATTRIBUTE_COMPARISONS: frozenset[C] = frozenset().union(*ALLOWED.values())

#: The group keys, spelled exactly so.
GROUPS: tuple[str, ...] = ("AND", "OR")

#: Braze's default (standard) profile fields, which Connected Audience cannot filter.
DEFAULT_FIELDS: frozenset[str] = frozenset(
    {
        "country", "city", "home_city", "language", "first_name", "last_name", "email",
        "phone", "gender", "dob", "date_of_birth", "time_zone", "external_id", "braze_id",
        "user_alias", "email_subscribe", "push_subscribe", "created_at",
    }
)  # fmt: skip

#: The pre-2025 comparison set lacks these (rule 39, ``legacy=True``).
NEWEST_ONLY: frozenset[C] = frozenset({C.IS_ANY_OF, C.IS_NONE_OF})

_EXISTENCE = frozenset({C.EXISTS, C.DOES_NOT_EXIST})
_ORDERING = ORDERING
_DAYS = frozenset({
    C.LESS_THAN_X_DAYS_AGO, C.GREATER_THAN_X_DAYS_AGO,
    C.LESS_THAN_X_DAYS_IN_THE_FUTURE, C.GREATER_THAN_X_DAYS_IN_THE_FUTURE,
})  # fmt: skip
_INSTANT = frozenset({C.AFTER, C.BEFORE})
_REGEX = frozenset({C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX})
_MULTI = frozenset({C.IS_ANY_OF, C.IS_NONE_OF, C.INCLUDES_VALUE})

#: Known misspellings of comparisons and keys, with what was meant and why.
NEAR_MISSES: dict[str, tuple[str, str]] = {
    "does_not_equal": (
        "not_equal",
        "Braze rejects `does_not_equal` at send time, even for Booleans",
    ),
    "not_equals": ("not_equal", ""),
    "not_equal_to": ("not_equal", ""),
    "equal": ("equals", ""),
    "greater_than_or_equal": ("greater_than_or_equal_to", ""),
    "less_than_or_equal": ("less_than_or_equal_to", ""),
    "includes": ("includes_value", ""),
    "include_value": ("includes_value", ""),
    "contains": ("includes_value", ""),
    "does_not_include": ("does_not_include_value", ""),
    "does_not_includes_value": ("does_not_include_value", ""),
    "regex": ("matches_regex", ""),
}


# ---- the filter models ------------------------------------------------------------------


class _Absent(Enum):
    """Marks a ``value`` key that is not there (as opposed to a JSON ``null``)."""

    ABSENT = "absent"


ABSENT = _Absent.ABSENT


def _problem(kind: str, message: str) -> PydanticCustomError:
    # Only pydantic's own error type may leave a validator (see the module docstring).
    return PydanticCustomError(kind, message)


def _choose(raw: object, choices: Sequence[str], what: str) -> str:
    """``raw`` if it is one of ``choices``; else a pydantic error naming the nearest."""
    if not isinstance(raw, str):
        raise _problem("string_type", f"{what} must be a string, not {_kind(raw)}")
    if not raw:
        raise _problem("string_too_short", f"{what} must not be empty")
    if raw in choices:
        return raw
    known = NEAR_MISSES.get(raw.lower())
    if known is not None and known[0] in choices:
        why = f" ({known[1]})" if known[1] else ""
        raise _problem("choice", f"`{raw}` is not a Braze comparison; use `{known[0]}`{why}")
    listed = ", ".join(f"`{c}`" for c in choices)
    message = f"{what} `{raw}` is not one of {listed}"
    guess = _nearest(raw, choices)
    if guess:
        message = f"{what} `{raw}` is unknown; did you mean `{guess}`?"
    raise _problem("choice", message)


class CustomAttributeFilter(BaseModel):
    """The object under ``custom_attribute``: a name, a comparison and (mostly) a value."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    custom_attribute_name: Annotated[str, Field(min_length=1)]
    comparison: C
    value: Any = Field(default=ABSENT, validate_default=True)

    #: Set by :func:`validate` for ``legacy=True`` through the validation context.
    LEGACY: ClassVar[str] = "legacy"

    @field_validator("comparison", mode="before")
    @classmethod
    def _known_comparison(cls, raw: object, info: ValidationInfo) -> C:
        if isinstance(raw, str) and raw in (C.IS, C.IS_NOT):
            raise _problem(
                "choice",
                f"`{raw}` is a comparison of the subscription filters; a custom attribute "
                f"uses `{'equals' if raw == C.IS else 'not_equal'}`",
            )
        comparison = C(_choose(raw, sorted(ATTRIBUTE_COMPARISONS), "the comparison"))
        if comparison in NEWEST_ONLY and info.context and info.context.get(cls.LEGACY):
            raise _problem(
                "legacy",
                f"`{comparison.value}` is not in the pre-2025 comparison set (legacy=True); "
                f"use an {'OR of `equals`' if comparison is C.IS_ANY_OF else 'AND of `not_equal`'}"
                " filters instead",
            )
        return comparison

    @field_validator("value")
    @classmethod
    def _value_fits(cls, value: Any, info: ValidationInfo) -> Any:
        comparison = info.data.get("comparison")
        if not isinstance(comparison, C):
            return value  # the comparison is wrong already; nothing to check against
        legacy = bool(info.context and info.context.get(cls.LEGACY))
        _check_attribute_value(comparison, value, legacy)
        return value


class SubscriptionFilter(BaseModel):
    """The object under ``push_subscription_status`` and ``email_subscription_status``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    comparison: C
    value: State

    @field_validator("comparison", mode="before")
    @classmethod
    def _is_or_is_not(cls, raw: object) -> C:
        return C(_choose(raw, ("is", "is_not"), "the comparison"))

    @field_validator("value", mode="before")
    @classmethod
    def _state(cls, raw: object) -> State:
        return State(_choose(raw, [s.value for s in State], "the subscription state"))


class LastUsedAppFilter(BaseModel):
    """The object under ``last_used_app``: ``after``/``before`` an ISO 8601 date-time."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    comparison: C
    value: str

    @field_validator("comparison", mode="before")
    @classmethod
    def _after_or_before(cls, raw: object) -> C:
        if isinstance(raw, str) and raw in _DAYS:
            raise _problem(
                "choice",
                f"`last_used_app` takes only `after` or `before`, not `{raw}`; Braze documents "
                "no relative form for it",
            )
        return C(_choose(raw, ("after", "before"), "the comparison"))

    @field_validator("value", mode="before")
    @classmethod
    def _instant(cls, raw: object) -> str:
        return _check_instant(raw)


#: The filter keys and the models of their objects.
FILTERS: dict[str, type[BaseModel]] = {
    "custom_attribute": CustomAttributeFilter,
    "push_subscription_status": SubscriptionFilter,
    "email_subscription_status": SubscriptionFilter,
    "last_used_app": LastUsedAppFilter,
}

_NODE_KEYS: tuple[str, ...] = (*GROUPS, *FILTERS)


def _check_instant(raw: object) -> str:
    if not isinstance(raw, str):
        raise _problem(
            "instant", f"the value must be an ISO 8601 date-time string, not {_kind(raw)}"
        )
    try:
        datetime.fromisoformat(raw)
    except ValueError:
        raise _problem(
            "instant",
            f"{_show(raw)} is not an ISO 8601 date-time (e.g. 2019-07-22T13:17:55+0000)",
        ) from None
    return raw


def _check_attribute_value(comparison: C, value: Any, legacy: bool) -> None:
    """Raise a pydantic error if ``value`` does not suit ``comparison`` (rules 31 to 35, 39)."""
    name = f"`{comparison.value}`"
    if comparison in _EXISTENCE:
        return  # a value here is only warned about (rule 31)
    if value is ABSENT:
        raise _problem("value_missing", f"`value` is missing; {name} needs {_WANTS[comparison]}")
    if value is None:
        raise _problem(
            "value_type", f"the value must not be null; {name} needs {_WANTS[comparison]}"
        )
    if comparison in (C.EQUALS, C.NOT_EQUAL):
        if not (isinstance(value, str | bool) or _is_number(value)):
            hint = ""
            if isinstance(value, list):
                hint = (
                    "; to match several values use `is_any_of`/`is_none_of`, or an OR of `equals`"
                )
            raise _problem(
                "value_type", f"{name} needs {_WANTS[comparison]}, not {_kind(value)}{hint}"
            )
    elif comparison in _ORDERING:
        if not _is_number(value):
            hint = "; numbers are not quoted" if _numeric_text(value) else ""
            raise _problem("value_type", f"{name} needs a number, not {_kind(value)}{hint}")
    elif comparison in _DAYS:
        if not _is_number(value):
            hint = "; numbers are not quoted" if _numeric_text(value) else ""
            raise _problem("value_type", f"{name} needs a number of days, not {_kind(value)}{hint}")
        if value < 0:
            raise _problem(
                "value_type",
                f"{name} needs a number of days of at least 0, not {value}; use the "
                "`_in_the_future` form (or `_ago`) instead of a negative count",
            )
    elif comparison in _INSTANT:
        _check_instant(value)
    elif comparison in _REGEX:
        if not isinstance(value, str):
            raise _problem(
                "value_type", f"{name} needs a regular expression string, not {_kind(value)}"
            )
        problem = _regex_problem(value)
        if problem:
            raise _problem("regex", f"{_show(value)} is not a valid regular expression: {problem}")
    elif comparison is C.DOES_NOT_INCLUDE_VALUE:
        if not isinstance(value, str):
            hint = (
                "; for several values use an AND of `does_not_include_value`"
                if isinstance(value, list)
                else ""
            )
            raise _problem("value_type", f"{name} needs a string, not {_kind(value)}{hint}")
    elif comparison in _MULTI:
        if isinstance(value, list):
            if not value:
                raise _problem(
                    "value_type",
                    f"{name} needs a string or a non-empty array of strings; the array is empty",
                )
            odd = next((i for i, item in enumerate(value) if not isinstance(item, str)), None)
            if odd is not None:
                raise _problem(
                    "value_type",
                    f"{name} needs an array of strings; item {odd} is {_kind(value[odd])}",
                )
            if legacy and comparison is C.INCLUDES_VALUE:
                raise _problem(
                    "legacy",
                    f"{name} with an array is not in the pre-2025 comparison set (legacy=True); "
                    "use an OR of `includes_value` filters",
                )
        elif not isinstance(value, str):
            raise _problem(
                "value_type", f"{name} needs a string or an array of strings, not {_kind(value)}"
            )


_WANTS: dict[C, str] = {
    **{c: "a string, number or boolean" for c in (C.EQUALS, C.NOT_EQUAL)},
    **{c: "a number" for c in _ORDERING},
    **{c: "a number of days" for c in _DAYS},
    **{c: "an ISO 8601 date-time string" for c in _INSTANT},
    **{c: "a regular expression string" for c in _REGEX},
    C.INCLUDES_VALUE: "a string or an array of strings",
    C.DOES_NOT_INCLUDE_VALUE: "a string",
    C.IS_ANY_OF: "a string or an array of strings",
    C.IS_NONE_OF: "a string or an array of strings",
}


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not isinstance(value, float) or math.isfinite(value)


def _numeric_text(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _regex_problem(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    except (RecursionError, OverflowError, ValueError) as exc:  # pathological patterns
        return type(exc).__name__
    return ""


# ---- showing values ---------------------------------------------------------------------

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlevel = 3


def _show(value: object) -> str:
    """A short, bounded rendering of any value (safe on huge or deep ones)."""
    if isinstance(value, str):
        return json.dumps(value) if len(value) <= 60 else json.dumps(value[:57])[:-1] + '..."'
    return _REPR.repr(value)


def _kind(value: object) -> str:
    """The JSON kind of a value, as words: "a string", "an array", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the number {_show(value)}"
    if isinstance(value, str):
        return f"the string {_show(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a Python {type(value).__name__}"


def _nearest(word: str, choices: Iterable[str]) -> str:
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else ""


# ---- locations ----------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True, slots=True)
class _Loc:
    """A place in the object, linked to its parent so deep paths cost O(1) to extend.

    ``key`` is the member name or the array index; ``index`` the place among its
    siblings (key order in objects), which gives the document order.
    """

    parent: _Loc | None
    key: object
    index: int
    in_array: bool = False

    def member(self, key: object, index: int) -> _Loc:
        return _Loc(self, key, index)

    def item(self, index: int) -> _Loc:
        return _Loc(self, index, index, in_array=True)

    def chain(self) -> list[_Loc]:
        """The locations from the root's child down to this one."""
        out: list[_Loc] = []
        here: _Loc | None = self
        while here is not None and here.parent is not None:
            out.append(here)
            here = here.parent
        out.reverse()
        return out

    def order(self) -> tuple[int, ...]:
        return tuple(loc.index for loc in self.chain())

    def path(self) -> str:
        parts = ["$"]
        for loc in self.chain():
            if loc.in_array:
                parts.append(f"[{loc.key}]")
            elif isinstance(loc.key, str) and _IDENTIFIER.match(loc.key):
                parts.append(f".{loc.key}")
            else:
                text = loc.key if isinstance(loc.key, str) else repr(loc.key)
                parts.append(f"[{json.dumps(text)}]")
        return "".join(parts)


_ROOT = _Loc(None, "$", 0)


# ---- the walk -----------------------------------------------------------------------------


@dataclass
class _Report:
    """Problems and warnings, each at a location."""

    problems: list[tuple[_Loc, str]] = field(default_factory=list)
    warnings: list[tuple[_Loc, str]] = field(default_factory=list)

    def error(self, loc: _Loc, message: str) -> None:
        self.problems.append((loc, message))

    def warn(self, loc: _Loc, message: str) -> None:
        self.warnings.append((loc, message))


@dataclass(frozen=True)
class _Use:
    """One ``custom_attribute`` filter that passed its own checks."""

    loc: _Loc
    keys: tuple[str, ...]
    model: CustomAttributeFilter

    def at(self, name: str) -> _Loc:
        """The location of one of the filter's keys (the filter's own if absent)."""
        return self.loc.member(name, self.keys.index(name)) if name in self.keys else self.loc


def validate(
    audience: dict[str, Any] | str | bytes,
    *,
    schema_types: Mapping[str, T] | None = None,
    legacy: bool = False,
) -> None:
    """Check a Connected Audience object against Braze's rules; raise if it breaks any.

    ``audience`` is the object (a dict) or its JSON text. ``schema_types`` maps attribute
    names to their data types, so each comparison is checked against its attribute's type;
    without it (and for attributes it does not name), one attribute compared as two
    different types is an error. ``legacy=True`` also rejects what the pre-2025 comparison
    set lacks: ``is_any_of``, ``is_none_of`` and arrays for ``includes_value``.

    Raises :class:`~audience_dsl.errors.ValidationError` listing every problem with its
    JSON path, in document order (for JSON text, with its line and column too); warns
    (:class:`~audience_dsl.errors.AudienceWarning`) about what Braze accepts but probably
    does not mean.
    """
    types = _schema(schema_types)
    text: str | None = None
    value: object = audience
    if isinstance(audience, str | bytes | bytearray):
        text, value = _load(audience)
    report = _Report()
    uses = _walk(value, report, legacy)
    _check_types(uses, types, report)
    locator = _Locator(text)
    for loc, message in sorted(report.warnings, key=lambda w: w[0].order()):
        warnings.warn(f"{loc.path()}: {message}{locator.describe(loc)}", AudienceWarning, 2)
    if report.problems:
        ordered = sorted(report.problems, key=lambda p: p[0].order())
        raise ValidationError(
            [(loc.path(), message + locator.describe(loc)) for loc, message in ordered]
        )


def _schema(schema_types: Mapping[str, T] | None) -> dict[str, T]:
    if schema_types is None:
        return {}
    try:
        return {str(name): T(kind) for name, kind in schema_types.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise SchemaError(f"schema_types must map attribute names to data types: {exc}") from exc


def _load(raw: str | bytes | bytearray) -> tuple[str, Any]:
    """JSON text to its text (decoded) and value; not JSON becomes our error."""
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = f"not JSON: not UTF-8 text ({exc.reason} at byte {exc.start})"
            raise ValidationError([("$", problem)]) from None
    try:
        return raw, json.loads(raw)
    except json.JSONDecodeError as exc:
        problem = f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        # json's scanner recurses; ours does not, so deep (valid) text still loads.
        try:
            return raw, read_json(raw)[0]
        except json.JSONDecodeError as exc:
            problem = f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    raise ValidationError([("$", problem)])


@dataclass(frozen=True)
class _Leave:
    """Pushed under a node's children: when popped, the walk has left that node."""

    ident: int


def _walk(audience: object, report: _Report, legacy: bool) -> list[_Use]:
    """Check every node's shape iteratively; validate each filter with its model."""
    uses: list[_Use] = []
    context = {CustomAttributeFilter.LEGACY: legacy}
    stack: list[tuple[object, _Loc]] = [(audience, _ROOT)]
    # Python objects may share or contain themselves: a node inside itself is an error; a
    # node met again elsewhere was checked already (its problems are reported once).
    seen: set[int] = set()
    ancestors: set[int] = set()
    while stack:
        node, loc = stack.pop()
        if isinstance(node, _Leave):
            ancestors.discard(node.ident)
            continue
        if not isinstance(node, dict):
            if loc is _ROOT:
                extra = "; an array at the top level is not supported"
                extra = extra if isinstance(node, list) else ""
                report.error(loc, f"the audience must be a JSON object, not {_kind(node)}{extra}")
            else:
                report.error(loc, f"an audience node must be a JSON object, not {_kind(node)}")
            continue
        if id(node) in ancestors:
            report.error(loc, "this object contains itself (a cycle)")
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if not node:
            report.error(
                loc,
                "an empty object is not a node; expected one key, e.g. `AND` or `custom_attribute`",
            )
            continue
        if len(node) > 1:
            keys = ", ".join(f"`{k}`" for k in list(node)[:5]) + (", ..." if len(node) > 5 else "")
            report.error(
                loc,
                f"a node has exactly one key, this one has {len(node)}: {keys}; "
                "put the conditions in an `AND` (or `OR`) array",
            )
        children: list[tuple[object, _Loc]] = []
        for position, (key, body) in enumerate(node.items()):
            here = loc.member(key, position)
            if key in GROUPS:
                if not isinstance(body, list):
                    report.error(here, f"`{key}` must map to an array of nodes, not {_kind(body)}")
                elif not body:
                    report.error(
                        here, f"`{key}` must map to a non-empty array; Braze has no empty group"
                    )
                else:
                    children.extend((child, here.item(i)) for i, child in enumerate(body))
            elif key in FILTERS:
                uses.extend(_leaf(key, body, here, report, context))
            else:
                report.error(here, _unknown_key(key))
        ancestors.add(id(node))
        stack.append((_Leave(id(node)), loc))
        stack.extend(reversed(children))
    return uses


def _unknown_key(key: object) -> str:
    if not isinstance(key, str):
        return f"keys are strings, not {_kind(key)}"
    if key.upper() == "NOT":
        return (
            "Braze has no NOT; write the condition as rule text with `not` and let the "
            "compiler push it down to the filters"
        )
    guess = _nearest(key, _NODE_KEYS)
    if guess:
        return f"unknown key `{key}`; did you mean `{guess}`?"
    listed = ", ".join(f"`{k}`" for k in _NODE_KEYS)
    return f"unknown key `{key}`; a node's key is one of {listed}"


def _leaf(
    key: str, body: object, loc: _Loc, report: _Report, context: dict[str, bool]
) -> list[_Use]:
    model = FILTERS[key]
    try:
        parsed = model.model_validate(body, context=context)
    except pydantic.ValidationError as exc:
        for error in exc.errors(include_url=False):
            report.error(*_translate(key, body, loc, error))
        return []
    if not isinstance(parsed, CustomAttributeFilter) or not isinstance(body, dict):
        return []
    use = _Use(loc, tuple(body), parsed)
    _leaf_warnings(use, report)
    return [use]


def _translate(key: str, body: object, loc: _Loc, error: Mapping[str, Any]) -> tuple[_Loc, str]:
    """One pydantic error as a location and a message in our words."""
    place = tuple(error.get("loc", ()))
    kind = str(error.get("type", ""))
    if not place:
        return loc, f"`{key}` must map to an object, not {_kind(body)}"
    name = place[0]
    if kind == "missing":
        return loc, f"`{name}` is missing"
    if kind == "value_missing":
        return loc, str(error.get("msg"))
    keys = list(body) if isinstance(body, dict) else []
    here = loc.member(name, keys.index(name)) if name in keys else loc
    if kind == "extra_forbidden":
        fields = list(FILTERS[key].model_fields)
        guess = _nearest(str(name), fields)
        listed = ", ".join(f"`{f}`" for f in fields)
        hint = f"; did you mean `{guess}`?" if guess else f"; allowed: {listed}"
        return here, f"unknown key `{name}` in `{key}`{hint}"
    if kind == "string_type":
        return here, f"`{name}` must be a string, not {_kind(error.get('input'))}"
    if kind == "string_too_short":
        return here, f"`{name}` must not be empty"
    # Our own PydanticCustomErrors carry the message we wrote; anything else keeps
    # pydantic's words, at our path.
    return here, str(error.get("msg"))


def _leaf_warnings(use: _Use, report: _Report) -> None:
    name = use.model.custom_attribute_name
    if "." in name or "[]" in name:
        report.warn(
            use.at("custom_attribute_name"),
            f"`{name}` looks like a nested attribute; Connected Audience cannot filter nested "
            "custom attributes",
        )
    elif name.lower() in DEFAULT_FIELDS:
        report.warn(
            use.at("custom_attribute_name"),
            f"`{name}` is the name of a default profile field; Connected Audience filters only "
            "custom attributes, so this matches a custom attribute of that name",
        )
    comparison, value = use.model.comparison, use.model.value
    if comparison in _EXISTENCE and value is not ABSENT:
        report.warn(
            use.at("value"),
            f"`{comparison.value}` takes no value; Braze does not need it (the compiler never "
            "emits one)",
        )
    if comparison in _DAYS and isinstance(value, float) and not value.is_integer():
        report.warn(
            use.at("value"),
            f"{value} days is not a whole number; Braze measures these in days, and whether it "
            "honours fractions is not documented",
        )


def implied_types(comparison: C, value: object) -> frozenset[T]:
    """The data types an attribute can have if it is compared so (all of them for exists)."""
    kinds = frozenset(t for t, allowed in ALLOWED.items() if comparison in allowed)
    if comparison in (C.EQUALS, C.NOT_EQUAL):
        if isinstance(value, bool):
            return kinds & {T.BOOLEAN}
        if isinstance(value, int | float):
            return kinds & {T.NUMERIC}
        if isinstance(value, str):
            return kinds & {T.STRING}
    return kinds


def _check_types(uses: list[_Use], types: Mapping[str, T], report: _Report) -> None:
    """Rule 30: comparisons fit the schema's type, or one attribute keeps one type."""
    inferred: dict[str, tuple[frozenset[T], _Use]] = {}
    for use in uses:
        name, comparison, value = (
            use.model.custom_attribute_name,
            use.model.comparison,
            use.model.value,
        )
        kinds = implied_types(comparison, value)
        # For equals/not_equal the value decides the type, so point there.
        at = use.at("value" if comparison in (C.EQUALS, C.NOT_EQUAL) else "comparison")
        declared = types.get(name)
        if declared is not None:
            if comparison not in ALLOWED[declared]:
                allowed = ", ".join(f"`{c}`" for c in sorted(ALLOWED[declared]))
                report.error(
                    use.at("comparison"),
                    f"`{name}` is {declared}, which does not allow `{comparison.value}`; "
                    f"{declared} allows {allowed}",
                )
            elif declared not in kinds:
                report.error(
                    at, f"`{name}` is {declared}; {_kind(value)} is not a {declared} value"
                )
            continue
        if len(kinds) == len(ALLOWED):
            continue  # exists / does_not_exist say nothing about the type
        first = inferred.get(name)
        if first is None:
            inferred[name] = (kinds, use)
        elif first[0] & kinds:
            inferred[name] = (first[0] & kinds, first[1])
        else:
            report.error(
                at,
                f"`{name}` is compared as {_types(kinds)} here but as {_types(first[0])} at "
                f"{first[1].loc.path()}; an attribute has one data type (a schema says which)",
            )


def _types(kinds: frozenset[T]) -> str:
    return " or ".join(sorted(kinds))


# ---- reading JSON text with positions -------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_CONSTANTS: dict[str, Any] = {
    "true": True, "false": False, "null": None,
    "NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf,
}  # fmt: skip

# The C string scanner behind json.loads (no type stubs declare it).
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

#: Where each container's members start: by ``id`` of the container, its keys' (or
#: items') offsets in the text.
Offsets: TypeAlias = dict[int, dict[str, int] | list[int]]


@dataclass
class _Frame:
    container: dict[str, Any] | list[Any]
    offsets: dict[str, int] | list[int]
    key: str = ""


def read_json(text: str) -> tuple[Any, Offsets]:
    """Parse JSON text without recursion; also say where each member starts.

    Accepts what :func:`json.loads` accepts and raises :class:`json.JSONDecodeError` like
    it. A member's offset is that of its key; an array item's, that of the item.
    """
    offsets: Offsets = {}
    stack: list[_Frame] = []
    pos = _skip(text, 0)
    while True:
        char = text[pos : pos + 1]
        value: Any
        if char in ("{", "["):
            frame = _Frame({}, {}) if char == "{" else _Frame([], [])
            offsets[id(frame.container)] = frame.offsets
            pos = _skip(text, pos + 1)
            closer = "}" if char == "{" else "]"
            if text.startswith(closer, pos):
                value, pos = frame.container, pos + 1
            else:
                stack.append(frame)
                pos = _next_slot(text, pos, frame)
                continue
        elif char == '"':
            value, pos = _scanstring(text, pos + 1)
        else:
            value, pos = _scalar(text, pos)
        while True:  # attach the finished value; close every container it completes
            if not stack:
                pos = _skip(text, pos)
                if pos != len(text):
                    raise json.JSONDecodeError("Extra data", text, pos)
                return value, offsets
            frame = stack[-1]
            if isinstance(frame.container, dict):
                frame.container[frame.key] = value
            else:
                frame.container.append(value)
            pos = _skip(text, pos)
            char = text[pos : pos + 1]
            closer = "}" if isinstance(frame.container, dict) else "]"
            if char == ",":
                pos = _next_slot(text, _skip(text, pos + 1), frame)
                break
            if char != closer:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
            value, pos = frame.container, pos + 1
            stack.pop()


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def _next_slot(text: str, pos: int, frame: _Frame) -> int:
    """Move to where the next value in ``frame`` starts: past a key and colon in objects."""
    if isinstance(frame.offsets, list):
        frame.offsets.append(pos)
        return pos
    if not text.startswith('"', pos):
        raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
    key, end = _scanstring(text, pos + 1)
    frame.offsets[key] = pos
    end = _skip(text, end)
    if not text.startswith(":", end):
        raise json.JSONDecodeError("Expecting ':' delimiter", text, end)
    frame.key = key
    return _skip(text, end + 1)


def _scalar(text: str, pos: int) -> tuple[Any, int]:
    match = _NUMBER.match(text, pos)
    if match:
        whole, fraction, exponent = match.groups()
        if fraction or exponent:
            return float(match.group()), match.end()
        return int(whole), match.end()
    for word, value in _CONSTANTS.items():
        if text.startswith(word, pos):
            return value, pos + len(word)
    raise json.JSONDecodeError("Expecting value", text, pos)


class _Locator:
    """Line and column of locations in JSON text (nothing for dicts), read when first asked."""

    def __init__(self, text: str | None) -> None:
        self._text = text
        self._read: tuple[Any, Offsets] | None = None
        self._lines: list[int] = []

    def describe(self, loc: _Loc) -> str:
        """`` (line L, column C)`` for ``loc``, or "" without text."""
        if self._text is None:
            return ""
        if self._read is None:
            self._read = read_json(self._text)  # the text parsed once already
            self._lines = [0, *(m.end() for m in re.finditer("\n", self._text))]
        value, offsets = self._read
        offset = _skip(self._text, 0)
        for step in loc.chain():
            places = offsets.get(id(value))
            if isinstance(places, dict) and isinstance(step.key, str) and step.key in places:
                offset, value = places[step.key], value[step.key]
            elif isinstance(places, list) and isinstance(step.key, int) and step.in_array:
                if not 0 <= step.key < len(places):
                    break
                offset, value = places[step.key], value[step.key]
            else:
                break
        line = bisect.bisect_right(self._lines, offset)
        return f" (line {line}, column {offset - self._lines[line - 1] + 1})"


def to_core(
    audience: Mapping[str, Any] | str | bytes, *, paths: dict[int, str] | None = None
) -> CoreNode:
    """The core AST of a Connected Audience object (a dict, or its JSON text).

    The object is first checked with :func:`validate` (so every problem is reported with
    its path, and for text its line and column); the tree is then built iteratively.
    ``paths``, when given, receives the JSON path of every filter built, by ``id(node)``.
    """
    value: object = audience
    if isinstance(audience, str | bytes | bytearray):
        _, value = _load(audience)
        validate(audience)
    else:
        validate(audience)  # type: ignore[arg-type]
    out: list[CoreNode] = []
    # (object, path, group key or "" while the object is not yet looked at, child count)
    stack: list[tuple[Any, str, str, int]] = [(value, "$", "", 0)]
    while stack:
        obj, path, key, count = stack.pop()
        if key:
            parts = tuple(out[len(out) - count :])
            del out[len(out) - count :]
            out.append(AllOf(children=parts) if key == "AND" else AnyOf(children=parts))
            continue
        ((name, body),) = obj.items()
        here = f"{path}.{name}"
        if name in GROUPS:
            stack.append((obj, path, name, len(body)))
            stack.extend(
                (child, f"{here}[{i}]", "", 0) for i, child in reversed(list(enumerate(body)))
            )
            continue
        node = _filter_node(name, body)
        if paths is not None:
            paths[id(node)] = here
        out.append(node)
    (result,) = out
    return result


def _filter_node(name: str, body: Mapping[str, Any]) -> Filter:
    """One validated filter object as its AST node."""
    comparison = C(body["comparison"])
    if name == "custom_attribute":
        value = body.get("value")
        if comparison in (C.EXISTS, C.DOES_NOT_EXIST):
            value = None
        elif isinstance(value, list):
            value = tuple(value)
        return Attribute(name=body["custom_attribute_name"], comparison=comparison, value=value)
    if name == "last_used_app":
        return LastUsedApp(comparison=comparison, value=body["value"])
    channel = Channel.PUSH if name.startswith("push") else Channel.EMAIL
    return Subscription(channel=channel, comparison=comparison, state=State(body["value"]))
