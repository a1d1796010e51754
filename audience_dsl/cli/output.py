"""What the command line shows: diagnostics as text (with colour on a terminal), as JSON
or as GitHub Actions annotations, in the command line's own words.

Every problem the command line reports becomes a :class:`Problem`, whatever raised it (a
rule's :class:`~audience_dsl.errors.Diagnostic`, a Connected Audience's JSON path, a
warning, a file that is not formatted); a :class:`Reporter` writes them in the format
asked for. The JSON shape (``Problem.to_dict``) is documented in docs/cli.md and pinned
by a JSON Schema there.
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TextIO

from audience_dsl.errors import (
    AudienceSyntaxError,
    AudienceTypeError,
    Diagnostic,
    ParameterError,
    RuleError,
    UnsupportedError,
    ValidationError,
    render,
)
from audience_dsl.source import Source

__all__ = ["Problem", "Reporter", "colour_for", "diagnostic_dict", "words"]

# ---- the command line's words --------------------------------------------------------------

#: Rules of the request and of the Connected Audience (numbered as in the specification),
#: in words, so a message citing "rule 12" says which rule that is.
RULES: dict[int, str] = {
    1: "the base URL", 2: "the API key", 3: "the body is JSON of at most 4 MB",
    4: "only known top-level fields", 5: "campaign_id", 6: "send_id",
    7: "trigger_properties", 8: "broadcast is a boolean", 9: "recipients: 1 to 50 objects",
    10: "a broadcast has no recipients or attachments",
    11: "without broadcast, recipients are needed", 12: "the audience",
    13: "attachments", 14: "one identifier per recipient", 15: "identifier values",
    16: "user_alias", 17: "prioritization with email", 18: "send_to_existing_only",
    19: "a recipient's trigger_properties", 20: "attributes", 21: "standard attributes",
    22: "array attributes", 23: "repeated recipients", 24: "identifiers inside attributes",
    25: "one key per node", 26: "AND / OR groups", 27: "known filters",
    28: "custom_attribute fields", 29: "known comparisons",
    30: "comparisons fit the attribute's type", 31: "exists without a value",
    32: "a value is given", 33: "dates for before / after", 34: "day counts",
    35: "values fit the comparison", 36: "subscription filters", 37: "last_used_app",
    38: "nested and standard attribute names", 39: "the pre-2025 comparison set",
}

# Python arguments in library messages, and the flags that do the same on the command line
# (compiled when a message is first translated, not at start-up).
_FLAGS: tuple[tuple[str, str], ...] = (
    (r"bind it with audience_dsl\.parse\(text, params=\{'([^']*)': \.\.\.\}\)",
     r"""pass --params '{"\1": ...}'"""),
    (r"params=\{'([^']*)': \.\.\.\}", r"""--params '{"\1": ...}'"""),
    (r"say broadcast=True", "pass --broadcast"),
    (r"broadcast=True", "--broadcast"),
    (r"allow_everyone=True", "--allow-everyone"),
    (r"allow_any_host=True", "--allow-any-host"),
    (r"list_comparisons=True", "--list-comparisons"),
    (r"resend_unknown=True", "--resend-unknown"),
    (r"\(legacy=True\)", "(--legacy)"),
    (r"legacy=True", "--legacy"),
    (r"schema_types must map", "--schema must map"),
    (r"^base_url: ", "--instance / --url: "),
    (r"^api_key: ", "the API key: "),
    (r"\bstrict=True\b", "--strict"),
)
_RULE = re.compile(r"\brule (\d+):")


def words(message: str) -> str:
    """A library message in the command line's words: flags instead of Python arguments,
    and every specification rule number with the rule in words."""
    if not message:
        return message
    for pattern, flag in _FLAGS:
        message = re.sub(pattern, flag, message)
    return _RULE.sub(_rule_words, message)


def _rule_words(match: re.Match[str]) -> str:
    number = int(match.group(1))
    what = RULES.get(number)
    return f"rule {number} ({what}):" if what else match.group(0)


# ---- problems -------------------------------------------------------------------------------

_CODES: tuple[tuple[type[RuleError], str], ...] = (
    (AudienceSyntaxError, "syntax-error"),
    (AudienceTypeError, "type-error"),
    (ParameterError, "parameter-error"),
    (UnsupportedError, "unsupported"),
)


@dataclass(frozen=True)
class Problem:
    """One thing to report, at a place in a file (line and column 1-based)."""

    file: str
    message: str
    line: int = 1
    column: int = 1
    end_line: int = 1
    end_column: int = 1
    severity: str = "error"
    code: str = ""
    hint: str = ""
    path: str | None = None
    # For the caret diagram: the diagnostic (in the command line's words) and its text.
    diagnostic: Diagnostic | None = None
    source: Source | None = None

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape (docs/cli.md)."""
        out: dict[str, Any] = {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }
        if self.path is not None:
            out["path"] = self.path
        return out


