"""``send``: compile a rule and send a campaign with ``POST /campaigns/trigger/send``, to
an audience, to recipients from a file, or both; show what happens while it happens."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any, cast

from audience_dsl.cli import common
from audience_dsl.cli.common import (
    EXIT_INPUT,
    EXIT_NOT_ALL_ACCEPTED,
    EXIT_NOTHING_SENT,
    EXIT_OK,
    InputError,
    UsageError,
)
from audience_dsl.cli.output import (
    Problem,
    Reporter,
    from_validation,
    from_warning,
    json_line,
    words,
)
from audience_dsl.cli.progress import Progress, watched
from audience_dsl.cli.rules import add_rule_arguments, add_schema_arguments, guarded, load_schema
from audience_dsl.errors import AudienceWarning, SendError, ValidationError
from audience_dsl.pipeline import compile as compile_rule
from audience_dsl.pipeline import parse

__all__ = ["add_parsers", "read_recipients"]

#: Recipients and outcomes shown one by one in the text report; the rest are counted.
SHOWN = 20
#: Columns of a recipients CSV file (besides ``trigger_properties.NAME`` and
#: ``attributes.NAME``, whose cells are strings).
CSV_COLUMNS = ("external_user_id", "braze_id", "email", "alias_name", "alias_label",
               "prioritization", "send_to_existing_only")


def add_parsers(commands: Any) -> None:
    send_parser = commands.add_parser(
        "send", help="send a campaign with POST /campaigns/trigger/send",
        description="Send an API-triggered campaign to the users a rule selects "
                    "(--broadcast), to recipients from a file (--recipients), or to the "
                    "recipients the rule keeps.")
    add_rule_arguments(send_parser, stdin=False)
    send_parser.add_argument("--campaign", required=True, metavar="ID",
                             help="the API-triggered campaign's id")
    whom = send_parser.add_mutually_exclusive_group(required=True)
    whom.add_argument("--broadcast", action="store_true",
                      help="send to everyone in the campaign's audience the rule selects")
    whom.add_argument("--recipients", metavar="FILE",
                      help="recipients: a JSON-lines file of Braze recipient objects, or a "
                           "CSV file (.csv) with an external_user_id (or email, ...) column")
    where = send_parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true",
                       help="send to a local Braze-compatible endpoint started for this run, "
                            "holding sample users (or --users)")
    where.add_argument("--instance", help="a Braze instance: US-01 ... US-08, EU-01, ...")
    where.add_argument("--url", help="a REST endpoint URL")
    send_parser.add_argument(
        "--key-env", default="BRAZE_REST_API_KEY", metavar="NAME",
        help="the environment variable holding the REST API key (never an argument; "
             "default BRAZE_REST_API_KEY); not needed with --dry-run or --local")
    send_parser.add_argument("--users", metavar="FILE",
                             help="with --local: a JSON-lines file of user profiles")
    add_schema_arguments(send_parser)
    send_parser.add_argument("--trigger-properties", metavar="JSON",
                             help="a JSON object for the message's Liquid")
    send_parser.add_argument("--send-id", metavar="ID", help="a send identifier for reporting")
    send_parser.add_argument("--journal", metavar="FILE",
                             help="record every outcome here; run again to send only what "
                                  "was not accepted")
    send_parser.add_argument("--resend-unknown", action="store_true",
                             help="with --journal: also resend recipients whose outcome is "
                                  "unknown (they may get the message twice)")
    send_parser.add_argument("--dry-run", action="store_true",
                             help="check everything and print the requests; send nothing "
                                  "(needs no API key)")
    send_parser.add_argument("--allow-everyone", action="store_true",
                             help="allow an audience that selects every user, or a broadcast "
                                  "without a rule")
    send_parser.add_argument("--allow-any-host", action="store_true",
                             help="with --url: allow a host that is not Braze's (a stand-in)")
    send_parser.add_argument("-q", "--quiet", action="store_true",
                             help="no progress display; print only the summary and problems")
    common.add_format(send_parser, "text", "json")
    send_parser.set_defaults(run=run_send)


# ---- recipients -----------------------------------------------------------------------------


def read_recipients(path: str) -> list[dict[str, Any]]:
    """Recipients from a JSON-lines file (one recipient object a line) or a CSV file."""
    return _recipients(path)[0]


def _recipients(path: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The recipients of a file and the line each stands on."""
    import csv
    import io

    common.readable(path, "--recipients")
    if not path.lower().endswith(".csv"):
        numbered = []
        for number, value in common.json_lines(path, "--recipients"):
            if not isinstance(value, dict):
                raise InputError(path, f"line {number} holds {type(value).__name__}, not one "
                                 "JSON object (a recipient object)", "not-an-object",
                                 line=number)
            numbered.append((value, number))
        return [r for r, _ in numbered], [n for _, n in numbered]
    text = common.read_text(path, "--recipients")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    for column in columns:
        if column not in CSV_COLUMNS and not column.startswith(("trigger_properties.",
                                                                "attributes.")):
            raise InputError(path, f"unknown column {column!r}; the columns are "
                             f"{', '.join(CSV_COLUMNS)}, trigger_properties.NAME and "
                             "attributes.NAME", "unknown-column")
    if not columns:
        raise InputError(path, "the file is empty; the first line names the columns",
                         "empty-file")
    out = []
    lines = []
    for row in reader:
        recipient: dict[str, Any] = {}
        for column, cell in row.items():
            if cell is None or cell == "" or column is None:
                continue
            if column in ("alias_name", "alias_label"):
                recipient.setdefault("user_alias", {})[column] = cell
            elif column == "prioritization":
                recipient[column] = [p.strip() for p in cell.split(";") if p.strip()]
            elif column == "send_to_existing_only":
                if cell.lower() not in ("true", "false"):
                    raise InputError(path, f"line {reader.line_num}: send_to_existing_only "
                                     f"is true or false, not {cell!r}", "bad-cell",
                                     line=reader.line_num)
                recipient[column] = cell.lower() == "true"
            elif "." in column:
                group, _, name = column.partition(".")
                recipient.setdefault(group, {})[name] = cell
            else:
                recipient[column] = cell
        if None in row:
            raise InputError(path, f"line {reader.line_num} has more cells than columns",
                             "bad-row", line=reader.line_num)
        if recipient:
            out.append(recipient)
            lines.append(reader.line_num)
    return out, lines


