"""Rule text and positions in it.

A :class:`Span` is a half-open range of character offsets with its line and column
(both 1-based, columns counted in characters). Spans are data: errors store them and
only :mod:`audience_dsl.errors` draws them.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

__all__ = ["NOWHERE", "Source", "Span"]


@dataclass(frozen=True, slots=True, init=False)
class Span:
    """Where a piece of a rule stands in its text: offsets ``start``..``end`` (half-open)."""

    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int

    def __init__(
        self, start: int, end: int, line: int, column: int, end_line: int, end_column: int
    ) -> None:
        # What the generated __init__ of a frozen dataclass does (it calls
        # object.__setattr__ once per field), in about 60% of its time: the parser makes
        # a span for most tokens. Each field is set through its slot's own descriptor.
        _set_start(self, start)
        _set_end(self, end)
        _set_line(self, line)
        _set_column(self, column)
        _set_end_line(self, end_line)
        _set_end_column(self, end_column)

    def cover(self, other: Span) -> Span:
        """The smallest span holding both ``self`` and ``other``."""
        first = self if self.start <= other.start else other
        last = self if self.end >= other.end else other
        return Span(first.start, last.end, first.line, first.column, last.end_line, last.end_column)


def _setter(name: str) -> Callable[[Span, int], None]:
    """The function that sets the field ``name`` of a span (bypassing frozenness)."""
    return cast(Callable[[Span, int], None], Span.__dict__[name].__set__)


_set_start = _setter("start")
_set_end = _setter("end")
_set_line = _setter("line")
_set_column = _setter("column")
_set_end_line = _setter("end_line")
_set_end_column = _setter("end_column")


#: The span of a problem that has no place in the text (a value of the wrong kind passed
#: to a function, say): the start of line 1.
NOWHERE = Span(0, 0, 1, 1, 1, 1)


@dataclass(frozen=True, slots=True)
class Source:
    """A rule's text with its name (a file name, or ``<rule>``) and a line index."""

    text: str
    name: str = "<rule>"
    _line_starts: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0]
        find = self.text.find
        at = find("\n")
        while at >= 0:
            starts.append(at + 1)
            at = find("\n", at + 1)
        object.__setattr__(self, "_line_starts", tuple(starts))

    def position(self, offset: int) -> tuple[int, int]:
        """Line and column (1-based) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def span(self, start: int, end: int) -> Span:
        """The span of offsets ``start``..``end``."""
        line, column = self.position(start)
        end_line, end_column = self.position(end)
        return Span(start, end, line, column, end_line, end_column)

    def utf16_column(self, line: int, column: int) -> int:
        """A 1-based column counted in UTF-16 code units (as LSP and JavaScript count),
        from a 1-based column counted in code points."""
        before = self.line_text(line)[: max(column - 1, 0)]
        extra = sum(1 for ch in before if ord(ch) > 0xFFFF)  # astral: two units each
        return column + extra

    def line_text(self, line: int) -> str:
        """The text of one line (1-based), without its line break."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self._line_starts[line] - 1 if line < len(self._line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r")
