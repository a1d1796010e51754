"""Braze regexes for SQL engines, with exactly Python's meaning or not at all.

The reference evaluator matches ``re.search(pattern, value, re.IGNORECASE)``. SQL engines
have other regex libraries (RE2 in DuckDB and BigQuery, java.util.regex in Spark, Tcl's
ARE in Postgres, POSIX in Redshift and Snowflake) whose case folding, classes (``\\d``,
``\\w``, ``\\s``), anchors and extensions differ. Rather than hope, the pattern is parsed
with Python's own regex parser and written again for the engine:

* every construct that matches one character (a literal, ``.``, a class, ``\\d`` …) is
  replaced by the exact set of code points Python's engine accepts for it under the
  pattern's flags (case folding included), computed by running Python's engine over
  every code point, and written as an explicit class without any case-insensitive flag;
* groups, alternation and counted repetition are written structurally;
* ``^``/``\\A`` and ``\\Z`` become start/end of text; ``$`` is accepted only at the end of
  the pattern (where ``\\n?`` then end of text is equivalent for a yes/no search);
* anything else (back-references, look-around, ``\\b``, atomic groups, possessive
  repetition, multi-line anchors, repetition counts over 1000) is refused with
  :class:`~audience_dsl.errors.SQLError`, naming the construct.

The result is therefore exact by construction for the engines it is executed on.
"""

from __future__ import annotations

import array
import functools
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from audience_dsl.errors import SQLError

__all__ = ["Unwritable", "translate"]

from re import _constants as _c  # Python's own regex parser (3.11+)
from re import _parser as _p

_MAX_REPEAT_COUNT = 1000
_UNICODE_MAX = 0x10FFFF
_SURROGATES = (0xD800, 0xDFFF)

#: Every code point except surrogates (which no UTF-8 text holds), in order.
_ALL: str | None = None


def _everything() -> str:
    global _ALL
    if _ALL is None:
        # Built as UTF-32 in C: a Python loop over 1.1 million code points costs a third
        # of a second, paid by every first regex.
        codes = array.array("I", range(_SURROGATES[0]))
        codes.extend(range(_SURROGATES[1] + 1, _UNICODE_MAX + 1))
        if codes.itemsize == 4:
            _ALL = codes.tobytes().decode(f"utf-32-{sys.byteorder[0]}e")
        else:  # pragma: no cover - a platform whose C int is not 32 bits
            _ALL = "".join(map(chr, codes))
    return _ALL


def _code_point(index: int) -> int:
    """The code point at ``index`` of :func:`_everything` (which skips the surrogates)."""
    return index if index < _SURROGATES[0] else index + _SURROGATES[1] - _SURROGATES[0] + 1


_CATEGORIES = {
    _c.CATEGORY_DIGIT: r"\d",
    _c.CATEGORY_NOT_DIGIT: r"\D",
    _c.CATEGORY_SPACE: r"\s",
    _c.CATEGORY_NOT_SPACE: r"\S",
    _c.CATEGORY_WORD: r"\w",
    _c.CATEGORY_NOT_WORD: r"\W",
}


def _py_char(code: int) -> str:
    return f"\\U{code:08x}"


def _class_source(op: Any, av: Any) -> str:
    """Python regex text for one single-character construct."""
    if op is _c.LITERAL:
        return _py_char(av)
    if op is _c.NOT_LITERAL:
        return f"[^{_py_char(av)}]"
    if op is _c.ANY:
        return "."
    if op is _c.CATEGORY:
        return _CATEGORIES[av]
    parts: list[str] = []
    negate = False
    for item_op, item_av in av:
        if item_op is _c.NEGATE:
            negate = True
        elif item_op is _c.LITERAL:
            parts.append(_py_char(item_av))
        elif item_op is _c.RANGE:
            parts.append(f"{_py_char(item_av[0])}-{_py_char(item_av[1])}")
        elif item_op is _c.CATEGORY:
            parts.append(_CATEGORIES[item_av])
        else:  # pragma: no cover - the parser makes no other class items
            raise SQLError(f"a character class item {item_op} has no SQL translation")
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


@functools.lru_cache(maxsize=4096)
def _code_points(source: str, flags: int) -> tuple[tuple[int, int], ...]:
    """The ranges of code points that ``source`` (one character) matches under ``flags``."""
    # Runs of consecutive matching code points, one match each (a run may span the
    # surrogates, which no text holds).
    pattern = re.compile(f"(?:{source})+", flags)
    ranges: list[list[int]] = []
    for match in pattern.finditer(_everything()):
        low, high = _code_point(match.start()), _code_point(match.end() - 1)
        if ranges and ranges[-1][1] + 1 == low:
            ranges[-1][1] = high
        else:
            ranges.append([low, high])
    return tuple((low, high) for low, high in ranges)


