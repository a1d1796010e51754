"""Braze's vocabulary: which comparisons each custom attribute type allows, and what a
comparison says about the type of the attribute it is used on.

This module is the one owner of the type ↔ comparison facts (§4.2 of the specification):
the checker, the validator, the evaluator and the strategies all read them here.
"""

from __future__ import annotations

from audience_dsl.language.ast import ORDERING, TIME_COMPARISONS
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.ast import DataType as T

__all__ = [
    "ALLOWED",
    "ATTRIBUTE_COMPARISONS",
    "DEFAULT_FIELDS",
    "GROUPS",
    "NEWEST_ONLY",
    "implied_type",
    "implied_types",
]

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


_EQUALITY = frozenset({C.EQUALS, C.NOT_EQUAL})
_REGEX = frozenset({C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX})
_INCLUDES = frozenset({C.INCLUDES_VALUE, C.DOES_NOT_INCLUDE_VALUE})


def implied_type(comparison: C, value: object) -> T | None:
    """The data type a comparison (with its value) implies; None where any type fits."""
    if comparison in _EQUALITY:
        if isinstance(value, bool):
            return T.BOOLEAN
        if isinstance(value, int | float):
            return T.NUMERIC
        if isinstance(value, str):
            return T.STRING
        return None
    if comparison in ORDERING:
        return T.NUMERIC
    if comparison in _REGEX:
        return T.STRING
    if comparison in _INCLUDES:
        return T.ARRAY
    if comparison in TIME_COMPARISONS:
        return T.TIME
    return None


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
