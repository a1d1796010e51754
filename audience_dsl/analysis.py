"""``analyze``: every problem of a rule as data, for editors and services; never raises
for a bad rule.

Each stage that can run, runs: a condition the parser refuses stands in the tree as a
placeholder (:mod:`audience_dsl.language.placeholders`) so that parameters, types and the
schema are still checked; a parameter that cannot be bound stays unbound for the checks.
Lowering and the codec run only when no stage before them found an error (they would
compile placeholders), so ``report.audience`` is set exactly when the rule compiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from audience_dsl.braze.codec import to_json
from audience_dsl.braze.shapes import Audience
from audience_dsl.check import Schema, bind, check
from audience_dsl.errors import AudienceError, Diagnostic, RuleError, Severity
from audience_dsl.language import ast
from audience_dsl.language.parser import read_source
from audience_dsl.language.placeholders import parse_recovering
from audience_dsl.lower import lower
from audience_dsl.pipeline import SchemaLike, options_for
from audience_dsl.semantics import Semantics
from audience_dsl.source import NOWHERE, Source

__all__ = ["Report", "analyze"]


@dataclass(frozen=True, slots=True)
class Report:
    """What :func:`analyze` found: the audience (when the rule compiles) and every
    diagnostic, errors and warnings, sorted by position."""

    source: Source
    audience: Audience | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        """Whether the rule compiles (warnings allowed)."""
        return self.audience is not None

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.WARNING)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"ok", "audience", "diagnostics": [Diagnostic.to_dict(), ...]}``."""
        return {
            "ok": self.ok,
            "audience": self.audience,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }


def analyze(
    text: str | bytes,
    *,
    schema: SchemaLike | None = None,
    params: Mapping[str, Any] | None = None,
    strict: bool = False,
    semantics: Semantics | None = None,
    list_comparisons: bool = False,
    source_name: str = "<rule>",
) -> Report:
    """Every problem of ``text`` as data: a :class:`Report` whose ``audience`` is what
    :func:`~audience_dsl.compile` would return (or ``None``) and whose ``diagnostics``
    hold the errors and warnings of every stage that can run.

    Nothing about the rule raises; a schema that is itself malformed still raises
    :class:`~audience_dsl.SchemaError` (it is the caller's, not the rule's). Each call
    collects only its own diagnostics, so threads may share nothing but the schema.

    >>> report = analyze('x < 2 months and age = "x"', schema={"age": "Numeric"})
    >>> [(d.code, d.severity.value) for d in report.diagnostics]
    [('unknown-attribute', 'warning'), ('calendar-unit', 'error'), ('type-mismatch', 'error')]
    >>> report.audience is None
    True
    """
    try:
        source = read_source(text, source_name)
    except RuleError as error:  # not text (or bytes that are not UTF-8)
        return Report(error.source, None, error.diagnostics)
    types = Schema.coerce(schema) if schema is not None else None
    expr, found = parse_recovering(source)
    audience: Audience | None = None
    if expr is not None:
        expr = _bind(expr, params, source, types, found)
        try:
            check(expr, source, schema=types, strict=strict, warnings=found)
        except RuleError as error:
            found.extend(error.diagnostics)
        if not any(d.severity is Severity.ERROR for d in found):
            try:
                options = options_for(semantics, list_comparisons)
                audience = cast(Audience, to_json(lower(expr, source, options), source))
            except RuleError as error:
                found.extend(error.diagnostics)
            except AudienceError as error:  # pragma: no cover - the stages raise RuleErrors
                found.append(Diagnostic(str(error), NOWHERE, code="not-compilable"))
    ordered = sorted(found, key=lambda d: (d.span.start, d.span.end, d.severity != "error"))
    return Report(source, audience, tuple(_unique(d.with_source(source) for d in ordered)))


def _bind(
    expr: ast.Expr,
    params: Mapping[str, Any] | None,
    source: Source,
    types: Schema | None,
    found: list[Diagnostic],
) -> ast.Expr:
    """``expr`` with ``params`` bound, or unbound (and the problems added) when they
    cannot all be."""
    try:
        bound: ast.Expr = bind(expr, params or {}, source, types)
        return bound
    except RuleError as error:
        found.extend(error.diagnostics)
        return expr


def _unique(diagnostics: Any) -> list[Diagnostic]:
    seen: set[tuple[int, int, str, str]] = set()
    out: list[Diagnostic] = []
    for d in diagnostics:
        key = (d.span.start, d.span.end, d.code, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