def _complement(ranges: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    start = 0
    for low, high in ranges:
        if low > start:
            out.append((start, low - 1))
        start = high + 1
    if start <= _UNICODE_MAX:
        out.append((start, _UNICODE_MAX))
    # Surrogates are never in text: leave them out of the written class.
    cleaned: list[tuple[int, int]] = []
    for low, high in out:
        if low >= _SURROGATES[0] and high <= _SURROGATES[1]:
            continue
        cleaned.append((low, high))
    return tuple(cleaned)


class Flavor:
    """How one regex engine writes characters, classes, groups and anchors."""

    def __init__(
        self,
        name: str,
        char: Callable[[int], str],
        class_char: Callable[[int], str],
        group: str = "(?:",
        start: str = "^",
        end: str = r"\z",
    ) -> None:
        self.name = name
        self.char = char
        self.class_char = class_char
        self.group = group
        self.start = start
        self.end = end

    def charset(self, ranges: Sequence[tuple[int, int]]) -> str:
        if not ranges:
            return "[^" + self._span(0, _UNICODE_MAX) + "]"
        if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
            return self.char(ranges[0][0])
        inverse = _complement(ranges)
        if inverse and len(inverse) < len(ranges):
            return "[^" + "".join(self._span(a, b) for a, b in inverse) + "]"
        if not inverse:
            return "[" + self._span(0, _UNICODE_MAX) + "]"
        return "[" + "".join(self._span(a, b) for a, b in ranges) + "]"

    def _span(self, low: int, high: int) -> str:
        if low == high:
            return self.class_char(low)
        if low >= _SURROGATES[0] and low <= _SURROGATES[1]:
            low = _SURROGATES[1] + 1
        if high >= _SURROGATES[0] and high <= _SURROGATES[1]:
            high = _SURROGATES[0] - 1
        return f"{self.class_char(low)}-{self.class_char(high)}"


def _braces(code: int) -> str:
    if chr(code).isascii() and chr(code).isalnum():
        return chr(code)
    return f"\\x{{{code:x}}}"


def _tcl(code: int) -> str:
    if chr(code).isascii() and chr(code).isalnum():
        return chr(code)
    return f"\\U{code:08x}" if code > 0xFFFF else f"\\u{code:04x}"


#: RE2 (DuckDB, BigQuery) and java.util.regex (Spark, Databricks) share this spelling.
RE2 = Flavor("RE2", _braces, _braces)
JAVA = Flavor("java.util.regex", _braces, _braces)
#: Postgres' advanced regular expressions.
ARE = Flavor("Postgres ARE", _tcl, _tcl, start=r"\A", end=r"\Z")


class Unwritable(SQLError):
    """A pattern that uses a construct (``construct``, in words) that cannot be written for
    an engine with exactly Python's meaning."""

    def __init__(self, message: str, construct: str = "") -> None:
        super().__init__(message)
        self.construct = construct


def translate(pattern: str, flavor: Flavor) -> str:
    """``pattern`` (a Braze regex) written for ``flavor`` with exactly Python's meaning.

    Raises :class:`Unwritable` for a construct that cannot be written exactly, and
    :class:`SQLError` for a pattern that is not a regex.
    """
    try:
        parsed = _p.parse(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as exc:
        raise SQLError(f"invalid regular expression {pattern!r}: {exc}") from None
    try:
        return _Writer(pattern, flavor).sequence(parsed, parsed.state.flags, True)
    except RecursionError:
        raise Unwritable(
            f"the regular expression {pattern!r} is nested too deeply for SQL", "deep nesting"
        ) from None


class _Writer:
    def __init__(self, pattern: str, flavor: Flavor) -> None:
        self.pattern = pattern
        self.flavor = flavor

    def refuse(self, what: str) -> Unwritable:
        return Unwritable(
            f"the regular expression {self.pattern!r} uses {what}, which {self.flavor.name} "
            "does not match exactly as Braze's engine does; rewrite it without that construct",
            what,
        )

    def sequence(self, items: Any, flags: int, tail: bool) -> str:
        items = list(items)
        out = []
        for index, (op, av) in enumerate(items):
            out.append(self.item(op, av, flags, tail and index == len(items) - 1))
        return "".join(out)

    def item(self, op: Any, av: Any, flags: int, tail: bool) -> str:
        if op in (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN):
            source = _class_source(op, av)
            return self.flavor.charset(_code_points(source, flags & ~re.MULTILINE))
        if op is _c.SUBPATTERN:
            _group, add, remove, body = av
            inner = (flags | add) & ~remove
            return self.flavor.group + self.sequence(body, inner, tail) + ")"
        if op is _c.BRANCH:
            _none, alternatives = av
            return (
                self.flavor.group
                + "|".join(self.sequence(alt, flags, tail) for alt in alternatives)
                + ")"
            )
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            low, high, body = av
            if low > _MAX_REPEAT_COUNT or (high is not _c.MAXREPEAT and high > _MAX_REPEAT_COUNT):
                raise self.refuse(f"a repetition count above {_MAX_REPEAT_COUNT}")
            inner = self.flavor.group + self.sequence(body, flags, False) + ")"
            if high is _c.MAXREPEAT:
                suffix = "*" if low == 0 else "+" if low == 1 else f"{{{low},}}"
            elif low == high:
                suffix = f"{{{low}}}"
            else:
                suffix = "?" if (low, high) == (0, 1) else f"{{{low},{high}}}"
            return inner + suffix
        if op is _c.AT:
            if av in (_c.AT_BEGINNING, _c.AT_END) and flags & re.MULTILINE:
                raise self.refuse("a multi-line anchor")
            if av in (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING):
                return self.flavor.start
            if av is _c.AT_END_STRING:
                return self.flavor.end
            if av is _c.AT_END:
                if not tail:
                    raise self.refuse("`$` before the end of the pattern")
                return self.flavor.group + self.flavor.char(10) + "?" + self.flavor.end + ")"
            raise self.refuse("a word boundary (\\b or \\B)")
        names = {
            _c.GROUPREF: "a back-reference",
            _c.GROUPREF_EXISTS: "a conditional group",
            _c.ASSERT: "a look-around",
            _c.ASSERT_NOT: "a negative look-around",
        }
        raise self.refuse(names.get(op, f"the construct {str(op).lower()}"))
