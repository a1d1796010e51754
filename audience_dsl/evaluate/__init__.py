"""The reference evaluator: what a rule or a Connected Audience selects, on real profiles.

:func:`evaluate` answers one profile, :func:`explain` says why, :func:`preview` streams
many; what each comparison means is :mod:`audience_dsl.semantics`'s.
"""

from __future__ import annotations

from audience_dsl.evaluate.evaluator import (
    Explanation,
    LeafCount,
    Preview,
    Step,
    evaluate,
    explain,
    preview,
)

__all__ = ["Explanation", "LeafCount", "Preview", "Step", "evaluate", "explain", "preview"]
