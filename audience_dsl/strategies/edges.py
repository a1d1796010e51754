"""Values on and around the boundaries of one condition: the pools profiles draw from.

Each function takes a leaf of a rule (or one constant of it) and lists the values a
stored attribute or a profile field could have right at a boundary and just beside it.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.strategies.values import PRINTABLE, iso

__all__ = [
    "ABSENT",
    "Lazy",
    "arrays_near",
    "attribute_pool",
    "case_variants",
    "core_values",
    "is_num",
    "literal",
    "numbers_near",
    "profile_pool",
    "regex_matches",
    "scalars_near",
    "strings_near",
    "time_edges",
    "times_near",
]

#: Stands for "the key is absent" in a pool of values; never leaves this module.
ABSENT: Any = object()


def numbers_near(value: int | float) -> list[int | float]:
    if isinstance(value, int):
        out: list[int | float] = [value, value - 1, value + 1, float(value), value - 0.5,
                                  value + 0.5, -value]  # fmt: skip
    else:
        out = [value, math.nextafter(value, -math.inf), math.nextafter(value, math.inf),
               math.floor(value), math.ceil(value), -value]  # fmt: skip
    return [*out, 0]


def case_variants(text: str) -> list[str]:
    return [text, text.upper(), text.lower(), text.swapcase(), text.capitalize()]


def strings_near(text: str) -> list[str]:
    out = [*case_variants(text), text + "x", "x" + text, f" {text}", f"{text} ", "other"]
    if len(text) > 1:
        out += [text[:-1], text[1:]]
    return out


def literal(pattern: str) -> str | None:
    """The text a regex made of a literal (with optional anchors) looks for, if it is one."""
    body = pattern.removeprefix("^").removesuffix("$")
    plain = re.sub(r"\\(.)", r"\1", body)
    return (
        plain
        if (plain and re.escape(plain) == body.replace("\\-", "-"))
        or (plain and not re.search(r"[.^$*+?{}\[\]\\|()]", body))
        else None
    )


def times_near(edge: datetime, now: datetime) -> list[str]:
    second, hour, day = timedelta(seconds=1), timedelta(hours=1), timedelta(days=1)
    moments = [edge, edge - second, edge + second, edge - hour, edge + hour, edge - day,
               edge + day, now, now - second, now + second]  # fmt: skip
    out = [iso(m) for m in moments]
    plus_two = timezone(timedelta(hours=2))
    out.append(edge.astimezone(plus_two).isoformat())  # the same instant, another offset
    out.append(edge.strftime("%Y-%m-%d"))  # the date alone (midnight UTC)
    return out


def time_edges(comparison: C, value: object, now: datetime) -> list[datetime]:
    from audience_dsl.evaluator.predicates import parse_time

    if comparison in (C.AFTER, C.BEFORE):
        instant = parse_time(value)
        return [instant] if instant is not None else []
    if isinstance(value, int | float) and not isinstance(value, bool):
        span = timedelta(days=float(value))
        if comparison in (C.LESS_THAN_X_DAYS_AGO, C.GREATER_THAN_X_DAYS_AGO):
            return [now - span, now - span / 2]
        return [now + span, now + span / 2]
    return []


def regex_matches(pattern: str) -> st.SearchStrategy[str] | None:
    try:
        strategy = st.from_regex(re.compile(pattern, re.IGNORECASE), alphabet=PRINTABLE)
        strategy.validate()
    except Exception:  # a pattern Hypothesis cannot generate from: boundaries do without
        return None
    return strategy.filter(lambda s: len(s) <= 40)


class Lazy:
    """A pool entry drawn from a strategy when it is picked."""

    def __init__(self, strategy: st.SearchStrategy[Any]) -> None:
        self.strategy = strategy


def attribute_pool(leaf: ast.Node, now: datetime) -> list[Any]:
    """Values on and around the boundaries of one leaf on a custom attribute."""
    if isinstance(leaf, ast.Between):
        return [v for bound in (leaf.low, leaf.high) if is_num(bound)
                for v in numbers_near(bound)]  # type: ignore[arg-type]  # fmt: skip
    if isinstance(leaf, ast.In):
        scalars = leaf.values if isinstance(leaf.values, tuple) else ()
        return [v for value in scalars for v in scalars_near(value)]
    if isinstance(leaf, ast.ContainsAny | ast.ContainsAll):
        items = leaf.values if isinstance(leaf.values, tuple) else ()
        return arrays_near([v for v in items if isinstance(v, str)])
    assert isinstance(leaf, ast.Attribute)
    comparison, value = leaf.comparison, leaf.value
    if comparison in ast.TIME_COMPARISONS:
        return [t for edge in time_edges(comparison, value, now) for t in times_near(edge, now)]
    if comparison in (C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX) and isinstance(value, str):
        out: list[Any] = ["other", "x"]
        plain = literal(value)
        if plain is not None:
            out += strings_near(plain)
        matches = regex_matches(value)
        if matches is not None:
            # Drawn only when picked: a text the regex finds, in some case.
            out.append(Lazy(matches.flatmap(lambda t: st.sampled_from(case_variants(t)))))
        return out
    if comparison in (C.INCLUDES_VALUE, C.DOES_NOT_INCLUDE_VALUE) and isinstance(value, str):
        return arrays_near([value])
    if comparison in (C.IS_ANY_OF, C.IS_NONE_OF):
        words = [v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, str)]
        return [s for v in words for s in strings_near(v)] + arrays_near(words)
    if value is None:
        return []
    return scalars_near(value)


def is_num(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def scalars_near(value: object) -> list[Any]:
    if isinstance(value, bool):
        return [value, not value]
    if isinstance(value, int | float):
        return numbers_near(value)
    if isinstance(value, str):
        return strings_near(value)
    return []


def arrays_near(values: list[str]) -> list[Any]:
    out: list[Any] = []
    if len(values) > 1:
        out += [values[:i] + values[i + 1 :] for i in range(len(values))]  # all but one
    out += [list(values), [values[0]] if values else [], ["other"], [*values, "other"]]
    for value in values:
        out += [[value], [value, "other"], [value.upper()], [value.swapcase()], ["x" + value]]
    return out


def profile_pool(leaf: ast.Node, now: datetime) -> list[Any]:
    """Values on and around the boundaries of a built-in filter."""
    if isinstance(leaf, ast.Subscription):
        return [ABSENT, *(state.value for state in ast.State)]
    assert isinstance(leaf, ast.LastUsedApp)
    times = [t for edge in time_edges(leaf.comparison, leaf.value, now)
             for t in times_near(edge, now)]  # fmt: skip
    out: list[Any] = [ABSENT, []]
    out += [[{"name": "app", "last_used": t}] for t in times]
    if len(times) > 2:
        # Two apps on either side of the instant: the latest session decides.
        out.append([{"name": "a", "last_used": times[1]}, {"name": "b", "last_used": times[2]}])
    return out


def core_values(leaf: ast.Node, now: datetime) -> list[Any]:
    """The values right on each boundary of a leaf, and just beside it."""
    if isinstance(leaf, ast.Subscription | ast.LastUsedApp):
        return profile_pool(leaf, now)[:5]
    if isinstance(leaf, ast.Between):
        bounds = [b for b in (leaf.low, leaf.high) if is_num(b)]
        return [v for b in bounds for v in numbers_near(b)[:3]]  # type: ignore[arg-type]
    if isinstance(leaf, ast.In):
        scalars = leaf.values if isinstance(leaf.values, tuple) else ()
        return [v for value in scalars for v in scalars_near(value)[:4]]
    if isinstance(leaf, ast.ContainsAny | ast.ContainsAll):
        items = [v for v in leaf.values if isinstance(v, str)] if isinstance(
            leaf.values, tuple) else []  # fmt: skip
        return arrays_near(items)[: len(items) + 2]
    assert isinstance(leaf, ast.Attribute)
    comparison, value = leaf.comparison, leaf.value
    if comparison in ast.TIME_COMPARISONS:
        edges = time_edges(comparison, value, now)[:1]
        return [t for edge in edges for t in times_near(edge, now)[:3]]
    if comparison in (C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX) and isinstance(value, str):
        plain = literal(value)
        return strings_near(plain)[:4] if plain is not None else []
    if comparison in (C.INCLUDES_VALUE, C.DOES_NOT_INCLUDE_VALUE) and isinstance(value, str):
        return arrays_near([value])[:3]
    if comparison in (C.IS_ANY_OF, C.IS_NONE_OF):
        words = [v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, str)]
        return [s for v in words for s in strings_near(v)[:4]]
    return scalars_near(value)[:4]
