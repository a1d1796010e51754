"""Schemas: the data type of each custom attribute, and checking rules against them.

A :class:`Schema` maps attribute names to :class:`~audience_dsl.ast.DataType`. It is
built from a mapping, read from a JSON or TOML file, or inferred from exported user
profiles. :func:`check_schema` checks a surface AST against it, reporting every problem
of the rule in one :class:`~audience_dsl.errors.AudienceTypeError`.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from audience_dsl.errors import (
    AudienceTypeError,
    AudienceWarning,
    Diagnostic,
    SchemaError,
    user_stacklevel,
)
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.ast import DataType as T
from audience_dsl.language.names import render_name
from audience_dsl.source import NOWHERE, Source, Span
from audience_dsl.vocabulary import ALLOWED, implied_type

__all__ = ["Schema", "check_schema"]


# Spellings accepted for each type in a schema (compared in lower case).
_TYPE_NAMES: dict[str, T] = {
    "string": T.STRING, "str": T.STRING, "text": T.STRING,
    "numeric": T.NUMERIC, "number": T.NUMERIC, "int": T.NUMERIC, "integer": T.NUMERIC,
    "float": T.NUMERIC, "decimal": T.NUMERIC,
    "boolean": T.BOOLEAN, "bool": T.BOOLEAN,
    "time": T.TIME, "date": T.TIME, "datetime": T.TIME, "timestamp": T.TIME,
    "array": T.ARRAY, "list": T.ARRAY,
}  # fmt: skip

# How each comparison is written in rule text, for hints.
_WRITTEN: dict[C, str] = {
    **ast.OPERATORS,
    C.MATCHES_REGEX: "~",
    C.DOES_NOT_MATCH_REGEX: "!~",
    C.EXISTS: "exists",
    C.DOES_NOT_EXIST: "does not exist",
    C.LESS_THAN_X_DAYS_AGO: "< N days",
    C.GREATER_THAN_X_DAYS_AGO: "> N days",
    C.LESS_THAN_X_DAYS_IN_THE_FUTURE: "< N days from now",
    C.GREATER_THAN_X_DAYS_IN_THE_FUTURE: "> N days from now",
}


def _type_of(name: str, raw: object) -> T:
    if isinstance(raw, T):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TYPE_NAMES:
        return _TYPE_NAMES[raw.strip().lower()]
    choices = sorted({t.value for t in T})
    raise SchemaError(
        f"attribute {name!r}: unknown data type {raw!r}; use one of {', '.join(choices)}"
    )


class Schema(Mapping[str, T]):
    """Attribute name to data type (String, Numeric, Boolean, Time or Array).

    >>> schema = Schema({"age": "Numeric", "tags": "array"})
    >>> schema["age"]
    <DataType.NUMERIC: 'Numeric'>

    ``conflicts`` is filled by :meth:`infer`: attributes whose observed values had more
    than one type, with the types seen.
    """

    def __init__(self, types: Mapping[str, object] | str | Path | None = None) -> None:
        if isinstance(types, str | Path):
            types = dict(Schema.load(types))
        if types is not None and not isinstance(types, Mapping):
            raise SchemaError(
                f"a schema is a mapping of attribute names to types, not {type(types).__name__}"
            )
        self._types: dict[str, T] = {}
        for name, raw in (types or {}).items():
            if not isinstance(name, str) or not name:
                raise SchemaError(f"attribute names are non-empty strings, not {name!r}")
            self._types[name] = _type_of(name, raw)
        self.conflicts: dict[str, tuple[T, ...]] = {}

    def __getitem__(self, name: str) -> T:
        return self._types[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def __repr__(self) -> str:
        inside = ", ".join(f"{k!r}: {v.value!r}" for k, v in self._types.items())
        return f"Schema({{{inside}}})"

    @classmethod
    def coerce(cls, value: Schema | Mapping[str, object] | str | Path) -> Schema:
        """A schema from a Schema, a mapping, or the path of a JSON or TOML file."""
        if isinstance(value, Schema):
            return value
        if isinstance(value, str | Path):
            return cls.load(value)
        return cls(value)

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        """Read a schema from a ``.json`` or ``.toml`` file of ``name = "Type"`` entries.

        A TOML file may keep the entries at the top level or under ``[attributes]``;
        a JSON file holds one object (optionally under ``"attributes"``).
        """
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SchemaError(f"cannot read the schema {path}: {exc.strerror}") from None
        try:
            if path.suffix.lower() == ".toml":
                loaded: Any = tomllib.loads(data.decode("utf-8"))
            else:
                loaded = json.loads(data)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SchemaError(f"the schema {path} is not valid: {exc}") from None
        except RecursionError:
            raise SchemaError(f"the schema {path} nests too deeply") from None
        if isinstance(loaded, dict) and isinstance(loaded.get("attributes"), dict):
            loaded = loaded["attributes"]
        if not isinstance(loaded, dict):
            raise SchemaError(f"the schema {path} must hold an object of name to type")
        return cls(loaded)

    @classmethod
    def from_file(cls, path: str | Path) -> Schema:
        """Same as :meth:`load`."""
        return cls.load(path)

    @classmethod
    def from_mapping(cls, types: Mapping[str, object]) -> Schema:
        """Same as ``Schema(types)``."""
        return cls(types)

    @classmethod
    def infer(cls, profiles: Iterable[Mapping[str, Any]]) -> Schema:
        """The schema that exported user profiles imply (their ``custom_attributes``).

        A string that is an ISO 8601 date-time counts as Time; a list as Array; ``None``
        says nothing. Attributes seen with several types get the most common one, and are
        listed in ``conflicts`` with every type seen.
        """
        counts: dict[str, dict[T, int]] = {}
        if isinstance(profiles, str | bytes | Mapping) or not isinstance(profiles, Iterable):
            raise SchemaError(
                f"infer takes an iterable of user profiles, not {type(profiles).__name__}"
            )
        for profile in profiles:
            attributes = profile.get("custom_attributes") if isinstance(profile, Mapping) else None
            if not isinstance(attributes, Mapping):
                continue
            for name, value in attributes.items():
                kind = _observed_type(value)
                if kind is not None and isinstance(name, str):
                    seen = counts.setdefault(name, {})
                    seen[kind] = seen.get(kind, 0) + 1
        schema = cls()
        order = list(T)
        for name, seen in counts.items():
            best = max(seen, key=lambda t: (seen[t], -order.index(t)))
            schema._types[name] = best
            if len(seen) > 1:
                schema.conflicts[name] = tuple(sorted(seen, key=order.index))
        return schema


def _observed_type(value: object) -> T | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return T.BOOLEAN
    if isinstance(value, int | float):
        return T.NUMERIC
    if isinstance(value, list | tuple):
        return T.ARRAY
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][0-9:.,]+(Z|[+-]\d{2}:?\d{2})?)?", value):
            try:
                datetime.fromisoformat(value)
                return T.TIME
            except ValueError:
                return T.STRING
        return T.STRING
    if isinstance(value, Mapping) and "$time" in value:
        return T.TIME
    return None


# ---- checking a rule -------------------------------------------------------------------------


def _allowed_text(kind: T) -> str:
    return ", ".join(f"`{_WRITTEN[c]}`" for c in C if c in ALLOWED[kind] and c in _WRITTEN)


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _corrected(value: object, kind: T) -> object | None:
    """The value written as the attribute's type, when there is an obvious one."""
    if kind is T.NUMERIC and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        if math.isfinite(number):
            return int(number) if re.fullmatch(r"-?\d+", value.strip()) else number
    if kind is T.BOOLEAN and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind is T.STRING and isinstance(value, int | float | bool):
        return _value_text(value)
    return None


