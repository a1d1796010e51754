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

import sys

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
from audience_dsl.language import ast
from audience_dsl.language.ast import Rule
from audience_dsl.language.printer import print_rule
from audience_dsl.pipeline import compile, format, parse, to_audience
from audience_dsl.semantics import Semantics, WrongType
from audience_dsl.source import Source, Span
from audience_dsl.version import __version__ as __version__

# `audience_dsl.ast` is where the AST's node types have always been importable from.
sys.modules[f"{__name__}.ast"] = ast

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

