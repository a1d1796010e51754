"""Rule text to surface AST: the entry points of the language package.

Lark's exceptions are caught here and re-raised as
:class:`~audience_dsl.errors.AudienceSyntaxError` with a message in words, the right
position, and a hint for the mistakes people actually make
(:mod:`~audience_dsl.language.syntax_errors`).
"""

from __future__ import annotations

from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from audience_dsl.errors import (
    AudienceSyntaxError,
    Diagnostic,
)
from audience_dsl.language import ast
from audience_dsl.language.definitions import expand_definitions
from audience_dsl.language.grammar import get_parser
from audience_dsl.language.parts import Problem, Program
from audience_dsl.language.syntax_errors import (
    only_comments,
    unexpected_character,
    unexpected_token,
)
from audience_dsl.source import Source


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
            ),
            source,
        )
    try:
        result: Program = get_parser().parse(text)  # type: ignore[assignment]
    except Problem as problem:
        raise problem.kind(problem.diagnostic, source) from None
    except UnexpectedToken as exc:
        if isinstance(exc.__context__, Problem):  # pragma: no cover - defensive
            raise exc.__context__.kind(exc.__context__.diagnostic, source) from None
        raise AudienceSyntaxError(unexpected_token(exc, source), source) from None
    except UnexpectedCharacters as exc:
        raise AudienceSyntaxError(unexpected_character(exc, source), source) from None
    except UnexpectedInput as exc:  # pragma: no cover - other lark input errors
        span = source.span(exc.pos_in_stream or 0, exc.pos_in_stream or 0)
        raise AudienceSyntaxError(Diagnostic("this is not a rule", span), source) from None
    except LarkError as exc:  # pragma: no cover - lark wraps callback errors in some modes
        original = getattr(exc, "orig_exc", None)
        if isinstance(original, Problem):
            raise original.kind(original.diagnostic, source) from None
        raise
    except RecursionError:  # pragma: no cover - nothing here recurses, but never leak it
        span = source.span(0, len(text))
        raise AudienceSyntaxError(
            Diagnostic("the rule is nested too deeply", span), source
        ) from None
    return result


def parse_expr(source: Source) -> ast.Expr:
    """Parse rule text into a surface expression, sub-rules expanded; our errors only."""
    program = parse_program(source)
    try:
        return expand_definitions(program)
    except Problem as problem:
        raise problem.kind(problem.diagnostic, source) from None
