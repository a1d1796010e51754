"""``schema infer`` (a schema from exported users) and ``schema pull`` (the workspace's
attribute types from Braze's ``GET /custom_attributes``)."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from typing import Any

from audience_dsl.check import Schema
from audience_dsl.cli import common
from audience_dsl.cli.common import EXIT_OK, InputError, UsageError
from audience_dsl.cli.output import words
from audience_dsl.errors import ValidationError

__all__ = ["add_parsers", "render_schema"]

_BARE = re.compile(r"[A-Za-z0-9_-]+\Z")


def add_parsers(commands: Any) -> None:
    schema_parser = commands.add_parser(
        "schema", help="write a schema file: infer it from users, or pull it from Braze",
        description="Write a schema (attribute name = type) for --schema.")
    actions = schema_parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    infer_parser = actions.add_parser(
        "infer", help="a schema from exported users (JSON lines)",
        description="Infer each custom attribute's type from users exported from Braze.")
    infer_parser.add_argument("--users", required=True, metavar="FILE",
                              help="a JSON-lines file of user profiles")
    _add_output(infer_parser)
    infer_parser.set_defaults(run=run_infer)

    pull_parser = actions.add_parser(
        "pull", help="the workspace's attribute types from Braze (GET /custom_attributes)",
        description="Read every custom attribute's type from Braze's GET "
                    "/custom_attributes (50 a page, following the Link header).")
    where = pull_parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--instance", help="a Braze instance: US-01 ... US-08, EU-01, ...")
    where.add_argument("--url", help="a REST endpoint URL")
    where.add_argument("--local", action="store_true",
                       help="a local Braze-compatible endpoint holding the sample users "
                            "(or --users)")
    pull_parser.add_argument("--users", metavar="FILE",
                             help="with --local: a JSON-lines file of user profiles")
    pull_parser.add_argument(
        "--key-env", default="BRAZE_REST_API_KEY", metavar="NAME",
        help="the environment variable holding the REST API key, which needs the "
             "custom_attributes.get permission (default BRAZE_REST_API_KEY)")
    _add_output(pull_parser)
    pull_parser.set_defaults(run=run_pull)


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("toml", "json"), default="toml",
                        help="the schema file's format (default toml)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the schema here instead of standard output")


def render_schema(types: Mapping[str, str], notes: Iterable[str], fmt: str) -> str:
    """A schema file (TOML or JSON) that ``--schema`` reads back."""
    if fmt == "json":
        return json.dumps(dict(sorted(types.items())), indent=2, ensure_ascii=False) + "\n"
    lines = [f"# {note}" for note in notes]
    for name, kind in sorted(types.items()):
        key = name if _BARE.match(name) else json.dumps(name)
        lines.append(f'{key} = "{kind}"')
    return "\n".join(lines) + "\n"


def _write(args: argparse.Namespace, text: str) -> None:
    if args.output is None:
        sys.stdout.write(text)
        return
    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(f"--output {args.output}: cannot write it ({exc.strerror})") from None


def run_infer(args: argparse.Namespace) -> int:
    profiles = common.objects(common.readable(args.users, "--users"), "--users",
                              "a user profile")
    schema = Schema.infer(profiles)
    notes = [f"Inferred by audience-dsl schema infer from {len(profiles)} users in "
             f"{os.path.basename(args.users)}."]
    for name, seen in sorted(schema.conflicts.items()):
        kinds = ", ".join(k.value for k in seen)
        notes.append(f"{name}: seen as {kinds}; the most common, {schema[name].value}, is kept")
    types = {name: kind.value for name, kind in schema.items()}
    _write(args, render_schema(types, notes, args.format))
    return EXIT_OK


def run_pull(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        if args.local:
            from audience_dsl.testing.demo import SAMPLE_PROFILES
            from audience_dsl.testing.endpoint import LocalBraze

            profiles = (common.objects(common.readable(args.users, "--users"), "--users",
                                       "a user profile") if args.users else SAMPLE_PROFILES)
            local = stack.enter_context(LocalBraze(keys=["local"], profiles=profiles))
            key, base = "local", local.url
        else:
            if args.users is not None:
                raise UsageError("--users goes with --local only")
            from audience_dsl.braze.request import check_api_key, check_base_url

            key = os.environ.get(args.key_env, "")
            if not key:
                raise UsageError(f"no API key: set the environment variable {args.key_env}",
                                 "the key needs the custom_attributes.get permission")
            try:
                check_api_key(key)
                base = check_base_url(args.instance or args.url)
            except ValidationError as exc:
                raise UsageError(words("; ".join(m for _, m in exc.problems))) from None
        import httpx

        from audience_dsl.sender.attributes import AttributeListError, custom_attribute_types

        http = stack.enter_context(httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0)))
        try:
            types, notes = custom_attribute_types(base, key, http=http)
        except AttributeListError as exc:
            raise InputError(base + "/custom_attributes", str(exc), "pull-failed") from None
    where = "the local endpoint" if args.local else base
    header = [f"Pulled by audience-dsl schema pull from {where}: {len(types)} attributes."]
    _write(args, render_schema(types, header + notes, args.format))
    return EXIT_OK
