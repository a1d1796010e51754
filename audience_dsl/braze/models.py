"""The filter objects of a Connected Audience, as pydantic models, with the checks Braze
makes on each value (§9, rules 31 to 39).

Validators raise pydantic's :class:`~pydantic_core.PydanticCustomError`, never our
exceptions: pydantic would swallow those. :mod:`audience_dsl.braze.validate` translates
them into our own.
"""
from __future__ import annotations

import difflib
import json
import math
import re
import reprlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from audience_dsl.language.ast import (
    ORDERING,
    State,
)
from audience_dsl.language.ast import Comparison as C
from audience_dsl.vocabulary import ATTRIBUTE_COMPARISONS, GROUPS, NEWEST_ONLY

# ---- the tables -------------------------------------------------------------------------

EXISTENCE = frozenset({C.EXISTS, C.DOES_NOT_EXIST})
_ORDERING = ORDERING
DAYS = frozenset({
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
        raise _problem("string_type", f"{what} must be a string, not {kind_of_value(raw)}")
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
    guess = nearest(raw, choices)
    if guess:
        message = f"{what} `{raw}` is unknown; did you mean `{guess}`?"
    raise _problem("choice", message)


class CustomAttributeFilter(BaseModel):
    """The object under ``custom_attribute``: a name, a comparison and (mostly) a value."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

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

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

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

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    comparison: C
    value: str

    @field_validator("comparison", mode="before")
    @classmethod
    def _after_or_before(cls, raw: object) -> C:
        if isinstance(raw, str) and raw in DAYS:
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

NODE_KEYS: tuple[str, ...] = (*GROUPS, *FILTERS)


def _check_instant(raw: object) -> str:
    if not isinstance(raw, str):
        raise _problem(
            "instant", f"the value must be an ISO 8601 date-time string, not {kind_of_value(raw)}"
        )
    try:
        datetime.fromisoformat(raw)
    except ValueError:
        raise _problem(
            "instant",
            f"{show(raw)} is not an ISO 8601 date-time (e.g. 2019-07-22T13:17:55+0000)",
        ) from None
    return raw


def _check_attribute_value(comparison: C, value: Any, legacy: bool) -> None:
    """Raise a pydantic error if ``value`` does not suit ``comparison`` (rules 31 to 35, 39)."""
    name = f"`{comparison.value}`"
    if comparison in EXISTENCE:
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
                "value_type", f"{name} needs {_WANTS[comparison]}, not {kind_of_value(value)}{hint}"
            )
    elif comparison in _ORDERING:
        if not _is_number(value):
            hint = "; numbers are not quoted" if _numeric_text(value) else ""
            raise _problem("value_type", f"{name} needs a number, not {kind_of_value(value)}{hint}")
    elif comparison in DAYS:
        if not _is_number(value):
            hint = "; numbers are not quoted" if _numeric_text(value) else ""
            raise _problem(
                "value_type", f"{name} needs a number of days, not {kind_of_value(value)}{hint}"
            )
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
                "value_type",
                f"{name} needs a regular expression string, not {kind_of_value(value)}",
            )
        problem = _regex_problem(value)
        if problem:
            raise _problem("regex", f"{show(value)} is not a valid regular expression: {problem}")
    elif comparison is C.DOES_NOT_INCLUDE_VALUE:
        if not isinstance(value, str):
            hint = (
                "; for several values use an AND of `does_not_include_value`"
                if isinstance(value, list)
                else ""
            )
            raise _problem("value_type", f"{name} needs a string, not {kind_of_value(value)}{hint}")
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
                    f"{name} needs an array of strings; item {odd} is {kind_of_value(value[odd])}",
                )
            if legacy and comparison is C.INCLUDES_VALUE:
                raise _problem(
                    "legacy",
                    f"{name} with an array is not in the pre-2025 comparison set (legacy=True); "
                    "use an OR of `includes_value` filters",
                )
        elif not isinstance(value, str):
            raise _problem(
                "value_type",
                f"{name} needs a string or an array of strings, not {kind_of_value(value)}",
            )


_WANTS: dict[C, str] = {
    **{c: "a string, number or boolean" for c in (C.EQUALS, C.NOT_EQUAL)},
    **{c: "a number" for c in _ORDERING},
    **{c: "a number of days" for c in DAYS},
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


def show(value: object) -> str:
    """A short, bounded rendering of any value (safe on huge or deep ones)."""
    if isinstance(value, str):
        return json.dumps(value) if len(value) <= 60 else json.dumps(value[:57])[:-1] + '..."'
    return _REPR.repr(value)


def kind_of_value(value: object) -> str:
    """The JSON kind of a value, as words: "a string", "an array", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the number {show(value)}"
    if isinstance(value, str):
        return f"the string {show(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a Python {type(value).__name__}"


def nearest(word: str, choices: Iterable[str]) -> str:
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else ""
