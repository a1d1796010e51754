"""What each comparison means: the one owner of the semantics tables.

* :class:`Semantics` is the policy for the cells Braze does not document (a missing
  value, a value of the wrong type, a boundary), one switch per cell; its defaults are
  the reference semantics of docs/semantics.md. The evaluator runs it, and ``lower``
  pins every complement of ``not`` for it, so the two cannot disagree.
* :data:`COMPLEMENT` gives, for each comparison, the comparison that holds on exactly the
  other *present* values; :data:`REFUSED` lists those whose negation Braze cannot express,
  and why; :data:`DOCUMENTED_MISSING` those whose missing-value behaviour Braze documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.vocabulary import implied_type

__all__ = [
    "COMPLEMENT",
    "DEFAULT_SEMANTICS",
    "DOCUMENTED_MISSING",
    "REFUSED",
    "Kind",
    "Semantics",
    "WrongType",
    "kind_of",
]

#: The comparison that holds on exactly the other present values.
COMPLEMENT: dict[C, C] = {
    C.EQUALS: C.NOT_EQUAL,
    C.NOT_EQUAL: C.EQUALS,
    C.GREATER_THAN: C.LESS_THAN_OR_EQUAL_TO,
    C.LESS_THAN_OR_EQUAL_TO: C.GREATER_THAN,
    C.GREATER_THAN_OR_EQUAL_TO: C.LESS_THAN,
    C.LESS_THAN: C.GREATER_THAN_OR_EQUAL_TO,
    C.MATCHES_REGEX: C.DOES_NOT_MATCH_REGEX,
    C.DOES_NOT_MATCH_REGEX: C.MATCHES_REGEX,
    C.INCLUDES_VALUE: C.DOES_NOT_INCLUDE_VALUE,
    C.DOES_NOT_INCLUDE_VALUE: C.INCLUDES_VALUE,
    C.IS_ANY_OF: C.IS_NONE_OF,
    C.IS_NONE_OF: C.IS_ANY_OF,
    C.EXISTS: C.DOES_NOT_EXIST,
    C.DOES_NOT_EXIST: C.EXISTS,
    C.IS: C.IS_NOT,
    C.IS_NOT: C.IS,
}

#: Complements whose missing-value behaviour Braze documents, so they need no pin.
DOCUMENTED_MISSING: frozenset[C] = frozenset({C.EXISTS, C.DOES_NOT_EXIST, C.IS_NONE_OF})

#: Comparisons whose negation Braze cannot express, and why.
REFUSED: dict[C, str] = {
    C.AFTER: "a user whose value is exactly the date-time matches neither `after` nor `before`",
    C.BEFORE: "a user whose value is exactly the date-time matches neither `before` nor `after`",
    C.LESS_THAN_X_DAYS_AGO: (
        "the complement would also need every future date and the exact boundary, "
        "which no Braze filter selects"
    ),
    C.GREATER_THAN_X_DAYS_AGO: (
        "the complement would also need every future date and the exact boundary, "
        "which no Braze filter selects"
    ),
    C.LESS_THAN_X_DAYS_IN_THE_FUTURE: (
        "the complement would also need every past date and the exact boundary, "
        "which no Braze filter selects"
    ),
    C.GREATER_THAN_X_DAYS_IN_THE_FUTURE: (
        "the complement would also need every past date and the exact boundary, "
        "which no Braze filter selects"
    ),
}


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
    compiler's complements (``lower`` pins each one for the policy it is given). Each
    field names the cell it decides and whether Braze documents it (**D**) or it is our
    inference (**I**, with confidence).
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
        kind = kind_of(comparison, value)
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
        if kind is Kind.TIME:
            return self.time_matches_missing
        if comparison is C.EQUALS:
            if kind is Kind.STRING:
                return self.string_equals_matches_missing
            if kind is Kind.BOOLEAN:
                return self.boolean_equals_matches_missing
            return value == 0 and self.number_equals_zero_matches_missing
        if comparison is C.NOT_EQUAL:
            if kind is Kind.STRING:
                return self.string_not_equal_matches_missing
            if kind is Kind.BOOLEAN:
                return self.boolean_not_equal_matches_missing
            return self.number_not_equal_matches_missing
        return {
            C.GREATER_THAN: self.greater_than_matches_missing,
            C.GREATER_THAN_OR_EQUAL_TO: self.greater_than_or_equal_to_matches_missing,
            C.LESS_THAN: self.less_than_matches_missing,
            C.LESS_THAN_OR_EQUAL_TO: self.less_than_or_equal_to_matches_missing,
        }[comparison]


class Kind(StrEnum):
    """The type of stored value a comparison reads."""

    STRING = "a string"
    NUMBER = "a number"
    BOOLEAN = "a boolean"
    TIME = "a date-time"
    ARRAY = "an array"
    TEXT_OR_ARRAY = "a string or an array"
    ANY = "any value"




KIND_OF_TYPE = {
    ast.DataType.STRING: Kind.STRING,
    ast.DataType.NUMERIC: Kind.NUMBER,
    ast.DataType.BOOLEAN: Kind.BOOLEAN,
    ast.DataType.TIME: Kind.TIME,
    ast.DataType.ARRAY: Kind.ARRAY,
}


def kind_of(comparison: C, value: object) -> Kind:
    if comparison in (C.EXISTS, C.DOES_NOT_EXIST):
        return Kind.ANY
    if comparison in (C.IS_ANY_OF, C.IS_NONE_OF):
        return Kind.TEXT_OR_ARRAY
    implied = implied_type(comparison, value)
    return KIND_OF_TYPE[implied] if implied is not None else Kind.STRING


#: The reference semantics (every switch at its default).
DEFAULT_SEMANTICS = Semantics()
