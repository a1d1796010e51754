"""Warnings for what compiles but is probably not meant: dotted names and default profile
fields (errors in strict mode), Liquid syntax in values, ``0 days``."""

from __future__ import annotations

from collections.abc import Sequence

from audience_dsl.errors import Diagnostic, Severity
from audience_dsl.language import ast
from audience_dsl.source import NOWHERE, Source, Span
from audience_dsl.vocabulary import DEFAULT_FIELDS

__all__ = ["warn_suspicious"]

def warn_suspicious(
    expr: ast.Node,
    source: Source | None = None,
    strict: bool = False,
    nodes: Sequence[ast.Node] | None = None,
    *,
    warnings: list[Diagnostic] | None = None,
) -> list[Diagnostic]:
    """Find what compiles but is probably not meant; return the errors, add the warnings
    (diagnostics of severity warning) to ``warnings``.

    Names Connected Audience cannot filter (nested attributes, default profile fields)
    are warnings, or errors in strict mode. Liquid syntax in a value and a relative time
    of 0 days are always warnings. Nothing goes through Python's ``warnings`` module.
    """
    errors: list[Diagnostic] = []

    def report(message: str, span: Span | None, label: str, as_error: bool, code: str) -> None:
        severity = Severity.ERROR if as_error else Severity.WARNING
        diagnostic = Diagnostic(message, span or NOWHERE, label, code=code, severity=severity)
        if as_error:
            errors.append(diagnostic)
        elif warnings is not None:
            warnings.append(diagnostic)

    seen: set[str] = set()
    for node in ast.walk(expr) if nodes is None else nodes:
        name = getattr(node, "name", None)
        if isinstance(name, str) and name not in seen:
            seen.add(name)
            span = getattr(node, "name_span", None) or node.span
            if "." in name or "[" in name:
                report(
                    f"`{name}` looks like a nested attribute; Connected Audience cannot "
                    "filter nested custom attributes",
                    span,
                    "nested attribute",
                    strict,
                    code="nested-attribute",
                )
            elif name.lower() in DEFAULT_FIELDS:
                report(
                    f"`{name}` is the name of a default profile field; Connected Audience "
                    "filters only custom attributes, so this is a custom attribute of that name",
                    span,
                    "default profile field",
                    strict,
                    code="default-profile-field",
                )
        for value in _strings(node):
            if "{{" in value or "{%" in value:
                report(
                    f"the value {value!r} contains Liquid syntax, which Braze may evaluate "
                    "as a template",
                    getattr(node, "value_span", None) or node.span,
                    "Liquid",
                    False,
                    code="liquid-in-value",
                )
        if (
            isinstance(node, ast.Attribute)
            and node.comparison in ast.RELATIVE_DAYS
            and node.value == 0
            and not isinstance(node.value, bool)
        ):
            report(
                "a relative time of 0 days selects nobody or only the current instant",
                node.value_span or node.span,
                "0 days",
                False,
                code="zero-days",
            )
    return errors


def _strings(node: ast.Node) -> list[str]:
    if isinstance(node, ast.Attribute):
        value = node.value
        if isinstance(value, str):
            return [value]
        if isinstance(value, tuple):
            return [v for v in value if isinstance(v, str)]
        return []
    if isinstance(node, ast.In | ast.ContainsAny | ast.ContainsAll) and isinstance(
        node.values, tuple
    ):
        return [v for v in node.values if isinstance(v, str)]
    return []
