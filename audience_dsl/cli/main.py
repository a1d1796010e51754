"""The ``audience-dsl`` command line: the parser, and one place that turns every
outcome into an exit status.

Each group of subcommands lives in its own module and adds its parsers here:

- :mod:`~audience_dsl.cli.rules`: ``compile``, ``check``, ``fmt``
- :mod:`~audience_dsl.cli.audiences`: ``decompile``, ``validate``
- :mod:`~audience_dsl.cli.users`: ``preview``, ``explain``
- :mod:`~audience_dsl.cli.schema`: ``schema infer``, ``schema pull``
- :mod:`~audience_dsl.cli.send`: ``send`` (its live display: :mod:`~audience_dsl.cli.progress`)
- :mod:`~audience_dsl.cli.completion`: ``completion``

What they share: :mod:`~audience_dsl.cli.common` (exit statuses, reading rules and files)
and :mod:`~audience_dsl.cli.output` (diagnostics as text, JSON or annotations).

Exit status (docs/cli.md): 0 success; 1 a mistake in the input (diagnostics on standard
error); 2 a usage error (``audience-dsl: ...``); 3 ``send``: requests went out but not
every recipient was accepted; 4 ``send``: nothing could be sent; 70 a bug in audience-dsl;
130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from audience_dsl.cli.common import EXIT_INPUT, EXIT_USAGE, InputError, UsageError
from audience_dsl.cli.output import Problem, Reporter, colour_for, words
from audience_dsl.errors import AudienceError
from audience_dsl.version import __version__

__all__ = ["build_parser", "main"]

#: Interrupted with Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: A bug in audience-dsl itself (EX_SOFTWARE): a one-line report instead of a traceback,
#: the traceback with ``AUDIENCE_DSL_TRACEBACK=1``.
EXIT_BUG = 70

#: Every subcommand, in the order of ``--help``: the module of its group (which adds its
#: parser) and its one-line help. Only the group of the subcommand being run is imported;
#: the others stand as placeholders with this help, so start-up pays for one group. A new
#: group of subcommands (``sql``, say) is a module with ``add_parsers(commands)`` whose
#: parsers set ``run``, listed here.
COMMANDS: dict[str, tuple[str, str]] = {
    "compile": ("rules", "rule text to Connected Audience JSON"),
    "check": ("rules", "check rules; print nothing for those that are fine"),
    "fmt": ("rules", "rule text to canonical text, comments kept"),
    "decompile": ("audiences", "Connected Audience JSON to rule text"),
    "validate": ("audiences", "check Connected Audience JSON against Braze's rules"),
    "preview": ("users", "run a rule over exported users (JSON lines): who would match"),
    "explain": ("users", "why one user is in or out, condition by condition"),
    "sql": ("sql", "print the rule as one SQL query over a table of exported users"),
    "send": ("send", "send a campaign with POST /campaigns/trigger/send"),
    "schema": ("schema", "write a schema file: infer it from users, or pull it from Braze"),
    "completion": ("completion", "print a shell completion script (bash, zsh or fish)"),
}


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in the command line's form: ``audience-dsl: ...``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"audience-dsl: {message}", file=sys.stderr)
        print(f"hint: see '{self.prog} --help'", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand (also read by ``completion``); with ``only``, the
    parsers of that subcommand's group, the others as placeholders (none for ``""``)."""
    parser = _Parser(
        prog="audience-dsl",
        description="Write Braze Connected Audiences as text: compile, check, format, "
                    "preview and send them.",
        epilog="Exit status: 0 success, 1 a mistake in the input, 2 a usage error, "
               "3 send: not every recipient was accepted, 4 send: nothing could be sent, "
               "70 a bug in audience-dsl, 130 interrupted. docs/cli.md has the details.",
    )
    parser.add_argument("--version", action="version", version=f"audience-dsl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    added: set[str] = set()
    for name, (module, summary) in COMMANDS.items():
        if name in added:
            continue
        if only is None or (only in COMMANDS and COMMANDS[only][0] == module):
            before = set(commands.choices)
            importlib.import_module(f"audience_dsl.cli.{module}").add_parsers(commands)
            added |= set(commands.choices) - before
        else:
            commands.add_parser(name, help=summary)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names ("" if none); None when every parser is needed."""
    for word in argv:
        if not word.startswith("-"):
            return None if word == "completion" else word
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    words_ = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command(words_))
    try:
        args = parser.parse_args(words_)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        status: int = args.run(args)
    except UsageError as exc:
        _usage(exc.message, exc.hint)
        return EXIT_USAGE
    except InputError as exc:
        _input(args, [Problem(exc.file, words(exc.message), exc.line, exc.column, exc.line,
                              exc.column, code=exc.code)])
        return EXIT_INPUT
    except AudienceError as exc:  # anything the commands did not place in a file
        _input(args, [Problem(getattr(args, "command", "audience-dsl"), words(str(exc)),
                              code="error")])
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("audience-dsl: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``); say nothing more.
        sys.stderr.close()
        return 0
    except Exception as exc:
        if os.environ.get("AUDIENCE_DSL_TRACEBACK"):
            raise
        print(f"audience-dsl: internal error, a bug in audience-dsl {__version__} "
              f"({type(exc).__name__}: {exc}); please report it with the command line that "
              "caused it (AUDIENCE_DSL_TRACEBACK=1 shows the traceback)", file=sys.stderr)
        return EXIT_BUG
    return status


def _usage(message: str, hint: str) -> None:
    paint = colour_for(sys.stderr)
    head = "\x1b[1;31maudience-dsl:\x1b[0m" if paint else "audience-dsl:"
    print(f"{head} {words(message)}", file=sys.stderr)
    if hint:
        print(f"hint: {words(hint)}", file=sys.stderr)


def _input(args: argparse.Namespace, problems: list[Problem]) -> None:
    fmt = getattr(args, "format", "text")
    reporter = Reporter(fmt if fmt in ("text", "json", "github") else "text",
                        sys.stdout, sys.stderr)
    reporter.report(problems)
    reporter.finish(always=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
