"""Positions in Connected Audience JSON: a location as a JSON path (``$.AND[2].OR[0]``),
and reading JSON text so that a path can be turned into a line and column.
"""
from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

# ---- locations ----------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True, slots=True)
class Loc:
    """A place in the object, linked to its parent so deep paths cost O(1) to extend.

    ``key`` is the member name or the array index; ``index`` the place among its
    siblings (key order in objects), which gives the document order.
    """

    parent: Loc | None
    key: object
    index: int
    in_array: bool = False

    def member(self, key: object, index: int) -> Loc:
        return Loc(self, key, index)

    def item(self, index: int) -> Loc:
        return Loc(self, index, index, in_array=True)

    def chain(self) -> list[Loc]:
        """The locations from the root's child down to this one."""
        out: list[Loc] = []
        here: Loc | None = self
        while here is not None and here.parent is not None:
            out.append(here)
            here = here.parent
        out.reverse()
        return out

    def order(self) -> tuple[int, ...]:
        return tuple(loc.index for loc in self.chain())

    def path(self) -> str:
        parts = ["$"]
        for loc in self.chain():
            if loc.in_array:
                parts.append(f"[{loc.key}]")
            elif isinstance(loc.key, str) and _IDENTIFIER.match(loc.key):
                parts.append(f".{loc.key}")
            else:
                text = loc.key if isinstance(loc.key, str) else repr(loc.key)
                parts.append(f"[{json.dumps(text)}]")
        return "".join(parts)


ROOT = Loc(None, "$", 0)



# ---- reading JSON text with positions -------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_CONSTANTS: dict[str, Any] = {
    "true": True, "false": False, "null": None,
    "NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf,
}  # fmt: skip

# The C string scanner behind json.loads (no type stubs declare it).
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

#: Where each container's members start: by ``id`` of the container, its keys' (or
#: items') offsets in the text.
Offsets: TypeAlias = dict[int, dict[str, int] | list[int]]


@dataclass
class _Frame:
    container: dict[str, Any] | list[Any]
    offsets: dict[str, int] | list[int]
    key: str = ""


def read_json(text: str) -> tuple[Any, Offsets]:
    """Parse JSON text without recursion; also say where each member starts.

    Accepts what :func:`json.loads` accepts and raises :class:`json.JSONDecodeError` like
    it. A member's offset is that of its key; an array item's, that of the item.
    """
    offsets: Offsets = {}
    stack: list[_Frame] = []
    pos = skip_space(text, 0)
    while True:
        char = text[pos : pos + 1]
        value: Any
        if char in ("{", "["):
            frame = _Frame({}, {}) if char == "{" else _Frame([], [])
            offsets[id(frame.container)] = frame.offsets
            pos = skip_space(text, pos + 1)
            closer = "}" if char == "{" else "]"
            if text.startswith(closer, pos):
                value, pos = frame.container, pos + 1
            else:
                stack.append(frame)
                pos = _next_slot(text, pos, frame)
                continue
        elif char == '"':
            value, pos = _scanstring(text, pos + 1)
        else:
            value, pos = _scalar(text, pos)
        while True:  # attach the finished value; close every container it completes
            if not stack:
                pos = skip_space(text, pos)
                if pos != len(text):
                    raise json.JSONDecodeError("Extra data", text, pos)
                return value, offsets
            frame = stack[-1]
            if isinstance(frame.container, dict):
                frame.container[frame.key] = value
            else:
                frame.container.append(value)
            pos = skip_space(text, pos)
            char = text[pos : pos + 1]
            closer = "}" if isinstance(frame.container, dict) else "]"
            if char == ",":
                pos = _next_slot(text, skip_space(text, pos + 1), frame)
                break
            if char != closer:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
            value, pos = frame.container, pos + 1
            stack.pop()


def skip_space(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def _next_slot(text: str, pos: int, frame: _Frame) -> int:
    """Move to where the next value in ``frame`` starts: past a key and colon in objects."""
    if isinstance(frame.offsets, list):
        frame.offsets.append(pos)
        return pos
    if not text.startswith('"', pos):
        raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
    key, end = _scanstring(text, pos + 1)
    frame.offsets[key] = pos
    end = skip_space(text, end)
    if not text.startswith(":", end):
        raise json.JSONDecodeError("Expecting ':' delimiter", text, end)
    frame.key = key
    return skip_space(text, end + 1)


def _scalar(text: str, pos: int) -> tuple[Any, int]:
    match = _NUMBER.match(text, pos)
    if match:
        whole, fraction, exponent = match.groups()
        if fraction or exponent:
            return float(match.group()), match.end()
        return int(whole), match.end()
    for word, value in _CONSTANTS.items():
        if text.startswith(word, pos):
            return value, pos + len(word)
    raise json.JSONDecodeError("Expecting value", text, pos)


class Locator:
    """Line and column of locations in JSON text (nothing for dicts), read when first asked."""

    def __init__(self, text: str | None) -> None:
        self._text = text
        self._read: tuple[Any, Offsets] | None = None
        self._lines: list[int] = []

    def describe(self, loc: Loc) -> str:
        """`` (line L, column C)`` for ``loc``, or "" without text."""
        if self._text is None:
            return ""
        if self._read is None:
            self._read = read_json(self._text)  # the text parsed once already
            self._lines = [0, *(m.end() for m in re.finditer("\n", self._text))]
        value, offsets = self._read
        offset = skip_space(self._text, 0)
        for step in loc.chain():
            places = offsets.get(id(value))
            if isinstance(places, dict) and isinstance(step.key, str) and step.key in places:
                offset, value = places[step.key], value[step.key]
            elif isinstance(places, list) and isinstance(step.key, int) and step.in_array:
                if not 0 <= step.key < len(places):
                    break
                offset, value = places[step.key], value[step.key]
            else:
                break
        line = bisect.bisect_right(self._lines, offset)
        return f" (line {line}, column {offset - self._lines[line - 1] + 1})"
