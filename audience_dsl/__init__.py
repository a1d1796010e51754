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
from typing import TYPE_CHECKING, Any

# The errors, the AST and the positions are light and always needed; everything else is
# imported on first use, so `import audience_dsl` (and the pytest plugin, which lives in
# the package) costs little.
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
    SQLError,
    UnsupportedError,
    ValidationError,
)
from audience_dsl.language import ast
from audience_dsl.language.ast import Rule
from audience_dsl.source import Source, Span
from audience_dsl.version import __version__ as __version__

if TYPE_CHECKING:
    from audience_dsl.analysis import Report, analyze
    from audience_dsl.braze.decompile import decompile
    from audience_dsl.braze.json_schema import json_schema
    from audience_dsl.braze.validate import validate
    from audience_dsl.check import Schema
    from audience_dsl.evaluator import Explanation, Preview, evaluate, explain, preview
    from audience_dsl.evaluator.sql import to_sql
    from audience_dsl.language.printer import print_rule
    from audience_dsl.pipeline import compile, format, parse, to_audience
    from audience_dsl.semantics import Semantics, WrongType

# `audience_dsl.ast` is where the AST's node types have always been importable from.
sys.modules[f"{__name__}.ast"] = ast

#: Where each public name that is imported on first use lives.
_LAZY: dict[str, str] = {
    "Explanation": "audience_dsl.evaluator",
    "Preview": "audience_dsl.evaluator",
    "Report": "audience_dsl.analysis",
    "Schema": "audience_dsl.check",
    "Semantics": "audience_dsl.semantics",
    "WrongType": "audience_dsl.semantics",
    "analyze": "audience_dsl.analysis",
    "compile": "audience_dsl.pipeline",
    "decompile": "audience_dsl.braze.decompile",
    "evaluate": "audience_dsl.evaluator",
    "explain": "audience_dsl.evaluator",
    "format": "audience_dsl.pipeline",
    "json_schema": "audience_dsl.braze.json_schema",
    "parse": "audience_dsl.pipeline",
    "preview": "audience_dsl.evaluator",
    "print_rule": "audience_dsl.language.printer",
    "to_audience": "audience_dsl.pipeline",
    "to_sql": "audience_dsl.evaluator.sql",
    "validate": "audience_dsl.braze.validate",
}


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found once, then an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "AudienceError",
    "AudienceSyntaxError",
    "AudienceTypeError",
    "AudienceWarning",
    "Diagnostic",
    "Explanation",
    "ParameterError",
    "Preview",
    "Report",
    "Rule",
    "RuleError",
    "SQLError",
    "Schema",
    "SchemaError",
    "Semantics",
    "SendError",
    "Source",
    "Span",
    "UnsupportedError",
    "ValidationError",
    "WrongType",
    "analyze",
    "ast",
    "compile",
    "decompile",
    "evaluate",
    "explain",
    "format",
    "json_schema",
    "parse",
    "preview",
    "print_rule",
    "to_audience",
    "to_sql",
    "validate",
]

