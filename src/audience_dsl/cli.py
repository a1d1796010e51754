"""The ``audience-dsl`` command line. It calls only the public API.

Exit status: 0 success, 1 a user error (the rule, JSON or parameters are wrong; the
diagnostic is on standard error), 2 a usage error (bad arguments, unreadable file).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

import audience_dsl

__all__ = ["main"]

EXIT_USER_ERROR = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    pass


def _read_rule(args: argparse.Namespace) -> tuple[str, str]:
    """The rule text and the name to show in diagnostics."""
    if args.file is not None and args.rule is not None:
        raise _UsageError("give the rule as an argument or with --file, not both")
    if args.file is not None:
        if args.file == "-":
            return sys.stdin.read(), "<stdin>"
        try:
            with open(args.file, encoding="utf-8") as handle:
                return handle.read(), args.file
        except OSError as exc:
            raise _UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    if args.rule is not None:
        return args.rule, "<rule>"
    if not sys.stdin.isatty():
        return sys.stdin.read(), "<stdin>"
    raise _UsageError("no rule given: pass it as an argument, with --file, or on standard input")


def _params(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.params is None:
        return None
    try:
        value = json.loads(args.params)
    except json.JSONDecodeError as exc:
        raise _UsageError(f"--params is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _UsageError("--params must be a JSON object of parameter values")
    return value


def _add_rule_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rule", nargs="?", help="the rule text (else --file or standard input)")
    parser.add_argument("-f", "--file", help="read the rule from this file ('-' for stdin)")
    parser.add_argument("--params", help="parameter values as a JSON object")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audience-dsl",
        description="Write Braze Connected Audiences as text.",
    )
    parser.add_argument("--version", action="version", version=audience_dsl.__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    compile_parser = commands.add_parser("compile", help="rule text to Connected Audience JSON")
    _add_rule_arguments(compile_parser)
    compile_parser.add_argument("--indent", type=int, default=2, help="JSON indentation")

    check_parser = commands.add_parser("check", help="check a rule; print nothing if it is fine")
    _add_rule_arguments(check_parser)
    return parser


def _show_warnings(caught: list[warnings.WarningMessage], stream: TextIO) -> None:
    for warning in caught:
        print(f"warning: {warning.message}", file=stream)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        text, name = _read_rule(args)
        params = _params(args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", audience_dsl.AudienceWarning)
            audience = audience_dsl.compile(text, params=params, source_name=name)
        _show_warnings(caught, sys.stderr)
    except _UsageError as exc:
        print(f"audience-dsl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except audience_dsl.AudienceError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USER_ERROR
    if args.command == "compile":
        print(json.dumps(audience, indent=args.indent if args.indent > 0 else None))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
