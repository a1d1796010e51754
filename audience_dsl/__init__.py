"""audience-dsl: write Braze Connected Audiences as text.

>>> import audience_dsl
>>> audience_dsl.compile('eye_color = "blue" and push is opted_in')["AND"][1]
{'push_subscription_status': {'comparison': 'is', 'value': 'opted_in'}}

The pipeline, one package a stage (docs/architecture.md)::

    text ─language─▶ surface AST ─check─▶ checked AST ─lower─▶ core AST ─braze─▶ dict ─sender─▶ HTTP
    dict ─braze─▶ core AST ─language.printer─▶ text      core AST and profile ─evaluate─▶ bool

This module holds the public names only; :mod:`audience_dsl.pipeline` composes them.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from audience_dsl.language import ast
from audience_dsl.version import __version__ as __version__

# `audience_dsl.ast` is where the AST's node types have always been importable from.
sys.modules[f"{__name__}.ast"] = ast

if TYPE_CHECKING:
    from audience_dsl.braze.decompile import decompile
    from audience_dsl.braze.validate import validate
    from audience_dsl.check import Schema
    from audience_dsl.errors import (
        AudienceError,
        AudienceSyntaxError,
        AudienceTypeError,
        AudienceWarning,
        Diagnostic,
        ParameterError,
        RuleError,
        SchemaError,
        SendError,
        UnsupportedError,
        ValidationError,
    )
    from audience_dsl.evaluate import Explanation, Preview, evaluate, explain, preview
    from audience_dsl.language.ast import Rule
    from audience_dsl.language.printer import print_rule
    from audience_dsl.pipeline import compile, format, parse, to_audience
    from audience_dsl.semantics import Semantics, WrongType
    from audience_dsl.source import Source, Span

# Where each public name lives. They are imported on first use, so that a program (or
# the command line) that only compiles never loads the validator's pydantic models, the
# evaluator or the sender.
_HOMES = {
    "decompile": "audience_dsl.braze.decompile",
    "validate": "audience_dsl.braze.validate",
    "Schema": "audience_dsl.check",
    **dict.fromkeys(
        [
            "AudienceError",
            "AudienceSyntaxError",
            "AudienceTypeError",
            "AudienceWarning",
            "Diagnostic",
            "ParameterError",
            "RuleError",
            "SchemaError",
            "SendError",
            "UnsupportedError",
            "ValidationError",
        ],
        "audience_dsl.errors",
    ),
    **dict.fromkeys(
        ["Explanation", "Preview", "evaluate", "explain", "preview"],
        "audience_dsl.evaluate",
    ),
    "Rule": "audience_dsl.language.ast",
    "print_rule": "audience_dsl.language.printer",
    **dict.fromkeys(["compile", "format", "parse", "to_audience"], "audience_dsl.pipeline"),
    "Semantics": "audience_dsl.semantics",
    "WrongType": "audience_dsl.semantics",
    "Source": "audience_dsl.source",
    "Span": "audience_dsl.source",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


class _Package(types.ModuleType):
    """This package, where ``evaluate`` stays the function once the subpackage of that name
    is loaded (the import system records a loaded subpackage as an attribute of its parent)."""

    @property
    def evaluate(self) -> Any:
        return importlib.import_module("audience_dsl.evaluate").evaluate

    @evaluate.setter
    def evaluate(self, value: Any) -> None:
        pass  # the subpackage stays reachable as sys.modules["audience_dsl.evaluate"]


sys.modules[__name__].__class__ = _Package


__all__ = [
    "AudienceError",
    "AudienceSyntaxError",
    "AudienceTypeError",
    "AudienceWarning",
    "Diagnostic",
    "Explanation",
    "ParameterError",
    "Preview",
    "Rule",
    "RuleError",
    "Schema",
    "SchemaError",
    "Semantics",
    "SendError",
    "Source",
    "Span",
    "UnsupportedError",
    "ValidationError",
    "WrongType",
    "ast",
    "compile",
    "decompile",
    "evaluate",
    "explain",
    "format",
    "parse",
    "preview",
    "print_rule",
    "to_audience",
    "validate",
]

