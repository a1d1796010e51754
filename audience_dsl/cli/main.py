"""The ``audience-dsl`` command line. It calls only the public API.

Exit status: 0 success, 1 a user error (the rule, JSON or parameters are wrong; the
diagnostic is on standard error), 2 a usage error (bad arguments, unreadable file),
3 for ``send`` when the request went out but not every recipient was accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from audience_dsl.errors import AudienceError, AudienceWarning
from audience_dsl.pipeline import compile as compile_rule
from audience_dsl.pipeline import format as format_rule
from audience_dsl.pipeline import parse, read_rule
from audience_dsl.version import __version__

__all__ = ["main"]

EXIT_USER_ERROR = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    pass


def _stdin_rule() -> str:
    """The rule on standard input, read as bytes where there are any (so UTF-8 is checked)."""
    stream = getattr(sys.stdin, "buffer", None)
    return read_rule(stream.read() if stream is not None else sys.stdin.read(), "<stdin>")


def _read_rule(args: argparse.Namespace) -> tuple[str, str]:
    """The rule text and the name to show in diagnostics."""
    if args.file is not None and args.rule is not None:
        raise _UsageError("give the rule as an argument or with --file, not both")
    if args.file is not None:
        if args.file == "-":
            return _stdin_rule(), "<stdin>"
        try:
            with open(args.file, "rb") as handle:
                return read_rule(handle.read(), args.file), args.file
        except OSError as exc:
            raise _UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    if args.rule is not None:
        return args.rule, "<rule>"
    if not sys.stdin.isatty():
        return _stdin_rule(), "<stdin>"
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
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    compile_parser = commands.add_parser("compile", help="rule text to Connected Audience JSON")
    _add_rule_arguments(compile_parser)
    compile_parser.add_argument("--indent", type=int, default=2, help="JSON indentation")

    check_parser = commands.add_parser("check", help="check a rule; print nothing if it is fine")
    _add_rule_arguments(check_parser)

    for command in (compile_parser, check_parser):
        command.add_argument("--schema", help="a JSON or TOML schema of attribute types")
        command.add_argument(
            "--strict", action="store_true", help="attributes missing from the schema are errors"
        )
        command.add_argument(
            "--list-comparisons",
            action="store_true",
            help="allow Braze's newer is_any_of / is_none_of in the output",
        )

    fmt_parser = commands.add_parser("fmt", help="rule text to canonical text, comments kept")
    _add_rule_arguments(fmt_parser)
    fmt_parser.add_argument("--width", type=int, default=88, help="line width")
    fmt_parser.add_argument(
        "--check", action="store_true", help="exit 1 if the rule is not formatted; print nothing"
    )
    fmt_parser.add_argument(
        "--write", action="store_true", help="rewrite --file in place instead of printing"
    )

    decompile_parser = commands.add_parser("decompile", help="Connected Audience JSON to rule text")
    decompile_parser.add_argument("file", nargs="?", default="-", help="a JSON file ('-': stdin)")
    decompile_parser.add_argument("--width", type=int, default=88, help="line width")

    validate_parser = commands.add_parser(
        "validate", help="check Connected Audience JSON against Braze's rules"
    )
    validate_parser.add_argument("file", nargs="?", default="-", help="a JSON file ('-': stdin)")

    send_parser = commands.add_parser(
        "send", help="compile a rule and send it with POST /campaigns/trigger/send"
    )
    _add_rule_arguments(send_parser)
    send_parser.add_argument("--campaign", required=True, help="the API-triggered campaign id")
    whom = send_parser.add_mutually_exclusive_group(required=True)
    whom.add_argument(
        "--broadcast", action="store_true", help="send to everyone the audience selects"
    )
    whom.add_argument("--recipients", help="a JSON-lines file of Braze recipient objects")
    where = send_parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--local",
        action="store_true",
        help="send to a local Braze-compatible endpoint started for this run, holding "
        "sample users (or --users)",
    )
    where.add_argument("--instance", help="a Braze instance: US-01 ... US-08, EU-01, ...")
    where.add_argument("--url", help="a REST endpoint URL")
    send_parser.add_argument(
        "--key-env",
        default="BRAZE_REST_API_KEY",
        help="the environment variable holding the REST API key (never an argument)",
    )
    send_parser.add_argument("--users", help="with --local: a JSON-lines file of user profiles")
    send_parser.add_argument("--schema", help="a JSON or TOML schema of attribute types")
    send_parser.add_argument("--trigger-properties", help="a JSON object for the message")
    send_parser.add_argument("--send-id", help="a send identifier for reporting")
    send_parser.add_argument("--journal", help="record outcomes here; a rerun resumes")
    send_parser.add_argument(
        "--resend-unknown",
        action="store_true",
        help="with --journal: also resend recipients whose outcome is unknown",
    )
    send_parser.add_argument("--dry-run", action="store_true", help="print the bodies only")
    send_parser.add_argument(
        "--allow-everyone", action="store_true", help="allow an audience that selects everyone"
    )

    preview_parser = commands.add_parser(
        "preview", help="run a rule over exported users (JSON lines): who would match"
    )
    _add_rule_arguments(preview_parser)
    preview_parser.add_argument("--users", required=True, help="a JSON-lines file of users")
    preview_parser.add_argument(
        "--now", help="the moment of sending, ISO 8601 with a time zone (default: now)"
    )
    preview_parser.add_argument("--sample", type=int, default=10, help="matching ids to show")
    preview_parser.add_argument("--json", action="store_true", help="print the result as JSON")
    preview_parser.add_argument(
        "--engine", choices=["python", "duckdb"], default="python",
        help="run the rule in Python or as SQL in embedded DuckDB (the sql extra)",
    )  # fmt: skip
    preview_parser.add_argument(
        "--table", help="with --engine duckdb and a DuckDB database file: its table of users"
    )
    _add_sql_command(commands)
    return parser


# ---- `sql`: print the rule as a SQL query ---------------------------------------------------

#: The dialects `sql --dialect` offers (audience_dsl.evaluator.sql.DIALECTS, not imported
#: here so that the command line starts without the sql extra).
_SQL_DIALECTS = ["duckdb", "snowflake", "bigquery", "postgres", "spark", "databricks", "redshift"]


def _add_sql_command(commands: Any) -> None:
    sql_parser = commands.add_parser(
        "sql", help="print the rule as one SQL query over a table of exported users"
    )
    _add_rule_arguments(sql_parser)
    sql_parser.add_argument("--dialect", choices=_SQL_DIALECTS, default="duckdb")
    sql_parser.add_argument("--table", default="users", help="the table of users (default: users)")
    sql_parser.add_argument(
        "--now", help="a fixed moment, ISO 8601 with a time zone (default: the engine's clock)"
    )


def _sql(args: argparse.Namespace) -> str | None:
    from audience_dsl.evaluator.sql import to_sql

    text, _name = _read_rule(args)
    now = None if args.now is None else _moment(args.now)
    rule = parse(text, params=_params(args) or {})
    return to_sql(rule, dialect=args.dialect, table=args.table, now=now)


def _moment(text: str) -> datetime:
    try:
        now = datetime.fromisoformat(text)
    except ValueError:
        raise _UsageError(f"--now is not an ISO 8601 date-time: {text!r}") from None
    if now.tzinfo is None:
        raise _UsageError("--now needs a time zone, e.g. 2024-01-31T12:00:00Z")
    return now


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
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AudienceWarning)
            output = COMMANDS[args.command](args)
        _show_warnings(caught, sys.stderr)
    except _UsageError as exc:
        print(f"audience-dsl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except _NotFormatted as exc:
        print(f"audience-dsl: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except _PartlySent as exc:
        print(exc.output)
        print(f"audience-dsl: {exc}", file=sys.stderr)
        return EXIT_NOT_ALL_ACCEPTED
    except AudienceError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USER_ERROR
    if output is not None:
        print(output)
    return 0


def _compile(args: argparse.Namespace) -> str | None:
    text, name = _read_rule(args)
    audience = compile_rule(
        text,
        params=_params(args),
        schema=args.schema,
        strict=args.strict,
        list_comparisons=args.list_comparisons,
        source_name=name,
    )
    if args.command == "check":
        return None
    return json.dumps(audience, indent=args.indent if args.indent > 0 else None)


def _read_file(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise _UsageError(f"cannot read {path}: {exc.strerror}") from None


def _validate(args: argparse.Namespace) -> str | None:
    from audience_dsl.braze.validate import validate  # loaded for this subcommand only

    validate(_read_file(args.file))
    return None


def _decompile(args: argparse.Namespace) -> str | None:
    from audience_dsl.braze.decompile import decompile  # loaded for this subcommand only

    return decompile(_read_file(args.file), width=args.width)


class _NotFormatted(Exception):
    pass


def _fmt(args: argparse.Namespace) -> str | None:
    text, _name = _read_rule(args)
    formatted = format_rule(text, width=args.width)
    if args.check:
        if formatted != text.rstrip("\n"):
            raise _NotFormatted(f"{args.file or 'the rule'} is not formatted")
        return None
    if args.write:
        if args.file in (None, "-"):
            raise _UsageError("--write needs --file")
        with open(args.file, "w", encoding="utf-8") as handle:
            handle.write(formatted + "\n")
        return None
    return formatted


def _preview(args: argparse.Namespace) -> str | None:
    text, _name = _read_rule(args)
    if args.now is None:
        now = datetime.now(UTC)
    else:
        try:
            now = datetime.fromisoformat(args.now)
        except ValueError:
            raise _UsageError(f"--now is not an ISO 8601 date-time: {args.now!r}") from None
        if now.tzinfo is None:
            raise _UsageError("--now needs a time zone, e.g. 2024-01-31T12:00:00Z")
    from audience_dsl.evaluator import preview  # loaded for this subcommand only

    rule = parse(text, params=_params(args) or {})
    result = preview(
        rule, args.users, now=now, sample=args.sample, engine=args.engine, table=args.table
    )
    if args.json:
        return json.dumps(
            {
                "matched": result.matched,
                "total": result.total,
                "sample": list(result.sample),
                "conditions": [{"text": c.text, "passed": c.passed} for c in result.leaves],
            },
            indent=2,
        )
    return str(result)


EXIT_NOT_ALL_ACCEPTED = 3


class _PartlySent(Exception):
    def __init__(self, output: str) -> None:
        super().__init__("not every recipient was accepted")
        self.output = output


def _json_lines(path: str) -> list[Any]:
    items = []
    for number, line in enumerate(_read_file(path).splitlines(), 1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise _UsageError(f"{path}:{number}: not JSON: {exc.msg}") from None
    return items


def _send(args: argparse.Namespace) -> str | None:
    from contextlib import ExitStack

    from audience_dsl.sender.client import BrazeClient
    from audience_dsl.testing.demo import SAMPLE_PROFILES
    from audience_dsl.testing.endpoint import LocalBraze

    text, _name = _read_rule(args)
    rule = parse(text, params=_params(args) or {})
    properties = None
    if args.trigger_properties is not None:
        try:
            properties = json.loads(args.trigger_properties)
        except json.JSONDecodeError as exc:
            raise _UsageError(f"--trigger-properties is not JSON: {exc.msg}") from None
    recipients = _json_lines(args.recipients) if args.recipients else None
    with ExitStack() as stack:
        local = None
        if args.local:
            users = _json_lines(args.users) if args.users else SAMPLE_PROFILES
            local = stack.enter_context(
                LocalBraze(campaigns=[args.campaign], keys=["local"], profiles=users)
            )
            key, base = "local", local.url
        else:
            key = os.environ.get(args.key_env, "")
            if not key:
                raise _UsageError(f"no API key: set the environment variable {args.key_env}")
            base = args.instance or args.url
        client = stack.enter_context(BrazeClient(key, base, allow_any_host=bool(args.local)))
        result = client.trigger_send(
            args.campaign,
            audience=rule,
            recipients=recipients,
            broadcast=True if args.broadcast else None,
            trigger_properties=properties,
            send_id=args.send_id,
            schema=args.schema,
            dry_run=args.dry_run,
            journal=args.journal,
            resend_unknown=args.resend_unknown,
            allow_everyone=args.allow_everyone,
        )
        report: dict[str, Any] = {"result": result.to_json()}
        if local is not None:
            report["local"] = {
                "sent": local.accepted_bodies(),
                "received": [delivery.user for delivery in local.deliveries],
            }
    output = json.dumps(report, indent=2)
    if not args.dry_run and not result.ok:
        raise _PartlySent(output)
    return output


COMMANDS: dict[str, Callable[[argparse.Namespace], str | None]] = {
    "compile": _compile,
    "check": _compile,
    "validate": _validate,
    "fmt": _fmt,
    "decompile": _decompile,
    "preview": _preview,
    "send": _send,
    "sql": _sql,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