def _closest(name: str, names: list[str]) -> str | None:
    """The schema's name closest to ``name``, ignoring case (`EYE_COLOR` -> `eye_color`)."""
    folded = {known.casefold(): known for known in names}
    if name.casefold() in folded:
        return folded[name.casefold()]
    close = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None


class _Checker:
    def __init__(self, schema: Schema, strict: bool, source: Source) -> None:
        self.schema = schema
        self.strict = strict
        self.source = source
        self.problems: list[Diagnostic] = []
        self.unknown_reported: set[str] = set()

    def add(
        self, message: str, span: Span | None, label: str = "", hint: str = "", code: str = ""
    ) -> None:
        self.problems.append(Diagnostic(message, span or NOWHERE, label, hint, code=code))

    def known(self, name: str, span: Span | None) -> T | None:
        kind = self.schema.get(name)
        if kind is None and name not in self.unknown_reported:
            self.unknown_reported.add(name)
            close = _closest(name, list(self.schema))
            hint = f"did you mean `{close}`?" if close else "add it to the schema, or fix the name"
            if self.strict:
                self.add(
                    f"`{name}` is not an attribute of the schema",
                    span,
                    "unknown attribute",
                    hint,
                    code="unknown-attribute",
                )
            else:
                at = f"{span.line}:{span.column}: " if span is not None else ""
                warnings.warn(
                    f"{at}`{name}` is not an attribute of the schema; {hint}",
                    AudienceWarning,
                    stacklevel=user_stacklevel(),
                )
        return kind

    def comparison(
        self,
        name: str,
        comparison: C,
        value: object,
        span: Span | None,
        value_span: Span | None,
        name_span: Span | None,
    ) -> None:
        kind = self.known(name, name_span)
        if kind is None:
            return
        if comparison not in ALLOWED[kind]:
            self.add(
                f"`{name}` is {kind}, and {_a(kind)} attribute cannot be compared with "
                f"`{_WRITTEN.get(comparison, comparison.value)}` ({comparison.value})",
                span,
                f"not allowed for {kind}",
                f"{kind} attributes allow {_allowed_text(kind)}",
            )
            return
        if comparison in (C.EQUALS, C.NOT_EQUAL):
            implied = implied_type(comparison, value)
            if implied is not None and implied is not kind:
                fixed = _corrected(value, kind)
                operator = "=" if comparison is C.EQUALS else "!="
                hint = (
                    f"write `{_name_text(name)} {operator} {_value_text(fixed)}`"
                    if fixed is not None
                    else f"compare `{name}` with a {kind} value"
                )
                self.add(
                    f"`{name}` is {kind}, but {_value_text(value)} is a {implied} value",
                    value_span or span,
                    f"a {implied} value",
                    hint,
                )