def diagnostic_dict(
    diagnostic: Diagnostic, file: str, source: Source | None = None
) -> dict[str, Any]:
    """A rule's diagnostic as the documented JSON object
    ``{file, line, column, end_line, end_column, severity, code, message, hint}``."""
    return from_diagnostic(diagnostic, file, source).to_dict()


def from_diagnostic(
    diagnostic: Diagnostic, file: str, source: Source | None, code: str = ""
) -> Problem:
    """A rule's diagnostic as a problem, in the command line's words."""
    said = replace(
        diagnostic,
        message=words(diagnostic.message),
        hint=words(diagnostic.hint),
        label=words(diagnostic.label),
    )
    span = diagnostic.span
    return Problem(
        file=file,
        message=said.message,
        line=span.line,
        column=span.column,
        end_line=span.end_line,
        end_column=span.end_column,
        severity=str(getattr(diagnostic.severity, "value", diagnostic.severity) or "error"),
        code=diagnostic.code or code,
        hint=said.hint,
        diagnostic=said,
        source=Source(source.text, file) if source is not None else None,
    )


def from_rule_error(error: RuleError, file: str) -> list[Problem]:
    code = next((name for kind, name in _CODES if isinstance(error, kind)), "rule-error")
    return [from_diagnostic(d, file, error.source, code) for d in error.diagnostics]


_AT = re.compile(r" \(line (\d+), column (\d+)\)$| at line (\d+) column (\d+)$")


def from_validation(
    error: ValidationError, file: str, code: str = "invalid-audience"
) -> list[Problem]:
    """Each problem of a Connected Audience (or a request, a users file) with its path,
    and its line and column when the JSON text was read from ``file``."""
    out = []
    for path, message in error.problems:
        line = column = 1
        found = _AT.search(message)
        if found is not None:
            numbers = [int(g) for g in found.groups() if g is not None]
            line, column = numbers
            if found.group(1) is not None:
                message = message[: found.start()]
        out.append(Problem(file, words(message), line, column, line, column, code=code,
                           path=path))
    return out


_WARNING_AT = re.compile(r"^(\d+):(\d+): ")


def from_warning(
    caught: warnings.WarningMessage, file: str, source: Source | None = None
) -> Problem:
    """A warning (``AudienceWarning``) as a problem of severity ``warning``."""
    diagnostic = getattr(caught.message, "diagnostic", None)
    if isinstance(diagnostic, Diagnostic):
        problem = from_diagnostic(diagnostic, file, source, "warning")
        return replace(problem, severity="warning")
    text = str(caught.message)
    line = column = 1
    path = None
    found = _WARNING_AT.match(text)
    if found is not None:
        line, column = int(found.group(1)), int(found.group(2))
        text = text[found.end():]
    elif text.startswith("$"):  # a warning about JSON: "$.path: message (line L, column C)"
        path, _, text = text.partition(": ")
        at = _AT.search(text)
        if at is not None and at.group(1) is not None:
            line, column = int(at.group(1)), int(at.group(2))
            text = text[: at.start()]
    return Problem(file, words(text), line, column, line, column, severity="warning",
                   code="warning", path=path)


