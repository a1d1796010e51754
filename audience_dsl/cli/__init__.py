"""The command line, ``audience-dsl``: one module per group of subcommands."""

from __future__ import annotations

from audience_dsl.cli.main import main

__all__ = ["main"]
