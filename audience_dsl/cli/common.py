"""What the subcommands share: exit statuses, usage errors, and reading rules, files,
parameters and moments from the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

__all__ = [
    "EXIT_INPUT",
    "EXIT_NOTHING_SENT",
    "EXIT_NOT_ALL_ACCEPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "InputError",
    "RuleInput",
    "UsageError",
]

#: Everything worked (``fmt --check``: every file is formatted).
EXIT_OK = 0
#: A mistake in the input: a rule, JSON, a users file, parameters; or ``fmt --check``
#: found a file to reformat. The diagnostics are on standard error.
EXIT_INPUT = 1
#: A usage error: unknown or incompatible flags, a file that cannot be read.
EXIT_USAGE = 2
#: ``send``: requests went out, but not every recipient was accepted.
EXIT_NOT_ALL_ACCEPTED = 3
#: ``send``: nothing could be sent at all (no request reached Braze).
EXIT_NOTHING_SENT = 4

#: The file extension of rule files, looked for in directories given to ``--file``.
RULE_SUFFIX = ".aud"


class UsageError(Exception):
    """The command line is wrong; exit 2 with ``audience-dsl: <message>``."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(Exception):
    """A mistake in an input file that is not rule text; exit 1."""

    def __init__(self, file: str, message: str, code: str = "input-error",
                 line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.file = file
        self.message = message
        self.code = code
        self.line = line
        self.column = column


@dataclass(frozen=True)
class RuleInput:
    """One rule's text and the name shown in its diagnostics."""

    text: str
    name: str


def readable(path: str, flag: str) -> str:
    """``path`` if it names a readable file, else a usage error naming ``flag``."""
    if path == "-":
        return path
    named = f"{flag} {path}" if flag else path
    if os.path.isdir(path):
        raise UsageError(f"{named}: is a directory, not a file")
    if not os.path.exists(path):
        raise UsageError(f"{named}: no such file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{named}: not readable (permission denied)")
    return path


def read_text(path: str, flag: str) -> str:
    """The text of a file named by ``flag`` (``-``: standard input)."""
    if path == "-":
        return sys.stdin.read()
    readable(path, flag)
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                         "not-utf8") from None
    except OSError as exc:
        named = f"{flag} {path}" if flag else path
        raise UsageError(f"{named}: cannot read it ({exc.strerror})") from None


def read_rule_file(path: str, flag: str = "--file") -> str:
    """A rule file's text (``-``: standard input): UTF-8, a byte-order mark skipped; bytes
    that are not UTF-8 are an input error at their line."""
    from audience_dsl.errors import RuleError
    from audience_dsl.pipeline import read_rule

    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            stream = getattr(sys.stdin, "buffer", None)
            return read_rule(stream.read() if stream is not None else sys.stdin.read(), name)
        readable(path, flag)
        with open(path, "rb") as handle:
            data = handle.read()
        return read_rule(data, name)
    except RuleError as exc:
        first = exc.diagnostics[0]
        raise InputError(name, first.message, first.code or "not-utf8", line=first.span.line,
                         column=first.span.column) from None
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot read it ({exc.strerror})") from None


def looks_like_a_file(rule: str) -> bool:
    return "\n" not in rule and len(rule) < 4096 and os.path.exists(rule)


def check_rule_argument(rule: str | None) -> None:
    """A positional argument that names an existing file is a mistake, not a rule."""
    if rule is not None and looks_like_a_file(rule):
        kind = "a directory" if os.path.isdir(rule) else "a file"
        raise UsageError(
            f"the rule argument {rule!r} names {kind}, not rule text",
            f"to read rules from it, use --file {rule}",
        )
    if rule is not None and rule.strip().endswith(RULE_SUFFIX) and " " not in rule.strip():
        raise UsageError(
            f"the rule argument {rule!r} looks like a file name, but there is no such file",
            "rule files are read with --file; rule text is given as the argument",
        )


def one_rule(args: argparse.Namespace, *, stdin: bool = True) -> RuleInput | None:
    """The rule of a command that takes one: the argument, ``--file`` or standard input.

    ``None`` when there is none and ``stdin`` is False (``send --recipients`` without a
    rule).
    """
    files: list[str] = list(args.file or [])
    check_rule_argument(args.rule)
    if files and args.rule is not None:
        raise UsageError("give the rule as an argument or with --file, not both")
    if len(files) > 1:
        raise UsageError(f"{args.command} takes one rule: give --file once")
    if files:
        path = files[0]
        return RuleInput(read_rule_file(path), "<stdin>" if path == "-" else path)
    if args.rule is not None:
        return RuleInput(args.rule, "<rule>")
    if stdin and not sys.stdin.isatty():
        return RuleInput(read_rule_file("-"), "<stdin>")
    if not stdin:
        return None
    raise UsageError("no rule given: pass it as an argument, with --file, or on standard input")


def many_rules(args: argparse.Namespace) -> list[str]:
    """The files named by ``--file`` (repeatable), directories searched for ``*.aud``."""
    out: list[str] = []
    for path in args.file or []:
        if path != "-" and os.path.isdir(path):
            found: list[str] = []
            for folder, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(os.path.join(folder, n) for n in sorted(names)
                             if n.endswith(RULE_SUFFIX))
            if not found:
                raise UsageError(f"--file {path}: no {RULE_SUFFIX} files in this directory")
            out.extend(found)
        else:
            out.append(readable(path, "--file"))
    return out


def params(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--params`` as a mapping."""
    raw = getattr(args, "params", None)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--params is not JSON: {exc.msg} (column {exc.colno})",
                         """write a JSON object, e.g. --params '{"min": 100}'""") from None
    if not isinstance(value, dict):
        raise UsageError("--params must be a JSON object of parameter values",
                         """e.g. --params '{"min": 100}'""")
    return value


def json_object(raw: str | None, flag: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{flag} is not JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{flag} must be a JSON object")
    return value


def moment(raw: str | None) -> datetime:
    """``--now``: an ISO 8601 date-time with a time zone, or a bare date (midnight UTC)."""
    if raw is None:
        return datetime.now(UTC)
    text = raw.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--now is not an ISO 8601 date or date-time: {raw!r}",
            "e.g. --now 2024-06-01 or --now 2024-06-01T12:00:00Z",
        ) from None
    if value.tzinfo is None:
        raise UsageError(
            f"--now {raw} has no time zone",
            f"add one, e.g. --now {text}Z (UTC), or give a bare date for midnight UTC",
        )
    return value


def json_lines(path: str, flag: str) -> Iterator[tuple[int, Any]]:
    """The JSON values of a JSON-lines file, with their line numbers."""
    text = read_text(path, flag)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            what = exc.msg if isinstance(exc, json.JSONDecodeError) else "nests too deeply"
            raise InputError(path, f"line {number} is not JSON: {what}", "not-json",
                             line=number) from None


def objects(path: str, flag: str, what: str) -> list[dict[str, Any]]:
    out = []
    for number, value in json_lines(path, flag):
        if not isinstance(value, dict):
            raise InputError(path, f"line {number} holds {type(value).__name__}, not one "
                             f"JSON object ({what})", "not-an-object", line=number)
        out.append(value)
    return out


def add_format(parser: argparse.ArgumentParser, *choices: str) -> None:
    parser.add_argument(
        "--format",
        choices=choices,
        default="text",
        help="how to write results and diagnostics (default: text)",
    )