def _a(kind: T) -> str:
    return f"an {kind}" if kind is T.ARRAY else f"a {kind}"


def _name_text(name: str) -> str:

    return render_name(name)


def check_schema(
    expr: ast.Node,
    schema: Schema,
    *,
    strict: bool = False,
    source: Source | None = None,
    nodes: Sequence[ast.Node] | None = None,
) -> None:
    """Check every condition of ``expr`` against ``schema``; one error lists every problem.

    Unknown attributes are errors in strict mode (with a did-you-mean from the schema),
    and otherwise typed by inference as without a schema.
    """
    source = source or Source("")
    checker = _Checker(schema, strict, source)
    for node in ast.walk(expr) if nodes is None else nodes:
        if isinstance(node, ast.Attribute):
            checker.comparison(
                node.name, node.comparison, node.value, node.span, node.value_span, node.name_span
            )
        elif isinstance(node, ast.In):
            comparison = C.NOT_EQUAL if node.negated else C.EQUALS
            values = node.values if isinstance(node.values, tuple) else ()
            spans: tuple[Span | None, ...] = node.value_spans or tuple(None for _ in values)
            for value, span in zip(values, spans, strict=False):
                checker.comparison(node.name, comparison, value, node.span, span, node.name_span)
        elif isinstance(node, ast.Between):
            bounds: tuple[tuple[C, object], ...] = (
                (C.GREATER_THAN_OR_EQUAL_TO, node.low),
                (C.LESS_THAN_OR_EQUAL_TO, node.high),
            )
            for comparison, bound in bounds:
                checker.comparison(node.name, comparison, bound, node.span, None, node.name_span)
        elif isinstance(node, ast.ContainsAny | ast.ContainsAll):
            checker.comparison(node.name, C.INCLUDES_VALUE, "", node.span, None, node.name_span)
    # Keep one diagnostic per place: the same span can be reached twice through sugar.
    unique = {(d.span.start, d.span.end, d.message): d for d in checker.problems}
    if unique:
        raise AudienceTypeError(list(unique.values()), source)
