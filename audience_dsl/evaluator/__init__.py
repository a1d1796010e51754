"""The reference evaluator: does one user profile match a rule or a Connected Audience?

Braze evaluates audiences on its servers, out of sight. This module is the project's
executable statement of what every comparison means, so that a rule can be tried on
real profiles before it is sent, and so that the compiler's negation push-down can be
checked against an oracle (a rule and the JSON it compiles to must select the same users).

Meanings come from docs/semantics.md. Where Braze documents a behaviour the evaluator
follows it; where the behaviour had to be inferred, the choice is a named field of
:class:`Semantics`, so that a cell settled by a test against a live workspace is a
one-word change.

Three entry points share one compiled form of a rule
(:mod:`~audience_dsl.evaluator.program`): every leaf becomes a predicate closure
(:mod:`~audience_dsl.evaluator.predicates`), built once, and the AND/OR/NOT structure
becomes a flat post-order program run with an explicit stack, so that trees of any
depth work.

* :func:`evaluate` answers one profile;
* :func:`explain` answers one profile and says why, condition by condition;
* :func:`preview` streams many profiles (dicts or a JSON-lines export) and counts.
"""

from __future__ import annotations

from audience_dsl.evaluator.explain import Explanation, Step, explain
from audience_dsl.evaluator.predicates import (
    compile_regex,
    last_used,
    parse_time,
    subscription_state,
)
from audience_dsl.evaluator.preview import LeafCount, Preview, preview
from audience_dsl.evaluator.program import evaluate

__all__ = [
    "Explanation",
    "LeafCount",
    "Preview",
    "Step",
    "compile_regex",
    "evaluate",
    "explain",
    "last_used",
    "parse_time",
    "preview",
    "subscription_state",
]
