"""Subcommands on exported users: ``preview`` (who a rule selects) and ``explain`` (why
one user is in or out, condition by condition)."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from audience_dsl.cli import common
from audience_dsl.cli.common import EXIT_INPUT, EXIT_OK, InputError, RuleInput
from audience_dsl.cli.output import Problem, Reporter, dump_json, from_validation, words
from audience_dsl.cli.rules import add_rule_arguments, add_schema_arguments, guarded, load_schema
from audience_dsl.errors import ValidationError
from audience_dsl.language.ast import Rule
from audience_dsl.pipeline import compile as compile_rule
from audience_dsl.pipeline import parse

__all__ = ["add_parsers"]

#: The engines ``preview`` can run a rule with. The SQL engine (``--engine duckdb``)
#: registers itself here when it is added.
ENGINES = ("python", "duckdb")


def add_parsers(commands: Any) -> None:
    preview_parser = commands.add_parser(
        "preview", help="run a rule over exported users (JSON lines): who would match",
        description="Run a rule over users exported from Braze (one JSON object a line): "
                    "how many match, a sample of them, and how often each condition held.")
    add_rule_arguments(preview_parser)
    _add_user_arguments(preview_parser, more=", or a Parquet file of them (the sql extra); "
                        "with --engine duckdb also a DuckDB database file, with --table")
    preview_parser.add_argument("--sample", type=int, default=10,
                                help="how many matching ids to show (default 10)")
    preview_parser.add_argument("--engine", choices=ENGINES, default="python",
                                help="what runs the rule: the reference evaluator (python, "
                                     "the default) or the same rule as SQL in embedded "
                                     "DuckDB (duckdb; the sql extra)")
    preview_parser.add_argument("--table", metavar="NAME",
                                help="with --engine duckdb and a DuckDB database as --users: "
                                     "the table of users")
    common.add_format(preview_parser, "text", "json")
    preview_parser.set_defaults(run=run_preview)

    explain_parser = commands.add_parser(
        "explain", help="why one user is in or out, condition by condition",
        description="Evaluate a rule on one user of an export and show each condition's "
                    "result with the reason.")
    add_rule_arguments(explain_parser)
    _add_user_arguments(explain_parser)
    explain_parser.add_argument("--user", required=True, metavar="ID",
                                help="the user's external_id (or braze_id)")
    common.add_format(explain_parser, "text", "json")
    explain_parser.set_defaults(run=run_explain)


def _add_user_arguments(parser: argparse.ArgumentParser, *, more: str = "") -> None:
    parser.add_argument("--users", required=True, metavar="FILE",
                        help="a JSON-lines file of user profiles (Braze's export shape)" + more)
    parser.add_argument("--now", metavar="WHEN",
                        help="the moment of sending: 2024-06-01 (midnight UTC) or "
                             "2024-06-01T12:00:00Z (default: now)")
    add_schema_arguments(parser)


def _rule(args: argparse.Namespace, reporter: Reporter) -> tuple[RuleInput, Rule | None]:
    """The rule, checked against ``--schema`` when given, and parsed with ``--params``."""
    schema = load_schema(args)
    values = common.params(args)
    rule = common.one_rule(args)
    assert rule is not None
    if schema is not None:
        compiled = guarded(reporter, rule, lambda: compile_rule(
            rule.text, params=values, schema=schema, strict=args.strict,
            source_name=rule.name))
        if compiled is None:
            return rule, None
    parsed = guarded(reporter, rule, lambda: parse(rule.text, params=values or {},
                                                   source_name=rule.name))
    return rule, parsed


_USER_LINE = re.compile(r"^(?P<file>.*):(?P<line>\d+)(?P<rest>\..*)?$")


def _users_problems(exc: ValidationError, users: str) -> list[Problem]:
    out = []
    for problem in from_validation(exc, users, "invalid-users"):
        found = _USER_LINE.match(problem.path or "")
        if found is not None:
            line = int(found.group("line"))
            path = (found.group("rest") or "")[1:] or None
            problem = Problem(users, problem.message, line, 1, line, 1, code=problem.code,
                              path=path)
        out.append(problem)
    return out


def run_preview(args: argparse.Namespace) -> int:
    if args.sample < 0:
        raise common.UsageError(f"--sample {args.sample}: give 0 or more")
    if args.table is not None and args.engine != "duckdb":
        raise common.UsageError("--table goes with --engine duckdb",
                                "a table is read from a DuckDB database by the duckdb engine")
    users = common.readable(args.users, "--users")
    now = common.moment(args.now)
    reporter = Reporter(args.format, sys.stdout, sys.stderr)
    rule, parsed = _rule(args, reporter)
    if parsed is None:
        reporter.finish()
        return EXIT_INPUT
    from audience_dsl.evaluator import preview

    try:
        result = guarded(reporter, rule, lambda: preview(
            parsed, users, now=now, sample=args.sample, engine=args.engine, table=args.table))
    except ValidationError as exc:
        reporter.report(_users_problems(exc, users))
        result = None
    if result is None:
        reporter.finish()
        return EXIT_INPUT
    if args.format == "json":
        dump_json({
            "file": rule.name,
            "users": users,
            "matched": result.matched,
            "total": result.total,
            "sample": list(result.sample),
            "conditions": [
                {"text": leaf.text, "passed": leaf.passed,
                 "line": leaf.span.line if leaf.span else None,
                 "column": leaf.span.column if leaf.span else None}
                for leaf in result.leaves
            ],
        }, sys.stdout)
    else:
        print(result)
    return EXIT_OK


def _find(users: str, wanted: str) -> dict[str, Any]:
    count = 0
    seen: list[str] = []
    for profile in common.objects(users, "--users", "a user profile"):
        count += 1
        ids = [str(profile[k]) for k in ("external_id", "braze_id") if profile.get(k)]
        if wanted in ids:
            return profile
        if len(seen) < 3 and ids:
            seen.append(ids[0])
    some = f"; ids there look like {', '.join(seen)}" if seen else ""
    raise InputError(users, f"no user with external_id or braze_id {wanted!r} among the "
                     f"{count} users{some}", "unknown-user")


def run_explain(args: argparse.Namespace) -> int:
    users = common.readable(args.users, "--users")
    now = common.moment(args.now)
    reporter = Reporter(args.format, sys.stdout, sys.stderr)
    rule, parsed = _rule(args, reporter)
    if parsed is None:
        reporter.finish()
        return EXIT_INPUT
    profile = _find(users, args.user)
    from audience_dsl.evaluator import explain

    try:
        why = explain(parsed, profile, now=now)
    except ValidationError as exc:
        reporter.report([Problem(users, words(f"user {args.user}: {m}"), code="invalid-users",
                                 path=p) for p, m in exc.problems])
        reporter.finish()
        return EXIT_INPUT
    if args.format == "json":
        dump_json({
            "file": rule.name,
            "user": args.user,
            "matched": why.matched,
            "steps": [
                {"text": s.text, "result": s.result, "reason": s.reason, "depth": s.depth,
                 "line": s.span.line if s.span else None,
                 "column": s.span.column if s.span else None}
                for s in why.steps
            ],
        }, sys.stdout)
        return EXIT_OK
    lines = str(why).split("\n")
    print(f"{args.user}: {lines[0]}")
    print("\n".join(lines[1:]))
    return EXIT_OK
