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
    └── SendError                  sending failed (keeps the request and response); in
        │                          audience_dsl.sender:
        ├── ConnectionFailed, OutcomeUnknown, SendInterrupted, JournalError
        └── BrazeHTTPError: AuthenticationError, RateLimitError, ServerError,
                            RequestRejected

    AudienceWarning                compiles, but is probably not what was meant

A :class:`RuleError` holds one or more :class:`Diagnostic` s, sorted by position; its
``line``/``column``/``end_line``/``end_column`` are those of the first. ``str()`` draws
each diagnostic as a caret diagram under the offending text.
"""

from __future__ import annotations

import sys
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from audience_dsl.source import Source, Span

__all__ = [
    "AudienceError",
    "AudienceSyntaxError",
    "AudienceTypeError",
    "AudienceWarning",
    "Diagnostic",
    "Label",
    "ParameterError",
    "RequestInfo",
    "ResponseInfo",
    "RuleError",
    "SQLError",
    "SchemaError",
    "SendError",
    "Severity",
    "UnsupportedError",
    "ValidationError",
]


class AudienceWarning(UserWarning):
    """Something compiles but is probably not meant (a dotted name, Liquid in a value, ...).

    ``diagnostic`` holds the warning as data (code, span, hint) when it comes from a rule.
    """

    diagnostic: Diagnostic | None = None


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first caller outside the
    package, whichever entry point was called (for the function that calls ``warn``)."""
    package = str(Path(__file__).resolve().parent)
    frame = sys._getframe(1)  # the function that will call warnings.warn (level 1)
    level = 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(package):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


@dataclass(frozen=True, slots=True)
class Label:
    """A second place that a diagnostic points at, with a short note."""

    span: Span
    text: str


class Severity(StrEnum):
    """How bad a diagnostic is: an error stops the compile, a warning does not."""

    ERROR = "error"
    WARNING = "warning"


class _Placed:
    """Line and column of the start and the end, read off ``span``."""

    __slots__ = ()

    @property
    def span(self) -> Span:  # a field of Diagnostic, the first diagnostic's of RuleError
        raise NotImplementedError

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def column(self) -> int:
        """Column of the start, 1-based, in code points."""
        return self.span.column

    @property
    def end_line(self) -> int:
        return self.span.end_line

    @property
    def end_column(self) -> int:
        return self.span.end_column


@dataclass(frozen=True, slots=True)
class Diagnostic(_Placed):
    """One problem: a message, the span it is about, and optional label, hint and labels.

    ``code`` names the kind of problem in kebab-case (``unquoted-string``); codes are
    stable and never reused (docs/diagnostics.md lists them). ``severity`` says whether
    it stops the compile. ``expected`` holds, for a syntax error, what could have stood
    at the place, one entry per kind of token (the seed of completion). ``source`` is the
    text the span points into; it is attached when the diagnostic leaves the package (in
    a :class:`RuleError` or a :class:`~audience_dsl.Report`) and takes no part in ``==``.
    """

    message: str
    span: Span
    label: str = ""
    hint: str = ""
    labels: tuple[Label, ...] = field(default=())
    code: str = ""
    severity: Severity = Severity.ERROR
    expected: tuple[str, ...] = ()
    source: Source | None = field(default=None, compare=False, repr=False)

    @property
    def utf16_column(self) -> int:
        """Column of the start, 1-based, in UTF-16 code units (what LSP and JavaScript count)."""
        return _utf16(self.source, self.span.line, self.span.column)

    @property
    def utf16_end_column(self) -> int:
        return _utf16(self.source, self.span.end_line, self.span.end_column)

    def with_source(self, source: Source) -> Diagnostic:
        """This diagnostic attached to the text its span points into."""
        return self if self.source is source else replace(self, source=source)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: code, severity, message, label, hint, positions (code points
        and UTF-16 units, 1-based lines and columns, 0-based offsets), related places and
        expected tokens."""
        out: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "label": self.label,
            "hint": self.hint,
        }
        out.update(_position(self.span, self.source))
        out["related"] = [
            {"message": label.text, **_position(label.span, self.source)} for label in self.labels
        ]
        out["expected"] = list(self.expected)
        return out


def _utf16(source: Source | None, line: int, column: int) -> int:
    return column if source is None else source.utf16_column(line, column)


def _position(span: Span, source: Source | None) -> dict[str, int]:
    return {
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
        "utf16_column": _utf16(source, span.line, span.column),
        "utf16_end_column": _utf16(source, span.end_line, span.end_column),
        "start": span.start,
        "end": span.end,
    }


class AudienceError(Exception):
    """Base class of every error the package raises on bad input."""


class RuleError(_Placed, AudienceError):
    """A problem (or several) at places in rule text."""

    def __init__(self, diagnostics: Iterable[Diagnostic] | Diagnostic, source: Source) -> None:
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        ordered = sorted(diagnostics, key=lambda d: (d.span.start, d.span.end))
        if not ordered:
            raise ValueError("a RuleError needs at least one diagnostic")
        self.diagnostics: tuple[Diagnostic, ...] = tuple(d.with_source(source) for d in ordered)
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


@dataclass(frozen=True)
class RequestInfo:
    """What was sent: method, URL, headers (the API key redacted) and the JSON body."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]


@dataclass(frozen=True)
class ResponseInfo:
    """What came back: status, headers and the body (parsed JSON, or text).

    Only the first part of a long body is read (``truncated`` says so); Braze's answers
    are small, so a long one is not Braze's.
    """

    status_code: int
    headers: Mapping[str, str]
    body: Any
    truncated: bool = False


