"""The package's exceptions and warnings.

Every error a user can cause is one of these; foreign errors (Lark, pydantic, httpx,
RecursionError) are caught at the boundary where they arise and re-raised as ours::

    AudienceError                  base of everything raised on bad input
    ├── RuleError                  a problem at a place in rule text (has line/column)
    │   ├── AudienceSyntaxError    the text is not a rule
    │   ├── AudienceTypeError      a value or comparison does not fit the attribute's type
    │   ├── ParameterError         a $parameter is missing, unused or of the wrong type
    │   └── UnsupportedError       Braze cannot express it exactly (so it is refused)
    ├── SchemaError                a schema is malformed
    ├── SQLError                   a rule cannot run as SQL exactly (or the engine failed)
    ├── ValidationError            a Connected Audience object breaks Braze's rules
    │   └── request.InvalidRequestError    a request body breaks them (rules 1-24)
    └── SendError                  sending failed; in audience_dsl.sender:
        ├── ConnectionFailed, OutcomeUnknown, SendInterrupted, JournalError
        └── BrazeHTTPError: AuthenticationError, RateLimitError, ServerError,
                            RequestRejected

    AudienceWarning                compiles, but is probably not what was meant

A :class:`RuleError` holds one or more :class:`Diagnostic` s, sorted by position; its
``line``/``column``/``end_line``/``end_column`` are those of the first. ``str()`` draws
each diagnostic as a caret diagram under the offending text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from audience_dsl.source import Source, Span

__all__ = [
    "AudienceError",
    "AudienceSyntaxError",
    "AudienceTypeError",
    "AudienceWarning",
    "Diagnostic",
    "Label",
    "ParameterError",
    "RuleError",
    "SQLError",
    "SchemaError",
    "SendError",
    "Severity",
    "UnsupportedError",
    "ValidationError",
]


class AudienceWarning(UserWarning):
    """Something compiles but is probably not meant (a dotted name, Liquid in a value, ...)."""


@dataclass(frozen=True, slots=True)
class Label:
    """A second place that a diagnostic points at, with a short note."""

    span: Span
    text: str


class Severity(StrEnum):
    """How bad a diagnostic is: an error stops the compile, a warning does not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem: a message, the span it is about, and optional label, hint and labels.

    ``code`` names the kind of problem in kebab-case (``unquoted-string``); codes are
    stable and never reused (docs/diagnostics.md lists them). ``expected`` holds, for a
    syntax error, what could have stood at the place, in words.
    """

    message: str
    span: Span
    label: str = ""
    hint: str = ""
    labels: tuple[Label, ...] = field(default=())
    code: str = ""
    severity: Severity = Severity.ERROR
    expected: tuple[str, ...] = ()


class AudienceError(Exception):
    """Base class of every error the package raises on bad input."""


class RuleError(AudienceError):
    """A problem (or several) at places in rule text."""

    def __init__(self, diagnostics: Iterable[Diagnostic] | Diagnostic, source: Source) -> None:
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        ordered = sorted(diagnostics, key=lambda d: (d.span.start, d.span.end))
        if not ordered:
            raise ValueError("a RuleError needs at least one diagnostic")
        self.diagnostics: tuple[Diagnostic, ...] = tuple(ordered)
        self.source = source
        super().__init__(self.diagnostics[0].message)

    @property
    def message(self) -> str:
        return self.diagnostics[0].message

    @property
    def hint(self) -> str:
        return self.diagnostics[0].hint

    @property
    def span(self) -> Span:
        return self.diagnostics[0].span

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def column(self) -> int:
        return self.span.column

    @property
    def end_line(self) -> int:
        return self.span.end_line

    @property
    def end_column(self) -> int:
        return self.span.end_column

    def __str__(self) -> str:
        return "\n\n".join(render(d, self.source) for d in self.diagnostics)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.diagnostics, self.source))


class AudienceSyntaxError(RuleError):
    """The text is not a rule of the language."""


class AudienceTypeError(RuleError):
    """A value or comparison does not fit the attribute's data type."""


class ParameterError(RuleError):
    """A ``$parameter`` is missing, unused, or bound to a value of the wrong type."""


class UnsupportedError(RuleError):
    """The rule means something that Braze's Connected Audience cannot express exactly."""


class SchemaError(AudienceError):
    """A schema (mapping, JSON or TOML file) is malformed."""


class ValidationError(AudienceError):
    """A Connected Audience object breaks Braze's rules; ``problems`` lists each with its path."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)
        lines = [f"{path}: {message}" for path, message in self.problems]
        super().__init__("invalid Connected Audience object:\n  " + "\n  ".join(lines))

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(path for path, _ in self.problems)


class SQLError(AudienceError):
    """A rule cannot run as SQL with exactly the evaluator's meaning, or the SQL engine failed."""


class SendError(AudienceError):
    """Sending a request to Braze failed."""


def render(diagnostic: Diagnostic, source: Source) -> str:
    """Draw one diagnostic as an ``error:`` line, a location and a caret diagram."""
    span = diagnostic.span
    places = [(span, "^", diagnostic.label)]
    places.extend((label.span, "-", label.text) for label in diagnostic.labels)
    width = len(str(max(place[0].line for place in places)))
    gutter = " " * (width + 2) + "|"
    out = [
        f"error: {diagnostic.message}",
        f"{' ' * (width + 1)}--> {source.name}:{span.line}:{span.column}",
        gutter,
    ]
    shown_line = 0
    for place_span, mark, text in sorted(places, key=lambda p: (p[0].line, p[0].column)):
        line_text = source.line_text(place_span.line)
        if place_span.line != shown_line:
            out.append(f" {place_span.line:>{width}} | {line_text}".rstrip())
            shown_line = place_span.line
        out.append(f"{gutter} {_underline(line_text, place_span, mark)} {text}".rstrip())
    if diagnostic.hint:
        hint_lines = diagnostic.hint.split("\n")
        out.append(f"{' ' * (width + 2)}= hint: {hint_lines[0]}")
        out.extend(f"{' ' * (width + 2)}        {extra}" for extra in hint_lines[1:])
    return "\n".join(out)


def _underline(line_text: str, span: Span, mark: str) -> str:
    """Spaces up to the span's column (tabs kept, so carets line up) then the marks."""
    start = span.column - 1
    stop = span.end_column - 1 if span.end_line == span.line else len(line_text)
    stop = max(stop, start + 1)
    lead = "".join("\t" if ch == "\t" else " " for ch in line_text[:start])
    lead += " " * (start - len(lead))
    return lead + mark * (stop - start)
