"""Subcommands on rule text: ``compile``, ``check`` and ``fmt``."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

from audience_dsl.check import Schema
from audience_dsl.cli import common
from audience_dsl.cli.common import EXIT_INPUT, EXIT_OK, InputError, RuleInput, UsageError
from audience_dsl.cli.output import (
    Problem,
    Reporter,
    dump_json,
    from_diagnostic,
    from_rule_error,
    from_warning,
    words,
)
from audience_dsl.errors import AudienceWarning, RuleError, SchemaError
from audience_dsl.pipeline import compile as compile_rule
from audience_dsl.pipeline import format as format_rule
from audience_dsl.source import Source

__all__ = ["add_parsers"]

T = TypeVar("T")


def add_rule_arguments(parser: argparse.ArgumentParser, *, many: bool = False,
                       params: bool = True, stdin: bool = True) -> None:
    parser.add_argument("rule", nargs="?", help=(
        "the rule text (else --file or standard input)" if stdin
        else "the rule text (else --file; '--file -' reads standard input)"))
    if many:
        parser.add_argument(
            "-f", "--file", action="extend", nargs="+", metavar="FILE",
            help="rule files or directories of .aud files, one or more, repeatable "
                 "('-': standard input)")
    else:
        parser.add_argument("-f", "--file", action="append", metavar="FILE",
                            help="read the rule from this file ('-': standard input)")
    if params:
        parser.add_argument("--params", metavar="JSON",
                            help="parameter values as a JSON object, e.g. '{\"min\": 100}'")


def add_schema_arguments(parser: argparse.ArgumentParser, *, strict: bool = True) -> None:
    parser.add_argument("--schema", metavar="FILE",
                        help="a JSON or TOML schema of attribute types")
    if strict:
        parser.add_argument("--strict", action="store_true",
                            help="with --schema: attributes missing from it are errors")


def add_parsers(commands: Any) -> None:
    compile_parser = commands.add_parser(
        "compile", help="rule text to Connected Audience JSON",
        description="Compile one rule to the Connected Audience JSON Braze takes.")
    add_rule_arguments(compile_parser)
    add_schema_arguments(compile_parser)
    compile_parser.add_argument("--list-comparisons", action="store_true",
                                help="allow Braze's newer is_any_of / is_none_of in the output")
    compile_parser.add_argument("--indent", type=int, default=2,
                                help="JSON indentation; 0 for one line (default 2)")
    common.add_format(compile_parser, "text", "json", "github")
    compile_parser.set_defaults(run=run_compile)

    check_parser = commands.add_parser(
        "check", help="check rules; print nothing for those that are fine",
        description="Check one rule, or many files and directories (of .aud files).")
    add_rule_arguments(check_parser, many=True)
    add_schema_arguments(check_parser)
    check_parser.add_argument("--list-comparisons", action="store_true",
                              help="allow Braze's newer is_any_of / is_none_of")
    common.add_format(check_parser, "text", "json", "github")
    check_parser.set_defaults(run=run_check)

    fmt_parser = commands.add_parser(
        "fmt", help="rule text to canonical text, comments kept",
        description="Print rules in canonical form, or check or rewrite rule files.")
    add_rule_arguments(fmt_parser, many=True, params=False)
    fmt_parser.add_argument("--width", type=int, default=88, help="line width (default 88)")
    mode = fmt_parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="exit 1 if a file would be changed by --write; change nothing")
    mode.add_argument("--write", action="store_true",
                      help="rewrite each --file in place instead of printing")
    fmt_parser.add_argument("-q", "--quiet", action="store_true",
                            help="print only problems")
    common.add_format(fmt_parser, "text", "json", "github")
    fmt_parser.set_defaults(run=run_fmt)


# ---- shared ---------------------------------------------------------------------------------


def load_schema(args: argparse.Namespace) -> Schema | None:
    """``--schema`` read (a usage error if missing, an input error if malformed);
    ``--strict`` without it is a usage error."""
    path = getattr(args, "schema", None)
    if getattr(args, "strict", False) and path is None:
        raise UsageError("--strict needs --schema",
                         "--strict makes attributes missing from the schema errors")
    if path is None:
        return None
    common.readable(path, "--schema")
    try:
        return Schema.load(path)
    except SchemaError as exc:
        raise InputError(path, words(str(exc)), "schema-error") from None


def guarded(reporter: Reporter, rule: RuleInput, work: Callable[[], T]) -> T | None:
    """Run ``work`` on one rule; its warnings and errors go to ``reporter`` (None on error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AudienceWarning)
        try:
            value: T | None = work()
        except RuleError as exc:
            reporter.report(from_rule_error(exc, rule.name))
            value = None
    source = Source(rule.text, rule.name)
    reporter.report(from_warning(w, rule.name, source) for w in caught
                    if issubclass(w.category, AudienceWarning))
    return value


# ---- compile and check ----------------------------------------------------------------------