class SendError(AudienceError):
    """Sending failed; ``request`` and ``response`` say what was sent and what came back.

    The one class of sending errors: :mod:`audience_dsl.sender` re-exports it and
    derives its error tree from it. Neither the message nor ``request`` holds the key.
    """

    def __init__(
        self,
        message: str,
        *,
        request: RequestInfo | None = None,
        response: ResponseInfo | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.response = response

    @property
    def status_code(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_send_error, (type(self), self.message, self.request, self.response))


def _rebuild_send_error(
    cls: type[SendError], message: str, request: RequestInfo | None,
    response: ResponseInfo | None,
) -> SendError:
    return cls(message, request=request, response=response)


# The registries that `warnings` keeps for our warnings (one per calling file), bounded:
# Python's own registry of the calling module would keep one entry per distinct message
# for ever (and messages quote users' values), so ours are emptied past a limit.
_REGISTRIES: dict[str, dict[Any, Any]] = {}
_REGISTRY_LIMIT = 1024


def emit_warnings(diagnostics: Iterable[Diagnostic], stacklevel: int = 1) -> None:
    """Issue each diagnostic as an :class:`AudienceWarning` at the caller's line.

    ``stacklevel`` counts frames as :func:`warnings.warn` does: 1 is the function calling
    this one, 2 its caller. Filters apply as usual (``default`` shows each distinct
    message once per line); the registry behind that is bounded, so memory stays flat
    however many distinct values a long-running process warns about.
    """
    frame = sys._getframe(1)
    for _ in range(stacklevel - 1):
        if frame.f_back is None:
            break
        frame = frame.f_back
    for diagnostic in diagnostics:
        span = diagnostic.span
        hint = f"; {diagnostic.hint}" if diagnostic.hint else ""
        warning = AudienceWarning(f"{span.line}:{span.column}: {diagnostic.message}{hint}")
        warning.diagnostic = diagnostic
        filename = frame.f_code.co_filename
        registry = _REGISTRIES.get(filename)
        if registry is None or len(registry) > _REGISTRY_LIMIT:
            if len(_REGISTRIES) > _REGISTRY_LIMIT:
                _REGISTRIES.clear()
            registry = _REGISTRIES[filename] = {}
        warnings.warn_explicit(
            warning,
            AudienceWarning,
            filename,
            frame.f_lineno,
            module=frame.f_globals.get("__name__", "<string>"),
            registry=registry,
        )


def render(diagnostic: Diagnostic, source: Source) -> str:
    """Draw one diagnostic as an ``error:`` line, a location and a caret diagram."""
    span = diagnostic.span
    places = [(span, "^", diagnostic.label)]
    places.extend((label.span, "-", label.text) for label in diagnostic.labels)
    width = len(str(max(place[0].line for place in places)))
    gutter = " " * (width + 2) + "|"
    out = [
        f"{diagnostic.severity.value}: {diagnostic.message}",
        f"{' ' * (width + 1)}--> {source.name}:{span.line}:{span.column}",
        gutter,
    ]
    shown_line = 0
    cut = 0
    for place_span, mark, text in sorted(places, key=lambda p: (p[0].line, p[0].column)):
        line_text = source.line_text(place_span.line)
        if place_span.line != shown_line:
            on_line = [p[0] for p in places if p[0].line == place_span.line]
            line_text, cut = _window(line_text, on_line)
            out.append(f" {place_span.line:>{width}} | {line_text}".rstrip())
            shown_line = place_span.line
        else:
            line_text, _cut = _window(
                source.line_text(place_span.line),
                [p[0] for p in places if p[0].line == place_span.line],
            )
        shifted = Span(
            place_span.start, place_span.end, place_span.line, place_span.column - cut,
            place_span.end_line, place_span.end_column - cut,
        )  # fmt: skip
        out.append(f"{gutter} {_underline(line_text, shifted, mark)} {text}".rstrip())
    if diagnostic.hint:
        hint_lines = diagnostic.hint.split("\n")
        out.append(f"{' ' * (width + 2)}= hint: {hint_lines[0]}")
        out.extend(f"{' ' * (width + 2)}        {extra}" for extra in hint_lines[1:])
    return "\n".join(out)


#: Lines longer than this are shown as a window around the places marked on them.
_WIDE = 100
_CONTEXT = 40


def _window(line_text: str, spans: list[Span]) -> tuple[str, int]:
    """A long line cut to a window around ``spans``: the text shown, and how many columns
    were cut from its start (an ellipsis stands for each cut end)."""
    if len(line_text) <= _WIDE:
        return line_text, 0
    first = min(span.column for span in spans) - 1
    last = max(
        span.end_column - 1 if span.end_line == span.line else len(line_text) for span in spans
    )
    start = max(0, first - _CONTEXT)
    stop = min(len(line_text), max(last, first + 1) + _CONTEXT)
    shown = line_text[start:stop]
    cut = 0
    if start > 0:
        shown = "..." + shown
        cut = start - 3
    if stop < len(line_text):
        shown += "..."
    return shown, cut


def _underline(line_text: str, span: Span, mark: str) -> str:
    """Spaces up to the span's column (tabs kept, so carets line up) then the marks, each
    character counted by its display width (two columns for East Asian wide ones)."""
    start = span.column - 1
    stop = span.end_column - 1 if span.end_line == span.line else len(line_text)
    stop = max(stop, start + 1)
    lead = "".join("\t" if ch == "\t" else " " * _width(ch) for ch in line_text[:start])
    lead += " " * (start - len(line_text[:start]))
    beyond = stop - max(start, len(line_text))  # past the end of the line: one column each
    marked = sum(_width(ch) for ch in line_text[start:stop]) + max(0, beyond)
    return lead + mark * max(1, marked)


def _width(ch: str) -> int:
    """Columns a character takes on a terminal: 2 for wide, 0 for combining marks."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