# ---- the command ----------------------------------------------------------------------------


def _usage_checks(args: argparse.Namespace) -> None:
    if args.users is not None and not args.local:
        raise UsageError("--users goes with --local (the users the local endpoint holds)")
    if args.resend_unknown and args.journal is None:
        raise UsageError("--resend-unknown needs --journal")
    if args.dry_run and args.journal is not None:
        raise UsageError("--journal does nothing with --dry-run (nothing is sent)",
                         "drop --journal, or --dry-run to send")
    if args.allow_any_host and args.url is None:
        raise UsageError("--allow-any-host goes with --url")


def _key(args: argparse.Namespace) -> str:
    from audience_dsl.braze.request import check_api_key

    if args.local:
        return "local"
    key = os.environ.get(args.key_env, "")
    if not key and args.dry_run:
        return "dry-run"  # never sent
    if not key:
        raise UsageError(f"no API key: set the environment variable {args.key_env}",
                         "the key is read from the environment, never from an argument; "
                         "--dry-run needs none")
    try:
        return check_api_key(key)
    except ValidationError as exc:
        message = "; ".join(m for _, m in exc.problems)
        raise UsageError(f"the API key in {args.key_env}: {words(message)}") from None


def _base(args: argparse.Namespace) -> str:
    from audience_dsl.braze.request import check_base_url

    flag = "--instance" if args.instance is not None else "--url"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AudienceWarning)
            base = check_base_url(args.instance or args.url,
                                  allow_any_host=args.allow_any_host)
    except ValidationError as exc:
        message = "; ".join(m for _, m in exc.problems)
        raise UsageError(f"{flag} {args.instance or args.url}: {words(message)}") from None
    for warning in caught:
        print(f"audience-dsl: warning: {flag}: {words(str(warning.message))}",
              file=sys.stderr)
    return base