def run_compile(args: argparse.Namespace) -> int:
    schema = load_schema(args)
    values = common.params(args)
    rule = common.one_rule(args)
    assert rule is not None
    # With --format json, standard output holds the audience when the rule compiles and
    # the diagnostics list when it does not; warnings then go to standard error as JSON.
    reporter = Reporter(args.format, sys.stdout, sys.stderr)
    if args.format == "json":
        reporter = Reporter("json", sys.stderr, sys.stderr)
    audience = guarded(reporter, rule, lambda: cast("dict[str, Any]", compile_rule(
        rule.text, params=values, schema=schema, strict=args.strict,
        list_comparisons=args.list_comparisons, source_name=rule.name)))
    if audience is None:
        if args.format == "json":
            dump_json([p.to_dict() for p in reporter.problems], sys.stdout)
        return EXIT_INPUT
    reporter.finish(always=False)
    indent = args.indent if args.indent > 0 else None
    print(json.dumps(audience, indent=indent, ensure_ascii=False))
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    schema = load_schema(args)
    values = common.params(args)
    reporter = Reporter(args.format, sys.stdout, sys.stderr)
    rules: list[RuleInput]
    if args.file:
        if args.rule is not None:
            common.check_rule_argument(args.rule)
            raise UsageError("give the rule as an argument or with --file, not both")
        rules = []
        for path in common.many_rules(args):
            try:
                rules.append(RuleInput(common.read_rule_file(path),
                                       "<stdin>" if path == "-" else path))
            except InputError as exc:
                reporter.report([Problem(exc.file, exc.message, exc.line, exc.column,
                                         exc.line, exc.column, code=exc.code)])
    else:
        one = common.one_rule(args)
        assert one is not None
        rules = [one]
    from audience_dsl.analysis import analyze  # every stage's problems at once

    for rule in rules:
        report = analyze(rule.text, schema=schema, params=values, strict=args.strict,
                         list_comparisons=args.list_comparisons, source_name=rule.name)
        reporter.report(from_diagnostic(d, rule.name, report.source) for d in report.diagnostics)
    reporter.finish()
    return EXIT_INPUT if reporter.errors else EXIT_OK


# ---- fmt ------------------------------------------------------------------------------------


def canonical(text: str, width: int) -> str:
    """The file text ``fmt --write`` writes for ``text``: the formatted rule and one final
    line break (none for a file without a rule), with the file's line breaks (CRLF when
    its first line ends in CRLF, else LF)."""
    crlf = "\r\n" in text.split("\n", 1)[0] + "\n" if "\n" in text else False
    formatted = format_rule(text.replace("\r\n", "\n"), width=width)
    out = formatted + "\n" if formatted else ""
    return out.replace("\n", "\r\n") if crlf else out


def run_fmt(args: argparse.Namespace) -> int:
    reporter = Reporter(args.format, sys.stdout, sys.stderr)
    if args.width < 20:
        raise UsageError(f"--width {args.width} is too narrow; give 20 or more")
    if (args.check or args.write) and not args.file:
        flag = "--check" if args.check else "--write"
        raise UsageError(f"{flag} needs --file (the files to check or rewrite)")
    if args.file and args.rule is not None:
        common.check_rule_argument(args.rule)
        raise UsageError("give the rule as an argument or with --file, not both")
    if not args.file:
        one = common.one_rule(args)
        assert one is not None
        result = guarded(reporter, one, lambda: canonical(one.text, args.width))
        reporter.finish(always=False)
        if result is None:
            return EXIT_INPUT
        sys.stdout.write(result.replace("\r\n", "\n"))
        return EXIT_OK
    paths = common.many_rules(args)
    if args.write and "-" in paths:
        raise UsageError("--write cannot rewrite standard input (--file -)")
    changed = unchanged = 0
    for path in paths:
        if path == "-":
            rule = RuleInput(sys.stdin.read(), "<stdin>")
        else:
            try:
                rule = RuleInput(common.read_text(path, "--file"), path)
            except InputError as exc:
                reporter.report([Problem(exc.file, exc.message, code=exc.code)])
                continue
        result = guarded(reporter, rule, lambda r=rule: canonical(r.text, args.width))  # type: ignore[misc]
        if result is None:
            continue
        if not args.check and not args.write:
            sys.stdout.write(result.replace("\r\n", "\n"))
            continue
        if result == rule.text:
            unchanged += 1
            continue
        changed += 1
        if args.check:
            reporter.report([Problem(path, "not formatted: fmt --write would change it",
                                     line=_first_difference(rule.text, result),
                                     end_line=_first_difference(rule.text, result),
                                     code="not-formatted",
                                     hint=f"run: audience-dsl fmt --write --file {path}")])
        else:
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(result)
    if args.write and not args.quiet and args.format == "text":
        print(f"{_files(changed)} reformatted, {_files(unchanged)} left unchanged",
              file=sys.stderr)
    reporter.finish()
    return EXIT_INPUT if reporter.errors else EXIT_OK


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _first_difference(before: str, after: str) -> int:
    for number, (old, new) in enumerate(
        zip(before.split("\n"), after.split("\n"), strict=False), 1
    ):
        if old != new:
            return number
    return min(before.count("\n"), after.count("\n")) + 1
