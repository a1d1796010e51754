"""Values the strategies draw: printable text, and what is stored in a profile."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from hypothesis import strategies as st

from audience_dsl.evaluator.program import DEFAULT_NOW
from audience_dsl.language.ast import DataType as T

__all__ = ["DEFAULT_NOW", "PRINTABLE", "WORDS", "iso", "shown_as_called", "stored"]

#: Characters that print as themselves in a rule: no escapes, no Liquid braces.
PRINTABLE = st.characters(
    categories=("L", "N", "P", "S"), include_characters=" ", exclude_characters='"\\{}'
)
#: Mostly ASCII letters and digits, which read well and have case; any printable
#: character now and then.
WORDS: st.SearchStrategy[str] = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-")
    | PRINTABLE,
    max_size=8,
)


P = ParamSpec("P")
Drawn = TypeVar("Drawn")


def shown_as_called(
    function: Callable[P, st.SearchStrategy[Drawn]],
) -> Callable[P, st.SearchStrategy[Drawn]]:
    """A public strategy that shows as the call that made it (``rules(schema=...)``), as
    Hypothesis's own strategies do, in failure reports and reprs. Its arguments are
    still checked at the call."""

    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> st.SearchStrategy[Drawn]:
        inner = function(*args, **kwargs)

        def draw_inner(draw: st.DrawFn, *_args: object, **_kwargs: object) -> Drawn:
            return draw(inner)

        draw_inner.__name__ = draw_inner.__qualname__ = function.__name__
        shown: Callable[..., st.SearchStrategy[Drawn]] = st.composite(draw_inner)
        return shown(*args, **kwargs)

    return call


def iso(moment: datetime) -> str:
    """An instant as Braze exports it: UTC, ``Z``, fractions only where there are some."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def stored(kind: T, now: datetime) -> st.SearchStrategy[Any]:
    """An ordinary stored value of ``kind`` (time values near ``now``)."""
    if kind is T.TIME:
        offsets = st.integers(-400, 400).map(lambda d: timedelta(days=d)) | st.sampled_from(
            [timedelta(0), timedelta(days=1), timedelta(days=-1), timedelta(days=7)]
        )
        return offsets.map(lambda d: iso(now + d))
    if kind is T.ARRAY:
        return st.lists(st.sampled_from(["a", "b", "c", "x"]) | WORDS, max_size=4)
    if kind is T.NUMERIC:
        return st.integers(-1000, 1000) | st.floats(-1e3, 1e3, allow_nan=False).map(
            lambda f: round(f, 3)
        )
    if kind is T.BOOLEAN:
        return st.booleans()
    return WORDS