def run_send(args: argparse.Namespace) -> int:
    _usage_checks(args)
    schema = load_schema(args)
    values = common.params(args)
    properties = common.json_object(args.trigger_properties, "--trigger-properties")
    rule = common.one_rule(args, stdin=False)
    if rule is None and args.broadcast and not args.allow_everyone:
        raise UsageError(
            "--broadcast needs a rule: without one the campaign goes to its whole audience",
            "give the rule, or add --allow-everyone if that is really meant")
    recipients, lines = _recipients(args.recipients) if args.recipients else (None, [])
    key = _key(args)
    base = None if args.local else _base(args)

    reporter = Reporter(args.format, sys.stdout, sys.stderr)
    audience = None
    if rule is not None:
        audience = guarded(reporter, rule, lambda: cast("dict[str, Any]", compile_rule(
            rule.text, params=values, schema=schema, strict=args.strict,
            source_name=rule.name)))
        if audience is None:
            reporter.finish()
            return EXIT_INPUT

    from audience_dsl.sender import BrazeClient

    report = _Report(args, rule.text if rule else None, audience)
    if rule is not None:  # for the reasons a sample user is left out, in the rule's words
        report.parsed = parse(rule.text, params=values or {}, source_name=rule.name)
    with ExitStack() as stack:
        local = None
        if args.local:
            from audience_dsl.testing.demo import SAMPLE_PROFILES
            from audience_dsl.testing.endpoint import LocalBraze

            users = (common.objects(common.readable(args.users, "--users"), "--users",
                                    "a user profile") if args.users else list(SAMPLE_PROFILES))
            report.users = users
            import secrets

            # A fresh seed per run: dispatch ids differ from one run to the next.
            local = stack.enter_context(LocalBraze(
                campaigns=[args.campaign], keys=[key], profiles=users,
                seed=secrets.randbits(64)))
            base = local.url
        assert base is not None
        show = (not args.quiet and not args.dry_run and sys.stderr.isatty())
        progress: Progress | None = None
        counted = _requests(recipients)
        if show:
            progress = Progress(counted, sys.stderr)
        hooks: list[Callable[[Any], None]] = []
        if progress is not None:
            hooks.append(progress.on_request)
        if args.format == "json":
            hooks.append(report.stream)

        def on_request(outcome: Any) -> None:
            for hook in hooks:
                hook(outcome)

        def sleep(seconds: float) -> None:
            if progress is not None and seconds >= 0.2:
                progress.waiting(seconds)
            time.sleep(seconds)

        client = stack.enter_context(BrazeClient(
            key, base, allow_any_host=bool(args.local or args.allow_any_host), sleep=sleep))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AudienceWarning)
            try:
                with watched(progress):
                    result = client.trigger_send(
                        args.campaign,
                        audience=audience,
                        recipients=recipients,
                        broadcast=True if args.broadcast else None,
                        trigger_properties=properties,
                        send_id=args.send_id,
                        dry_run=args.dry_run,
                        journal=args.journal,
                        resend_unknown=args.resend_unknown,
                        allow_everyone=args.allow_everyone,
                        on_request=on_request,
                    )
            except ValidationError as exc:
                name = args.recipients or (rule.name if rule else "<request>")
                reporter.report(_placed(p, lines)
                                for p in from_validation(exc, name, "invalid-request"))
                reporter.finish()
                return EXIT_INPUT
            except SendError as exc:
                target = args.journal or base
                reporter.report([Problem(target, words(str(exc)), code="send-error")])
                reporter.finish()
                return EXIT_INPUT
        # The audience's own warnings were shown when it compiled.
        fresh = [w for w in caught if issubclass(w.category, AudienceWarning)
                 and not str(w.message).startswith("$.audience")]
        reporter.report(from_warning(w, args.recipients or "<request>") for w in fresh)
        status = _status(result)
        if local is not None:
            report.local = local
        report.finish(result, status)
    return status


_RECIPIENT = re.compile(r"^\$\.recipients\[(\d+)\]")


def _placed(problem: Problem, lines: list[int]) -> Problem:
    """A problem of ``$.recipients[i]`` at the line of the file where recipient i stands."""
    found = _RECIPIENT.match(problem.path or "")
    if found is None or int(found.group(1)) >= len(lines):
        return problem
    line = lines[int(found.group(1))]
    return dataclasses.replace(problem, line=line, end_line=line)


