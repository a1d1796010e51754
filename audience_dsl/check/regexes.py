"""Regular expressions in a rule: each is compiled, and an error points inside the pattern."""

from __future__ import annotations

import re
from collections.abc import Sequence

from audience_dsl.errors import Diagnostic, Severity
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.source import NOWHERE, Source, Span

__all__ = ["check_regexes"]

_REGEX = frozenset({C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX})


def check_regexes(
    expr: ast.Node,
    source: Source | None = None,
    nodes: Sequence[ast.Node] | None = None,
    *,
    warnings: list[Diagnostic] | None = None,
) -> list[Diagnostic]:
    """Check every regex; return diagnostics for invalid ones, add warnings about risky
    ones to ``warnings``.

    Braze matches regexes case-insensitively and unanchored, with a PCRE-style engine;
    a pattern is checked by compiling it with Python's ``re``, and the position of the
    mistake inside the pattern is reported.
    """
    problems: list[Diagnostic] = []
    for node in ast.walk(expr) if nodes is None else nodes:
        if not isinstance(node, ast.Attribute) or node.comparison not in _REGEX:
            continue
        pattern = node.value
        if not isinstance(pattern, str):
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(
                Diagnostic(
                    f"invalid regex: {exc.msg}",
                    _inside(node.value_span, source, exc.pos),
                    "here",
                    "Braze uses Perl-compatible regexes; escape special characters with `\\`",
                    code="invalid-regex",
                )
            )
            continue
        where = node.value_span or node.span
        if warnings is not None and re.search(r"(?<!\\)[A-Z]", re.sub(r"\\.", "", pattern)):
            warnings.append(
                Diagnostic(
                    f"the regex {pattern!r} has upper-case letters, but Braze matches "
                    "regexes case-insensitively",
                    where or NOWHERE,
                    "upper case",
                    code="regex-upper-case",
                    severity=Severity.WARNING,
                )
            )
    return problems


def _inside(span: Span | None, source: Source | None, pos: int | None) -> Span:
    """The span of one character inside a `/regex/` literal (the whole value otherwise)."""
    if span is None:
        return NOWHERE
    if source is None or pos is None or span.line != span.end_line:
        return span
    literal = source.text[span.start : span.end]
    if not literal.startswith("/"):
        return span
    # Walk the literal, counting pattern characters (`\/` is one), to find offset `pos`.
    offset, seen = 1, 0
    while offset < len(literal) - 1 and seen < pos:
        offset += 2 if literal.startswith("\\/", offset) else 1
        seen += 1
    start = span.start + offset
    column = span.column + offset
    return Span(start, start + 1, span.line, column, span.line, column + 1)