# ---- colour ---------------------------------------------------------------------------------


def colour_for(stream: TextIO) -> bool:
    """Colour on a terminal; ``NO_COLOR`` (any value) turns it off, ``FORCE_COLOR`` on."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


_STYLES = {
    "error": "1;31", "warning": "1;33", "where": "1;34", "mark": "1;31",
    "second": "1;34", "hint": "36", "bold": "1",
}


class Paint:
    """ANSI styles, or nothing when colour is off."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, style: str, text: str) -> str:
        if not self.on or not text:
            return text
        return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"


# ---- reporting ------------------------------------------------------------------------------

_MARKS = re.compile(r"^(\s*\|\s)([ \t]*)(\^+|-+)(.*)$")


def draw(problem: Problem, paint: Paint) -> str:
    """A problem as people read it: ``file:line:column: error: message``, then the
    caret diagram and the hint."""
    where = f"{problem.file}:{problem.line}:{problem.column}"
    kind = paint(problem.severity if problem.severity in _STYLES else "error",
                 f"{problem.severity}:")
    head = f"{paint('where', where)}: {kind} {paint('bold', problem.message)}"
    if problem.path is not None and not problem.message.startswith(problem.path):
        head = f"{paint('where', where)}: {kind} {problem.path}: {problem.message}"
    body: list[str] = []
    if problem.diagnostic is not None and problem.source is not None:
        lines = render(problem.diagnostic, problem.source).split("\n")[2:]
        for line in lines:
            marks = _MARKS.match(line)
            if marks is not None:
                style = "mark" if marks.group(3).startswith("^") else "second"
                line = (marks.group(1) + marks.group(2) + paint(style, marks.group(3))
                        + marks.group(4))
            elif line.lstrip().startswith("= hint:"):
                lead = line[: len(line) - len(line.lstrip())]
                line = lead + paint("hint", line.lstrip())
            body.append(line)
    elif problem.hint:
        body.append(paint("hint", f"  = hint: {problem.hint}"))
    return "\n".join([head, *body])


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(problem: Problem) -> str:
    """A GitHub Actions workflow command that annotates the file at the problem."""
    level = "warning" if problem.severity == "warning" else "error"
    title = f"audience-dsl {problem.code}".strip()
    message = problem.message + (f"\n{problem.hint}" if problem.hint else "")
    props = (
        f"file={_escape_property(problem.file)},line={problem.line},col={problem.column},"
        f"endLine={problem.end_line},endColumn={problem.end_column},"
        f"title={_escape_property(title)}"
    )
    return f"::{level} {props}::{_escape_data(message)}"


class Reporter:
    """Writes problems in one format: ``text`` (standard error, with the caret diagram),
    ``json`` (one list on standard output, written by :meth:`finish`) or ``github``
    (annotations on standard output)."""

    def __init__(self, fmt: str, out: TextIO, err: TextIO) -> None:
        self.format = fmt
        self.out = out
        self.err = err
        self.paint = Paint(colour_for(err))
        self.problems: list[Problem] = []

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    def report(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.problems.append(problem)
            if self.format == "text":
                print(draw(problem, self.paint), file=self.err)
            elif self.format == "github":
                print(github(problem), file=self.out)

    def finish(self, *, always: bool = True) -> None:
        """Write the JSON list (``always``: even when it is empty)."""
        if self.format == "json" and (always or self.problems):
            dump_json([p.to_dict() for p in self.problems], self.out)


def dump_json(value: Any, stream: TextIO, indent: int | None = 2) -> None:
    print(json.dumps(value, indent=indent, ensure_ascii=False), file=stream)


def json_line(value: Any, stream: TextIO) -> None:
    print(json.dumps(value, ensure_ascii=False, separators=(",", ":")), file=stream,
          flush=True)


def plain_problems(problems: Sequence[Problem]) -> str:
    """Problems without colour (for messages that quote them)."""
    return "\n".join(draw(p, Paint(False)) for p in problems)


def stderr_colour() -> Paint:
    return Paint(colour_for(sys.stderr))
