"""Subcommands on Connected Audience JSON: ``decompile`` and ``validate``."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from audience_dsl.cli import common
from audience_dsl.cli.common import EXIT_INPUT, EXIT_OK
from audience_dsl.cli.output import Reporter, from_validation, from_warning
from audience_dsl.cli.rules import add_schema_arguments, load_schema
from audience_dsl.errors import AudienceWarning, ValidationError

__all__ = ["add_parsers"]


def add_parsers(commands: Any) -> None:
    decompile_parser = commands.add_parser(
        "decompile", help="Connected Audience JSON to rule text",
        description="Print a Connected Audience object (JSON) as rule text.")
    decompile_parser.add_argument("file", nargs="?", default="-",
                                  help="a JSON file (default '-': standard input)")
    decompile_parser.add_argument("--width", type=int, default=88,
                                  help="line width (default 88)")
    add_schema_arguments(decompile_parser, strict=False)
    decompile_parser.set_defaults(run=run_decompile, format="text")

    validate_parser = commands.add_parser(
        "validate", help="check Connected Audience JSON against Braze's rules",
        description="Check a Connected Audience object (JSON) against Braze's rules; "
                    "every problem is listed with its JSON path, line and column.")
    validate_parser.add_argument("file", nargs="?", default="-",
                                 help="a JSON file (default '-': standard input)")
    add_schema_arguments(validate_parser, strict=False)
    validate_parser.add_argument(
        "--legacy", action="store_true",
        help="also refuse what the pre-2025 comparison set lacks (is_any_of, is_none_of, "
             "arrays for includes_value)")
    validate_parser.add_argument("-q", "--quiet", action="store_true",
                                 help="print nothing when the object is valid")
    common.add_format(validate_parser, "text", "json", "github")
    validate_parser.set_defaults(run=run_validate)


def _name(path: str) -> str:
    return "<stdin>" if path == "-" else path


def _check(args: argparse.Namespace, reporter: Reporter, text: str) -> bool:
    """Validate ``text``, reporting problems and warnings; True when valid."""
    from audience_dsl.braze.validate import validate

    schema = load_schema(args)
    name = _name(args.file)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AudienceWarning)
        try:
            validate(text, schema_types=schema, legacy=getattr(args, "legacy", False))
            valid = True
        except ValidationError as exc:
            reporter.report(from_validation(exc, name))
            valid = False
    reporter.report(from_warning(w, name) for w in caught
                    if issubclass(w.category, AudienceWarning))
    return valid


def run_validate(args: argparse.Namespace) -> int:
    text = common.read_text(args.file, "")
    reporter = Reporter(args.format, sys.stdout, sys.stderr)
    valid = _check(args, reporter, text)
    reporter.finish()
    if not valid:
        return EXIT_INPUT
    if not args.quiet and args.format == "text":
        print(f"{_name(args.file)}: a valid Connected Audience object")
    return EXIT_OK


def run_decompile(args: argparse.Namespace) -> int:
    if args.width < 20:
        raise common.UsageError(f"--width {args.width} is too narrow; give 20 or more")
    from audience_dsl.braze.decompile import decompile

    text = common.read_text(args.file, "")
    reporter = Reporter("text", sys.stdout, sys.stderr)
    if args.schema is not None and not _check(args, reporter, text):
        return EXIT_INPUT
    try:
        print(decompile(text, width=args.width))
    except ValidationError as exc:
        reporter.report(from_validation(exc, _name(args.file)))
        return EXIT_INPUT
    return EXIT_OK
