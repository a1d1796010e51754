"""Why one profile matches a rule or not, condition by condition."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from audience_dsl.errors import AudienceError
from audience_dsl.evaluator.predicates import (
    expansion,
    is_array,
    is_blank,
    is_bool,
    is_number,
    is_str,
    is_text_or_array,
    last_used,
    parse_time,
    show_json,
    subscription_state,
)
from audience_dsl.evaluator.program import ALL, ANY, LEAF, NOT, build_program, custom_attributes_of
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.printer import leaf_text
from audience_dsl.semantics import Kind, Semantics, kind_of
from audience_dsl.source import Source, Span

# ---- explain --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One line of an explanation: a condition or a group, and whether it held."""

    text: str
    result: bool
    reason: str
    depth: int
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a profile matched a rule or not, condition by condition (parents first)."""

    matched: bool
    steps: tuple[Step, ...]

    def __bool__(self) -> bool:
        return self.matched

    def __str__(self) -> str:
        lines = ["matched" if self.matched else "not matched"]
        for step in self.steps:
            indent = "  " * (1 + min(step.depth, 30))
            mark = "yes" if step.result else "no "
            reason = f" -- {step.reason}" if step.reason else ""
            lines.append(f"{indent}{mark} {step.text}{reason}")
        return "\n".join(lines)


def explain(
    rule: str | ast.Node | Mapping[str, Any],
    profile: Mapping[str, Any],
    *,
    now: datetime | None = None,
    semantics: Semantics = Semantics(),
) -> Explanation:
    """Evaluate like :func:`evaluate`, keeping every condition's result and the reason.

    >>> from datetime import datetime, timezone
    >>> now = datetime(2024, 1, 15, tzinfo=timezone.utc)
    >>> print(explain('last_purchase < 2 days',
    ...               {"custom_attributes": {"last_purchase": "2024-01-10"}}, now=now))
    not matched
      no  last_purchase < 2 days -- last_purchase was 5 days ago; the rule needs less than 2
    """
    program = build_program(rule, now, semantics)
    assert now is not None  # checked by build_program
    attrs = custom_attributes_of(profile)
    results = [predicate(attrs, profile) for predicate in program.predicates]
    values = program.combine(results)
    steps: list[Step | None] = [None] * len(program.code)
    for instruction, value in zip(program.code, values, strict=True):
        node = instruction.node
        reason = _reason(node, attrs, profile, now, semantics) if instruction.op == LEAF else ""
        steps[instruction.order] = Step(
            condition_text(node, program.source, instruction.op),
            value,
            reason,
            instruction.depth,
            node.span,
        )
    return Explanation(values[-1], tuple(step for step in steps if step is not None))


def condition_text(node: ast.Node, source: Source | None, op: int) -> str:
    if op == ALL:
        return "all of"
    if op == ANY:
        return "any of"
    if op == NOT:
        return "not"
    if source is not None and node.span is not None:
        return " ".join(source.text[node.span.start : node.span.end].split())
    try:
        return leaf_text(node)
    except AudienceError:
        return _render(node)


def _render(node: ast.Node) -> str:
    if isinstance(node, ast.Attribute):
        if node.comparison in (C.EXISTS, C.DOES_NOT_EXIST):
            return f"{node.name} {node.comparison}"
        return f"{node.name} {node.comparison} {show_json(node.value)}"
    if isinstance(node, ast.Subscription):
        state = node.state.value if isinstance(node.state, ast.State) else node.state
        return f"{node.channel}_subscription_status {node.comparison} {state}"
    if isinstance(node, ast.LastUsedApp):
        return f"last_used_app {node.comparison} {node.value}"
    if isinstance(node, ast.In):
        return f"{node.name} {'not in' if node.negated else 'in'} {show_json(node.values)}"
    if isinstance(node, ast.Between):
        return f"{node.name} between {node.low} and {node.high}"
    if isinstance(node, ast.ContainsAny | ast.ContainsAll):
        word = "any" if isinstance(node, ast.ContainsAny) else "all"
        return f"{node.name} contains {word} {show_json(node.values)}"
    return type(node).__name__  # pragma: no cover


_NEEDS = {
    C.EQUALS: "exactly {v}",
    C.NOT_EQUAL: "anything but {v}",
    C.GREATER_THAN: "more than {v}",
    C.GREATER_THAN_OR_EQUAL_TO: "at least {v}",
    C.LESS_THAN: "less than {v}",
    C.LESS_THAN_OR_EQUAL_TO: "at most {v}",
    C.MATCHES_REGEX: "a match for the regex {v} (case-insensitive)",
    C.DOES_NOT_MATCH_REGEX: "no match for the regex {v} (case-insensitive)",
    C.INCLUDES_VALUE: "an element equal to {v}",
    C.DOES_NOT_INCLUDE_VALUE: "no element equal to {v}",
    C.IS_ANY_OF: "one of {v}",
    C.IS_NONE_OF: "none of {v}",
    C.EXISTS: "a value",
    C.DOES_NOT_EXIST: "no value",
    C.BEFORE: "a time before {v}",
    C.AFTER: "a time after {v}",
    C.LESS_THAN_X_DAYS_AGO: "less than {v}",
    C.GREATER_THAN_X_DAYS_AGO: "more than {v}",
    C.LESS_THAN_X_DAYS_IN_THE_FUTURE: "less than {v}",
    C.GREATER_THAN_X_DAYS_IN_THE_FUTURE: "more than {v}",
}


def _reason(node: ast.Node, attrs: Mapping[str, Any], profile: Mapping[str, Any],
            now: datetime, sem: Semantics) -> str:  # fmt: skip
    if isinstance(node, ast.Subscription):
        state = subscription_state(profile, node.channel)
        default = " (the default)" if profile.get(f"{node.channel}_subscribe") is None else ""
        wanted = node.state.value if isinstance(node.state, ast.State) else str(node.state)
        word = "" if node.comparison is C.IS else "anything but "
        return f"{node.channel} state is {state}{default}; the rule needs {word}{wanted}"
    if isinstance(node, ast.LastUsedApp):
        instant = last_used(profile)
        if instant is None:
            verdict = (
                "matches" if sem.never_used_app_matches else "matches neither after nor before"
            )
            return f"the user never used an app, which {verdict}"
        need = f"a time {node.comparison} {node.value}"
        return f"the app was last used at {instant.isoformat()}; the rule needs {need}"
    if isinstance(node, ast.Attribute):
        name, comparison = node.name, node.comparison
        need = _NEEDS[comparison].format(v=show_json(node.value))
    else:
        all_of, parts = expansion(node)
        name, comparison = parts[0].name, parts[0].comparison
        if isinstance(node, ast.Between):
            need = f"between {node.low} and {node.high} (both included)"
        else:
            values = ", ".join(show_json(p.value) for p in parts)
            word = "all" if all_of else "any"
            need = f"{word} of: " + ", ".join(
                _NEEDS[comparison].format(v=show_json(p.value)) for p in parts
            )
            if isinstance(node, ast.In):
                need = ("none of " if node.negated else "one of ") + f"({values})"
    stored = attrs.get(name)
    if is_blank(stored):
        what = "missing" if name not in attrs or stored is None else f"blank ({show_json(stored)})"
        if comparison in (C.EXISTS, C.DOES_NOT_EXIST):
            return f"{name} is {what}"
        rule = "matches" if _leaf_missing(node, sem) else "does not match"
        return f"{name} is {what}; `{comparison}` {rule} users without a value"
    kind = kind_of(
        comparison,
        getattr(node, "value", None) if isinstance(node, ast.Attribute) else parts[0].value,
    )
    if kind is Kind.TIME:
        instant = parse_time(stored)
        if instant is None:
            return f"{name} is {show_json(stored)}, not a date-time"
        if comparison in (C.BEFORE, C.AFTER):
            return f"{name} is {instant.isoformat()}; the rule needs {need}"
        ago = (now - instant) / timedelta(days=1)
        if comparison in (C.LESS_THAN_X_DAYS_AGO, C.GREATER_THAN_X_DAYS_AGO):
            when = (
                f"was {_amount(ago)} ago" if ago >= 0 else f"is {_amount(-ago)} in the future"
            )
        else:
            when = f"is {_amount(-ago)} from now" if ago <= 0 else f"was {_amount(ago)} ago"
        return f"{name} {when}; the rule needs {need}"
    accepts = {
        Kind.STRING: is_str, Kind.NUMBER: is_number, Kind.BOOLEAN: is_bool,
        Kind.ARRAY: is_array, Kind.TEXT_OR_ARRAY: is_text_or_array,
    }.get(kind)  # fmt: skip
    if accepts is not None and not accepts(stored):
        return f"{name} is {show_json(stored)}, not {kind.value}, so the comparison does not apply"
    return f"{name} is {show_json(stored)}; the rule needs {need}"


def _leaf_missing(node: ast.Node, sem: Semantics) -> bool:
    if isinstance(node, ast.Attribute):
        return sem.missing_matches(node.comparison, node.value)
    all_of, parts = expansion(node)
    cells = [sem.missing_matches(p.comparison, p.value) for p in parts]
    return all(cells) if all_of else any(cells)


def _amount(days: float) -> str:
    """A number of days in words: "1 day", "5 days", "2.5 days"."""
    rounded = round(days, 1)
    number = str(int(rounded)) if rounded == int(rounded) else str(rounded)
    return f"{number} day" if number == "1" else f"{number} days"
