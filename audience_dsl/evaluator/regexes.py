"""Regexes run on users' data in bounded time.

A marketer's pattern such as ``^(a+)+$`` makes a backtracking engine (Python's ``re``)
take time exponential in the length of the value it is matched against. The evaluator
never runs a pattern that way:

* with the ``re2`` extra installed (``pip install "audience-dsl[re2]"``, Google's RE2, the
  engine DuckDB uses too), a pattern is run by RE2, in time linear in the value. RE2 is
  not given the pattern as written, since its meaning differs from Python's in places
  (``$`` before a final line break, ``\\d`` and ``\\w`` beyond ASCII, case folding such as
  ``i`` and ``İ``): the pattern is first written out with exactly Python's meaning
  (:func:`audience_dsl.evaluator.sql.regex.translate`, the rewriting the SQL engines
  use), so the answer never depends on which extras are installed;
* a pattern that cannot be written out so (``\\b``, a multi-line anchor, a backreference,
  a lookaround), or any pattern when the extra is not installed, runs on ``re`` only if
  its shape cannot backtrack badly: no quantifier inside a quantified group, no
  quantified alternation, no backreference or lookaround, at most two unbounded
  quantifiers. Such a pattern takes time polynomial in the value's length (at most
  cubic, counting the search's start positions), not exponential; any other pattern is
  refused with a message that says why. Services that match long values should install
  the extra.

Matching is Braze's: case-insensitive and unanchored (a search), with the meaning of
Python's ``re.search(pattern, value, re.IGNORECASE)``.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from typing import Any

try:  # the `re2` extra
    import re2 as _re2  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - CI installs the extra; the fallback is tested apart
    _re2 = None

__all__ = ["BoundedRegexError", "compile_bounded", "has_linear_engine"]

#: Matches a value: a search, so the pattern may match anywhere in it.
Search = Callable[[str], object]

# Most unbounded quantifiers a pattern may have to run on `re` (polynomial degree).
_MAX_UNBOUNDED = 2


class BoundedRegexError(Exception):
    """A pattern that is invalid, or that cannot be run in bounded time here."""


def has_linear_engine() -> bool:
    """Whether RE2 (the ``re2`` extra) is installed."""
    return _re2 is not None


def compile_bounded(pattern: str, *, engine: Any = ...) -> Search:
    """A function that searches a value for ``pattern``, case-insensitively, in bounded
    time; :class:`BoundedRegexError` if the pattern is invalid or cannot be run so.

    ``engine`` is the RE2 module to use (None for the fallback); it defaults to the
    installed one.
    """
    linear = _re2 if engine is ... else engine
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise BoundedRegexError(f"invalid regular expression {pattern!r}: {exc}") from None
    unwritable = ""
    if linear is not None:
        written, unwritable = _for_re2(pattern)
        if written is not None:
            options = linear.Options()
            options.case_sensitive = True  # the written pattern spells out every case
            options.log_errors = False
            options.max_mem = 64 << 20  # the written classes can be long
            try:
                compiled = linear.compile(written, options)
            except linear.error as exc:
                unwritable = _reason(exc)
            else:
                search: Search = compiled.search
                return search
    problem = _backtracking_risk(pattern)
    if problem is not None:
        if linear is not None:
            raise BoundedRegexError(
                f"the regular expression {pattern!r} cannot be evaluated here: it uses "
                f"{unwritable}, which the linear-time engine (RE2) cannot run with its "
                "meaning, and on Python's engine it could backtrack for a very long time "
                f"({problem}); rewrite it without {unwritable}"
            )
        raise BoundedRegexError(
            f"the regular expression {pattern!r} could backtrack for a very long time with "
            f"Python's engine ({problem}); install the `re2` extra "
            '(pip install "audience-dsl[re2]") to evaluate it in linear time'
        )
    fallback: Search = re.compile(pattern, re.IGNORECASE).search
    return fallback


@functools.lru_cache(maxsize=1024)
def _for_re2(pattern: str) -> tuple[str | None, str]:
    """``pattern`` written for RE2 with Python's meaning, or None and why it cannot be."""
    # Imported here: the rewriting computes character sets on first use.
    from audience_dsl.evaluator.sql.regex import RE2, Unwritable, translate

    try:
        return translate(pattern, RE2), ""
    except Unwritable as exc:
        return None, exc.construct


def _reason(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text)


# ---- the fallback's test of shape ---------------------------------------------------------


def _backtracking_risk(pattern: str) -> str | None:
    """Why ``pattern`` may backtrack badly on ``re``, or None when its shape is safe."""
    _parser: Any = importlib.import_module("re._parser")
    c: Any = importlib.import_module("re._constants")
    repeats = {c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)}
    unbounded = 0
    # Walk iteratively: (items, inside a quantifier)
    stack: list[tuple[Any, bool]] = [(_parser.parse(pattern), False)]
    while stack:
        items, quantified = stack.pop()
        for op, arg in items:
            if op in (c.GROUPREF, c.GROUPREF_EXISTS):
                return "a backreference"
            if op in (c.ASSERT, c.ASSERT_NOT):
                return "a lookaround"
            if op in repeats:
                _low, high, body = arg
                if high == c.MAXREPEAT:
                    unbounded += 1
                    if unbounded > _MAX_UNBOUNDED:
                        return f"more than {_MAX_UNBOUNDED} unbounded quantifiers"
                if quantified and high > 1:
                    return "a quantifier inside a quantified group"
                stack.append((body, quantified or high > 1))
            elif op is c.SUBPATTERN:
                stack.append((arg[-1], quantified))
            elif op is c.BRANCH:
                if quantified:
                    return "an alternation inside a quantified group"
                stack.extend((branch, quantified) for branch in arg[1])
            elif op is getattr(c, "ATOMIC_GROUP", None):
                stack.append((arg, quantified))
    return None
