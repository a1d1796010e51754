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

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from audience_dsl.braze.jsonpos import ROOT, Loc, Locator, read_json
from audience_dsl.braze.models import (
    ABSENT,
    DAYS,
    EXISTENCE,
    FILTERS,
    NODE_KEYS,
    CustomAttributeFilter,
    kind_of_value,
    nearest,
)
from audience_dsl.errors import AudienceWarning, SchemaError, ValidationError
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.ast import DataType as T
from audience_dsl.vocabulary import ALLOWED, DEFAULT_FIELDS, GROUPS, implied_types

# ---- the walk -----------------------------------------------------------------------------


@dataclass
class _Report:
    """Problems and warnings, each at a location."""

    problems: list[tuple[Loc, str]] = field(default_factory=list)
    warnings: list[tuple[Loc, str]] = field(default_factory=list)

    def error(self, loc: Loc, message: str) -> None:
        self.problems.append((loc, message))

    def warn(self, loc: Loc, message: str) -> None:
        self.warnings.append((loc, message))


@dataclass(frozen=True)
class _Use:
    """One ``custom_attribute`` filter that passed its own checks."""

    loc: Loc
    keys: tuple[str, ...]
    model: CustomAttributeFilter

    def at(self, name: str) -> Loc:
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
        text, value = load_json(audience)
    report = _Report()
    uses = _walk(value, report, legacy)
    _check_types(uses, types, report)
    locator = Locator(text)
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


def load_json(raw: str | bytes | bytearray) -> tuple[str, Any]:
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
    stack: list[tuple[object, Loc]] = [(audience, ROOT)]
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
            if loc is ROOT:
                extra = "; an array at the top level is not supported"
                extra = extra if isinstance(node, list) else ""
                report.error(
                    loc, f"the audience must be a JSON object, not {kind_of_value(node)}{extra}"
                )
            else:
                report.error(
                    loc, f"an audience node must be a JSON object, not {kind_of_value(node)}"
                )
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
        children: list[tuple[object, Loc]] = []
        for position, (key, body) in enumerate(node.items()):
            here = loc.member(key, position)
            if key in GROUPS:
                if not isinstance(body, list):
                    report.error(
                        here, f"`{key}` must map to an array of nodes, not {kind_of_value(body)}"
                    )
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
        return f"keys are strings, not {kind_of_value(key)}"
    if key.upper() == "NOT":
        return (
            "Braze has no NOT; write the condition as rule text with `not` and let the "
            "compiler push it down to the filters"
        )
    guess = nearest(key, NODE_KEYS)
    if guess:
        return f"unknown key `{key}`; did you mean `{guess}`?"
    listed = ", ".join(f"`{k}`" for k in NODE_KEYS)
    return f"unknown key `{key}`; a node's key is one of {listed}"


def _leaf(
    key: str, body: object, loc: Loc, report: _Report, context: dict[str, bool]
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


def _translate(key: str, body: object, loc: Loc, error: Mapping[str, Any]) -> tuple[Loc, str]:
    """One pydantic error as a location and a message in our words."""
    place = tuple(error.get("loc", ()))
    kind = str(error.get("type", ""))
    if not place:
        return loc, f"`{key}` must map to an object, not {kind_of_value(body)}"
    name = place[0]
    if kind == "missing":
        return loc, f"`{name}` is missing"
    if kind == "value_missing":
        return loc, str(error.get("msg"))
    keys = list(body) if isinstance(body, dict) else []
    here = loc.member(name, keys.index(name)) if name in keys else loc
    if kind == "extra_forbidden":
        fields = list(FILTERS[key].model_fields)
        guess = nearest(str(name), fields)
        listed = ", ".join(f"`{f}`" for f in fields)
        hint = f"; did you mean `{guess}`?" if guess else f"; allowed: {listed}"
        return here, f"unknown key `{name}` in `{key}`{hint}"
    if kind == "string_type":
        return here, f"`{name}` must be a string, not {kind_of_value(error.get('input'))}"
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
    if comparison in EXISTENCE and value is not ABSENT:
        report.warn(
            use.at("value"),
            f"`{comparison.value}` takes no value; Braze does not need it (the compiler never "
            "emits one)",
        )
    if comparison in DAYS and isinstance(value, float) and not value.is_integer():
        report.warn(
            use.at("value"),
            f"{value} days is not a whole number; Braze measures these in days, and whether it "
            "honours fractions is not documented",
        )


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
                    at, f"`{name}` is {declared}; {kind_of_value(value)} is not a {declared} value"
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
