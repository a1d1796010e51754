"""``sql``: the rule as one SQL query over a table of users in Braze's export shape."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from audience_dsl.cli import common
from audience_dsl.cli.common import EXIT_INPUT, EXIT_OK, InputError
from audience_dsl.cli.output import Reporter
from audience_dsl.cli.rules import add_rule_arguments, guarded
from audience_dsl.errors import SQLError
from audience_dsl.pipeline import parse

#: The dialects ``sql --dialect`` offers (``audience_dsl.evaluator.sql``'s, written here so
#: that the command line starts without the sql extra).
DIALECTS = ("duckdb", "snowflake", "bigquery", "postgres", "spark", "databricks", "redshift")


def add_parsers(commands: Any) -> None:
    parser = commands.add_parser(
        "sql", help="print the rule as one SQL query over a table of exported users",
        description="Print the rule as one SELECT over a table whose rows are users in "
                    "Braze's export shape, with the reference evaluator's meaning (the sql "
                    "extra: pip install 'audience-dsl[sql]'). One limit: a stored time is "
                    "read in the ISO 8601 and MM/dd/yyyy forms listed in docs/preview.md; "
                    "rarer spellings that Python also reads (week dates, offsets with "
                    "seconds) are not times in the SQL. preview --engine duckdb reads them "
                    "all.")
    add_rule_arguments(parser)
    parser.add_argument("--dialect", choices=DIALECTS, default="duckdb",
                        help="the SQL dialect (default duckdb)")
    parser.add_argument("--table", default="users", metavar="NAME",
                        help="the table of users (default users; dotted for a schema)")
    parser.add_argument("--now", metavar="WHEN",
                        help="a fixed moment, 2024-06-01 (midnight UTC) or "
                             "2024-06-01T12:00:00Z (default: the engine's clock at run time)")
    common.add_format(parser, "text", "json", "github")
    parser.set_defaults(run=run_sql)


def run_sql(args: argparse.Namespace) -> int:
    now = None if args.now is None else common.moment(args.now)
    reporter = Reporter(args.format, sys.stdout, sys.stderr)
    rule = common.one_rule(args)
    assert rule is not None
    values = common.params(args)
    from audience_dsl.evaluator.sql import to_sql

    try:
        query = guarded(reporter, rule, lambda: to_sql(
            parse(rule.text, params=values or {}, source_name=rule.name),
            dialect=args.dialect, table=args.table, now=now))
    except SQLError as exc:
        raise InputError(rule.name, str(exc), "not-expressible-in-sql") from None
    reporter.finish()
    if query is None:
        return EXIT_INPUT
    print(query)
    return EXIT_OK
