"""Binding ``$parameters``: every ``$name`` is replaced with the caller's value, after checking
that the value fits where the parameter stands. A value is only ever data: it can change
what a filter compares with, never the shape of the rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from audience_dsl.errors import Diagnostic, ParameterError
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.ast import DataType as T
from audience_dsl.source import NOWHERE, Source, Span

__all__ = ["bind", "params_of"]

def params_of(expr: ast.Node) -> list[ast.Param]:
    """Every parameter in ``expr``, in source order."""
    found: list[ast.Param] = []
    for node in ast.walk(expr):
        for value in _param_slots(node):
            if isinstance(value, ast.Param):
                found.append(value)
            elif isinstance(value, tuple):
                found.extend(v for v in value if isinstance(v, ast.Param))
    return found


def _param_slots(node: ast.Node) -> tuple[object, ...]:
    if isinstance(node, ast.Attribute | ast.LastUsedApp):
        return (node.value,)
    if isinstance(node, ast.Subscription):
        return (node.state,)
    if isinstance(node, ast.In | ast.ContainsAny | ast.ContainsAll):
        return (node.values,)
    if isinstance(node, ast.Between):
        return (node.low, node.high)
    return ()


class _Binder:
    def __init__(
        self, params: Mapping[str, Any], source: Source, types: Mapping[str, T] | None = None
    ) -> None:
        self.params = params
        self.types = types or {}
        self.source = source
        self.problems: list[Diagnostic] = []

    def problem(self, param: ast.Param, message: str, hint: str = "") -> None:
        self.problems.append(Diagnostic(message, param.span or NOWHERE, f"${param.name}", hint))

    def get(self, param: ast.Param) -> tuple[bool, Any]:
        if param.name not in self.params:
            close = [k for k in self.params if k.lower() == param.name.lower()]
            hint = (
                f"did you mean `${close[0]}`?" if close else f"pass params={{'{param.name}': ...}}"
            )
            self.problem(param, f"no value was given for the parameter `${param.name}`", hint)
            return False, None
        return True, self.params[param.name]

    # -- kinds of value --

    def scalar(self, param: ast.Param, value: Any) -> Any:
        if isinstance(value, bool | str) or (isinstance(value, int | float) and _finite(value)):
            return value
        self.problem(
            param,
            f"`${param.name}` must be a string, a number or a boolean, not {_kind(value)}",
        )
        return None

    def typed(self, param: ast.Param, value: Any, kind: T | None, name: str) -> Any:
        """A value for `=`/`!=`/`in`: of the schema's type for the attribute, if it has one."""
        if kind is None:
            return self.scalar(param, value)
        fits = {
            T.STRING: isinstance(value, str),
            T.NUMERIC: isinstance(value, int | float)
            and not isinstance(value, bool)
            and _finite(value),
            T.BOOLEAN: isinstance(value, bool),
        }.get(kind, False)
        if fits:
            return value
        self.problem(
            param,
            f"`${param.name}` must be a {kind} value, since `{name}` is {kind}, not {_kind(value)}",
        )
        return None

    def number(self, param: ast.Param, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool) and _finite(value):
            return value
        self.problem(param, f"`${param.name}` must be a number, not {_kind(value)}")
        return None

    def string(self, param: ast.Param, value: Any) -> Any:
        if isinstance(value, str):
            return value
        self.problem(param, f"`${param.name}` must be a string, not {_kind(value)}")
        return None

    def days(self, param: ast.Param, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value * param.days_per_unit
        self.problem(
            param,
            f"`${param.name}` counts days, so it must be a whole number of at least 0, "
            f"not {_kind(value)}",
            "Braze counts relative times in whole days",
        )
        return None

    def instant(self, param: ast.Param, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                self.problem(
                    param,
                    f"`${param.name}` is a date-time without a time zone",
                    "give an aware datetime, e.g. datetime(2024, 1, 31, tzinfo=timezone.utc)",
                )
                return None
            return value.isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str):
            try:
                dt.datetime.fromisoformat(value)
            except ValueError:
                self.problem(param, f"`${param.name}` is not an ISO 8601 date-time: {value!r}")
                return None
            return value
        self.problem(param, f"`${param.name}` must be a date-time, not {_kind(value)}")
        return None

    def sequence(self, param: ast.Param, value: Any, strings_only: bool, name: str = "") -> Any:
        kind = self.types.get(name)
        if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
            self.problem(param, f"`${param.name}` must be a list of values, not {_kind(value)}")
            return None
        items = tuple(value)
        if not items:
            self.problem(
                param,
                f"`${param.name}` is an empty list, which Braze has no filter for",
                "give at least one value",
            )
            return None
        before = len(self.problems)
        result = tuple(
            self.string(param, item) if strings_only else self.typed(param, item, kind, name)
            for item in items
        )
        if len(self.problems) > before:
            return None
        return result

    # -- each node --

    def leaf(self, node: ast.Node) -> ast.Node:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Param):
            return self.attribute(node, node.value)
        if isinstance(node, ast.LastUsedApp) and isinstance(node.value, ast.Param):
            found, value = self.get(node.value)
            if not found:
                return node
            return ast.LastUsedApp(
                comparison=node.comparison, value=self.instant(node.value, value),
                span=node.span, value_span=node.value_span,
            )  # fmt: skip
        if isinstance(node, ast.Subscription) and isinstance(node.state, ast.Param):
            found, value = self.get(node.state)
            if not found:
                return node
            states = {s.value for s in ast.State}
            if not isinstance(value, str) or value.lower() not in states:
                self.problem(
                    node.state,
                    f"`${node.state.name}` must be a subscription state, not {value!r}",
                    "the states are opted_in, subscribed and unsubscribed",
                )
                return node
            return ast.Subscription(
                channel=node.channel, comparison=node.comparison, state=ast.State(value.lower()),
                span=node.span,
            )  # fmt: skip
        if isinstance(node, ast.In | ast.ContainsAny | ast.ContainsAll):
            return self.listed(node)
        if isinstance(node, ast.Between):
            low, high = node.low, node.high
            if isinstance(low, ast.Param):
                found, value = self.get(low)
                low = self.number(low, value) if found else low
            if isinstance(high, ast.Param):
                found, value = self.get(high)
                high = self.number(high, value) if found else high
            return ast.Between(
                name=node.name, low=low, high=high, span=node.span, name_span=node.name_span,
                value_spans=node.value_spans,
            )  # fmt: skip
        return node

    def listed(self, node: ast.In | ast.ContainsAny | ast.ContainsAll) -> ast.Node:
        strings_only = not isinstance(node, ast.In)
        values: Any = node.values
        if isinstance(values, ast.Param):
            found, value = self.get(values)
            if not found:
                return node
            values = self.sequence(values, value, strings_only, node.name)
            spans: tuple[Span, ...] = ()
        else:
            spans = node.value_spans
            bound = []
            for item in values:
                if isinstance(item, ast.Param):
                    found, value = self.get(item)
                    if not found:
                        bound.append(item)
                        continue
                    if strings_only:
                        item = self.string(item, value)
                    else:
                        item = self.typed(item, value, self.types.get(node.name), node.name)
                bound.append(item)
            values = tuple(bound)
        if values is None:
            return node
        if isinstance(node, ast.In):
            return ast.In(
                name=node.name, values=values, negated=node.negated, span=node.span,
                name_span=node.name_span, value_spans=spans,
            )  # fmt: skip
        return type(node)(
            name=node.name, values=values, span=node.span, name_span=node.name_span,
            value_spans=spans,
        )  # fmt: skip

    def attribute(self, node: ast.Attribute, param: ast.Param) -> ast.Node:
        found, value = self.get(param)
        if not found:
            return node
        comparison = node.comparison
        if comparison in ast.RELATIVE_DAYS:
            bound = self.days(param, value)
        elif comparison in (C.AFTER, C.BEFORE):
            bound = self.instant(param, value)
        elif comparison in ast.ORDERING:
            if isinstance(value, dt.date | str) and not isinstance(value, bool):
                if comparison in (C.GREATER_THAN_OR_EQUAL_TO, C.LESS_THAN_OR_EQUAL_TO):
                    self.problem(
                        param,
                        f"`${param.name}` is a date-time, and Braze compares date-times only "
                        "strictly (`after`, `before`)",
                        "use `<` or `>` with a date-time",
                    )
                    return node
                comparison = C.AFTER if comparison is C.GREATER_THAN else C.BEFORE
                bound = self.instant(param, value)
            else:
                bound = self.number(param, value)
        elif comparison in (C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX, C.INCLUDES_VALUE,
                            C.DOES_NOT_INCLUDE_VALUE):  # fmt: skip
            bound = self.string(param, value)
        else:
            bound = self.typed(param, value, self.types.get(node.name), node.name)
        if bound is None:
            return node
        return ast.Attribute(
            name=node.name, comparison=comparison, value=bound, span=node.span,
            name_span=node.name_span, value_span=node.value_span,
        )  # fmt: skip


