"""Rule text to surface AST: the entry points of the language package.

Lark's exceptions are caught here and re-raised as
:class:`~audience_dsl.errors.AudienceSyntaxError` with a message in words, the right
position, and a hint for the mistakes people actually make
(:mod:`~audience_dsl.language.syntax_errors`).
"""

from __future__ import annotations

import re
from typing import NoReturn

from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from audience_dsl.errors import (
    AudienceSyntaxError,
    Diagnostic,
)
from audience_dsl.language import ast
from audience_dsl.language.definitions import expand_definitions
from audience_dsl.language.grammar import parse_text
from audience_dsl.language.parts import Problem, Program
from audience_dsl.language.recovery import every_syntax_error
from audience_dsl.language.syntax_errors import (
    only_comments,
    unexpected_character,
    unexpected_token,
)
from audience_dsl.source import NOWHERE, Source


def read_source(text: object, name: str = "<rule>") -> Source:
    """Rule text as people have it, as a :class:`Source`: a ``str`` or UTF-8 ``bytes``.

    A leading byte-order mark is skipped; a line break is LF, CRLF or a lone CR (a lone
    CR becomes LF, which keeps every offset). Bytes that are not UTF-8 are an
    :class:`AudienceSyntaxError` naming the line, the column and the byte.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            _not_utf8(data, exc, name)
    if not isinstance(text, str):
        raise AudienceSyntaxError(
            Diagnostic(f"a rule is text, not {type(text).__name__}", NOWHERE, code="rule-not-text"),
            Source(""),
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = _LONE_CR.sub("\n", text)
    return Source(text, name)


_LONE_CR = re.compile(r"\r(?!\n)")


def _not_utf8(data: bytes, exc: UnicodeDecodeError, name: str) -> NoReturn:
    bad = exc.start
    shown_text = data.decode("utf-8", errors="replace")
    if shown_text.startswith("\ufeff"):
        shown_text = shown_text[1:]
        data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
        bad -= 3
    shown_text = _LONE_CR.sub("\n", shown_text)
    prefix = data[:bad].decode("utf-8", errors="replace")
    prefix = _LONE_CR.sub("\n", prefix)
    source = Source(shown_text, name)
    line, column = source.position(len(prefix))
    byte = data[bad]
    raise AudienceSyntaxError(
        Diagnostic(
            f"the rule is not UTF-8 text: byte 0x{byte:02X} at line {line}, column {column} "
            "cannot be read",
            source.span(len(prefix), len(prefix) + 1),
            "not UTF-8",
            "save the file as UTF-8 (most editors offer it under 'Save with encoding')",
            code="not-utf8",
        ),
        source,
    ) from None


def parse_program(source: Source) -> Program:
    """Parse rule text into its definitions and expression, raising our errors only."""
    text = source.text
    if not text.strip() or only_comments(text):
        span = source.span(len(text), len(text))
        raise AudienceSyntaxError(
            Diagnostic(
                "the rule is empty",
                span,
                "expected a condition",
                'write a condition, e.g. `eye_color = "blue"`',
                code="empty-rule",
            ),
            source,
        )
    try:
        result: Program = parse_text(text)
    except Problem as problem:
        _raise_problem(problem, source)
    except UnexpectedToken as exc:
        if isinstance(exc.__context__, Problem):  # pragma: no cover - defensive
            _raise_problem(exc.__context__, source)
        _raise_syntax(unexpected_token(exc, source), source)
    except UnexpectedCharacters as exc:
        _raise_syntax(unexpected_character(exc, source), source)
    except UnexpectedInput as exc:  # pragma: no cover - other lark input errors
        span = source.span(exc.pos_in_stream or 0, exc.pos_in_stream or 0)
        raise AudienceSyntaxError(
            Diagnostic("this is not a rule", span, code="not-a-rule"), source
        ) from None
    except LarkError as exc:  # pragma: no cover - lark wraps callback errors in some modes
        original = getattr(exc, "orig_exc", None)
        if isinstance(original, Problem):
            _raise_problem(original, source)
        raise
    except RecursionError:  # pragma: no cover - nothing here recurses, but never leak it
        span = source.span(0, len(text))
        raise AudienceSyntaxError(
            Diagnostic("the rule is nested too deeply", span, code="nested-too-deeply"), source
        ) from None
    return result


def _raise_syntax(first: Diagnostic, source: Source) -> NoReturn:
    """Raise the rule's syntax errors: every one (the parser found the first)."""
    try:
        found = every_syntax_error(source)
    except RecursionError:  # pragma: no cover - the simulation does not recurse
        found = []
    if not found or found[0].span.start != first.span.start:
        found = [first, *(d for d in found if d.span.start > first.span.start)]
    else:
        found[0] = first
    raise AudienceSyntaxError(found, source) from None


def _raise_problem(problem: Problem, source: Source) -> NoReturn:
    """Raise a problem the builder found, with the syntax errors after it, if any."""
    later = [d for d in every_syntax_error(source) if d.span.start > problem.diagnostic.span.start]
    if later:
        raise AudienceSyntaxError([problem.diagnostic, *later], source) from None
    raise problem.kind(problem.diagnostic, source) from None


def parse_expr(source: Source) -> ast.Expr:
    """Parse rule text into a surface expression, sub-rules expanded; our errors only."""
    program = parse_program(source)
    try:
        return expand_definitions(program)
    except Problem as problem:
        raise problem.kind(problem.diagnostic, source) from None
