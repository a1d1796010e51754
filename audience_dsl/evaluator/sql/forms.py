"""The facts the SQL is built from: each dialect's JSON type names, the time forms read,
and what ``str.casefold`` does beyond ``lower``."""

from __future__ import annotations

__all__ = [
    "ISO_CHECK",
    "ISO_COMMON",
    "ISO_PARTS",
    "MDY",
    "TYPE_NAMES",
    "fold_table",
    "only_group",
    "pointer",
]

#: JSON type names of each dialect's type function, per kind of value.
TYPE_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "duckdb": {
        "string": ("VARCHAR",), "integer": ("BIGINT", "UBIGINT", "HUGEINT"),
        "decimal": ("DOUBLE",), "boolean": ("BOOLEAN",), "array": ("ARRAY",),
        "object": ("OBJECT",), "null": ("NULL",),
    },
    "snowflake": {
        "string": ("VARCHAR",), "integer": ("INTEGER",), "decimal": ("DECIMAL", "DOUBLE"),
        "boolean": ("BOOLEAN",), "array": ("ARRAY",), "object": ("OBJECT",),
        "null": ("NULL_VALUE",),
    },
    "bigquery": {
        "string": ("string",), "integer": (), "decimal": ("number",), "boolean": ("boolean",),
        "array": ("array",), "object": ("object",), "null": ("null",),
    },
    "postgres": {
        "string": ("string",), "integer": (), "decimal": ("number",), "boolean": ("boolean",),
        "array": ("array",), "object": ("object",), "null": ("null",),
    },
    "redshift": {
        "string": ("string",), "integer": (), "decimal": ("number",), "boolean": ("boolean",),
        "array": ("array",), "object": ("object",), "null": ("null",),
    },
    "spark": {
        "string": ("STRING",), "integer": ("BIGINT",), "decimal": ("DOUBLE", "DECIMAL"),
        "boolean": ("BOOLEAN",), "array": ("ARRAY",), "object": ("OBJECT",), "null": ("VOID",),
    },
}  # fmt: skip
TYPE_NAMES["databricks"] = TYPE_NAMES["spark"]

#: The ISO 8601 forms read as times in SQL (a subset of Python's ``datetime.fromisoformat``):
#: ``YYYY-MM-DD`` or ``YYYYMMDD``, optionally one non-digit separator and a time
#: ``HH``, ``HH:MM``, ``HH:MM:SS[.f]``, ``HHMM``, ``HHMMSS[.f]``, then optionally an
#: offset ``Z``, ``±HH``, ``±HH:MM`` or ``±HHMM`` (after a time without a fraction, one
#: space may come before the offset; never after the time alone).
_OFFSET = r"(?:Z|[-+][0-9]{2}(?::?[0-9]{2})?)"
ISO_CHECK = (
    r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{8})(?:[^0-9](?:"
    r"(?:[0-9]{2}(?::[0-9]{2}(?::[0-9]{2})?)?|[0-9]{4}(?:[0-9]{2})?)(?: ?" + _OFFSET + r")?"
    r"|(?:[0-9]{2}:[0-9]{2}:[0-9]{2}|[0-9]{6})[.,][0-9]+" + _OFFSET + r"?"
    r"))?$"
)
ISO_PARTS = (
    r"^([0-9]{4})-?([0-9]{2})-?([0-9]{2})"
    r"(?:[^0-9]([0-9]{2}):?([0-9]{2})?:?([0-9]{2})?(?:[.,]([0-9]+))?"
    r"(?: ?(Z|([-+])([0-9]{2}):?([0-9]{2})?))?)?$"
)
#: The usual export form, whose reading DuckDB's cast to TIMESTAMP agrees with: years
#: 1-3000, hours 00-23, up to six decimals, UTC.
ISO_COMMON = (
    r"^(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[12][0-9]{3}|3000)-[0-9]{2}-[0-9]{2}"
    r"(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?Z)?$"
)
MDY = r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$"


def pointer(name: str) -> str:
    """A custom attribute's JSON pointer (RFC 6901), as DuckDB's JSON functions take it."""
    return "/" + name.replace("~", "~0").replace("/", "~1")


def only_group(pattern: str, group: int) -> str:
    """``pattern`` with every capturing group but number ``group`` made non-capturing."""
    out: list[str] = []
    seen = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "(" and not pattern.startswith("(?", i):
            seen += 1
            out.append("(" if seen == group else "(?:")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


_FOLDS: tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] | None = None


def fold_table() -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """What ``casefold()`` does beyond ``lower()``: (replacements before lowering, for
    characters whose lowercase is several characters; replacements after lowering)."""
    global _FOLDS
    if _FOLDS is None:
        before: dict[str, str] = {}
        after: dict[str, str] = {}
        for code in range(0x110000):
            ch = chr(code)
            if 0xD800 <= code <= 0xDFFF:
                continue
            low = ch.lower()
            if len(low) != 1:
                before[ch] = ch.casefold()
            elif ch.casefold() != low:
                after[low] = low.casefold()
        _FOLDS = (tuple(sorted(before.items())), tuple(sorted(after.items())))
    return _FOLDS