def bind(
    expr: ast.Node,
    params: Mapping[str, Any] | None,
    source: Source | None = None,
    types: Mapping[str, T] | None = None,
) -> Any:
    """``expr`` with its parameters replaced by values from ``params``.

    Raises :class:`ParameterError` naming every missing, unused or ill-typed parameter.
    """
    if params is not None and (
        not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params)
    ):
        raise ParameterError(
            Diagnostic(
                f"params must map parameter names (strings) to values, not {_kind(params)}",
                NOWHERE,
                "",
                'pass e.g. params={"min_age": 21}',
            ),
            source or Source(""),
        )
    if not params and source is not None and source.text and "$" not in source.text:
        return expr  # no parameter can stand in a text without `$`
    source = source or Source("")
    params = dict(params or {})
    used = params_of(expr)
    problems: list[Diagnostic] = []
    names = {p.name for p in used}
    unused = sorted(set(params) - names)
    if not used and not unused:
        return expr
    binder = _Binder(params, source, types)
    result = ast.map_leaves(expr, binder.leaf) if used else expr
    problems.extend(binder.problems)
    end = source.span(len(source.text), len(source.text))
    for name in unused:
        problems.append(
            Diagnostic(
                f"the parameter `${name}` was given but the rule does not use it",
                end,
                "",
                "remove it from params, or use it in the rule as `$" + name + "`",
            )
        )
    if problems:
        raise ParameterError(problems, source)
    return result


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"a {type(value).__name__}"