def _requests(recipients: Sequence[Any] | None) -> int:
    if recipients is None:
        return 1
    return max(1, -(-len(recipients) // 50))


def _status(result: Any) -> int:
    if result.dry_run or result.ok:
        return EXIT_OK
    states = {o.state.value for o in result.outcomes.values()}
    if states and states <= {"not_sent"}:
        return EXIT_NOTHING_SENT
    return EXIT_NOT_ALL_ACCEPTED


# ---- the report -----------------------------------------------------------------------------


class _Report:
    """What ``send`` prints: readable text, or JSON lines (``--format json``)."""

    def __init__(self, args: argparse.Namespace, rule: str | None,
                 audience: dict[str, Any] | None) -> None:
        self.args = args
        self.rule = rule
        self.audience = audience
        self.users: list[dict[str, Any]] | None = None
        self.local: Any = None
        self.parsed: Any = None
        self.streamed: set[str] = set()

    # JSON lines, as each request is decided
    def stream(self, outcome: Any) -> None:
        json_line({"type": "request", "index": outcome.index, "state": outcome.state.value,
                   "status_code": outcome.status_code, "attempts": outcome.attempts,
                   "recipients": len(outcome.keys), "message": outcome.message}, sys.stdout)
        for key in outcome.keys:
            self.streamed.add(key)
            json_line({"type": "recipient", "key": key, "state": outcome.state.value,
                       "dispatch_id": outcome.dispatch_id, "message": outcome.message,
                       "request": outcome.index, "from_journal": False}, sys.stdout)

    def finish(self, result: Any, status: int) -> None:
        if self.args.format == "json":
            self._json(result, status)
        else:
            self._text(result, status)

    def _json(self, result: Any, status: int) -> None:
        out = sys.stdout
        if result.dry_run:
            for index, body in enumerate(result.bodies):
                json_line({"type": "body", "index": index, "body": body}, out)
        for o in result.outcomes.values():
            if o.key not in self.streamed:
                json_line({"type": "recipient", "key": o.key, "state": o.state.value,
                           "dispatch_id": o.dispatch_id, "message": o.message,
                           "request": o.request, "from_journal": o.from_journal}, out)
        for delivery in self.local.deliveries if self.local is not None else ():
            json_line({"type": "delivery", "user": delivery.user,
                       "dispatch_id": delivery.dispatch_id}, out)
        json_line({"type": "summary", "campaign_id": result.campaign_id,
                   "dry_run": result.dry_run, "ok": result.ok, "counts": result.counts(),
                   "exit": status}, out)

    def _text(self, result: Any, status: int) -> None:
        out: list[str] = []
        quiet = self.args.quiet
        if not quiet:
            if self.rule is not None:
                out += ["Rule", _indent(self.rule.strip()), ""]
                out += ["Compiled audience", _indent(json.dumps(self.audience, indent=2,
                                                                ensure_ascii=False)), ""]
            out += self._requests_text(result)
        if result.dry_run:
            out.append(f"Dry run: {len(result.bodies)} request(s) checked; nothing was sent.")
            print("\n".join(out))
            return
        if not quiet:
            out += ["Outcome per recipient", *_outcomes(result), ""]
        out += ["Summary", *_summary(result)]
        if self.local is not None and not quiet:
            out += ["", *self._audience_text()]
        print("\n".join(out))
        if status == EXIT_NOTHING_SENT:
            first = next((r.message for r in result.requests if r.message), "")
            print(f"audience-dsl: nothing was sent: {words(first)}", file=sys.stderr)
        elif status == EXIT_NOT_ALL_ACCEPTED:
            counts = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in result.counts().items()
                               if n and s != "accepted")
            print(f"audience-dsl: not every recipient was accepted ({counts})",
                  file=sys.stderr)

    def _requests_text(self, result: Any) -> list[str]:
        from audience_dsl.braze.request import PATH

        if result.dry_run:
            bodies = [(None, b) for b in result.bodies]
            url = "(not sent)"
        elif self.local is not None:
            bodies = [(r.status, r.body) for r in self.local.requests if r.body is not None]
            url = self.local.url + PATH
        else:
            lines = ["Requests"]
            for r in result.requests:
                lines.append(f"  {r.index + 1}. {r.state.value}: {len(r.keys)} recipient(s), "
                             f"status {r.status_code or '-'}, {r.attempts} tries"
                             + (f": {words(r.message)}" if r.message else ""))
            return [*lines, ""]
        lines = []
        for number, (answer, body) in enumerate(bodies, 1):
            head = f"Request {number} of {len(bodies)}"
            head += " (dry run)" if result.dry_run else f" as sent: POST {url}"
            lines.append(head)
            lines.append("  Authorization: Bearer [redacted]")
            lines.append("  Content-Type: application/json")
            # The body as the client sends it: compact JSON (long recipient lists cut).
            lines.append(_indent(json.dumps(_shortened(body), ensure_ascii=False,
                                            separators=(",", ":"))))
            if answer is not None:
                lines.append(f"  -> answered {answer}")
            lines.append("")
        return lines

    def _audience_text(self) -> list[str]:
        users = self.users or []
        got = {d.user for d in self.local.deliveries}
        lines = [f"Who would get the message ({len(users)} users on the local endpoint)"]
        now = datetime.now(UTC)
        for profile in users:
            key = _user_key(profile)
            yes = key in got
            name = key.partition(":")[2] or key
            lines.append(f"  {'gets it' if yes else 'not    '}  {name}  {_attributes(profile)}")
            if not yes and self.parsed is not None:
                for step in _failed(self.parsed, profile, now):
                    lines.append(f"             because: {step}")
        return lines


def _failed(audience: Any, profile: Mapping[str, Any], now: datetime
            ) -> list[str]:
    from audience_dsl.evaluator import explain

    try:
        why = explain(audience, profile, now=now)
    except ValidationError:
        return []
    if why.matched:
        return ["(not a recipient of this request)"]
    return [f"{s.text} -- {s.reason}" if s.reason else s.text
            for s in why.steps if not s.result and s.reason][:3]


def _user_key(profile: Mapping[str, Any]) -> str:
    for key in ("external_id", "braze_id", "email"):
        if profile.get(key):
            return f"{key}:{profile[key]}"
    return "?"


def _attributes(profile: Mapping[str, Any]) -> str:
    parts = []
    attributes = profile.get("custom_attributes")
    if isinstance(attributes, Mapping):
        parts += [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in attributes.items()]
    for field in ("push_subscribe", "email_subscribe"):
        if field in profile:
            parts.append(f"{field.split('_')[0]}={profile[field]}")
    apps = profile.get("apps")
    if isinstance(apps, list) and apps:
        used = [a.get("last_used") for a in apps if isinstance(a, Mapping)]
        parts.append(f"apps last used={','.join(str(u) for u in used)}")
    return " ".join(parts) or "(no attributes)"


def _shortened(body: Any) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("recipients"), list):
        return body
    recipients = body["recipients"]
    if len(recipients) <= 5:
        return body
    return {**body, "recipients": [*recipients[:3], f"... {len(recipients) - 3} more"]}


def _outcomes(result: Any) -> list[str]:
    rows = [(o.key, o.state.value, o.dispatch_id or "-",
             ("from the journal: " if o.from_journal else "") + (words(o.message) or "-"))
            for o in result.outcomes.values()]
    shown = rows[:SHOWN]
    widths = [max(len(h), *(len(r[i]) for r in shown)) if shown else len(h)
              for i, h in enumerate(("recipient", "state", "dispatch id", "message"))]
    lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(
        ("recipient", "state", "dispatch id", "message"), widths, strict=True)).rstrip()]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in shown]
    if len(rows) > SHOWN:
        lines.append(f"  ... and {len(rows) - SHOWN} more (--format json lists every one)")
    return lines


def _summary(result: Any) -> list[str]:
    counts = result.counts()
    names = {"accepted": "accepted", "rejected": "rejected", "not_sent": "not sent",
             "unknown": "unknown"}
    return [f"  {names[state]:<9} {counts.get(state, 0):>7}" for state in names]


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else "" for line in text.split("\n"))
