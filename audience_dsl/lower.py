"""Surface AST to core AST: sugar expanded, ``not`` pushed to the leaves, groups flattened.

Braze has no NOT, so a negated filter is replaced by its complement (``semantics.COMPLEMENT``),
but only where the complement is exact for every user, including users who lack the
attribute: the complement is *pinned* with the documented existence filters, so its
missing-value behaviour is the negation's under the :class:`~audience_dsl.semantics.Semantics`
policy whatever Braze does for the comparison itself: ``OR(co, does_not_exist)`` or
``AND(co, exists)``.

Comparisons with no exact complement (``semantics.REFUSED``: ``before``/``after``, the
relative-day filters, ``last_used_app``) are refused with an explanation and a rule the
user can write instead. docs/negation.md shows what this does to each condition;
tests/lower/test_negation_doc.py checks it row by row against :func:`negate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from audience_dsl.errors import Diagnostic, Label, UnsupportedError
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.language.names import render_name
from audience_dsl.semantics import COMPLEMENT, DEFAULT_SEMANTICS, DOCUMENTED_MISSING, REFUSED
from audience_dsl.source import NOWHERE, Source, Span

__all__ = [
    "DEFAULT",
    "Options",
    "lower",
    "negate",
]

class _Refusal(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic




#: Whether a comparison (with its value) matches a user without the attribute.
MissingPolicy = Callable[[C, ast.Value], bool]


@dataclass(frozen=True, slots=True)
class Options:
    """How to lower: the missing-value policy the complements are pinned for, and whether
    Braze's newer list comparisons (``is_any_of``/``is_none_of``) may be emitted."""

    missing: MissingPolicy = field(default=DEFAULT_SEMANTICS.missing_matches)
    list_comparisons: bool = False
    #: False where ``not_equal`` on strings may ignore case: then the negation of a string
    #: (in)equality is exact only through ``is_none_of``/``is_any_of``.
    case_sensitive_not_equal: bool = True


DEFAULT = Options()


def negate(
    leaf: ast.Filter, not_span: Span | None = None, options: Options = DEFAULT
) -> ast.CoreNode:
    """The exact complement of one filter, or :class:`UnsupportedError` via ``_Refusal``."""
    if isinstance(leaf, ast.Subscription):
        return ast.Subscription(
            channel=leaf.channel,
            comparison=COMPLEMENT[leaf.comparison],
            state=leaf.state,
            span=leaf.span,
        )
    if isinstance(leaf, ast.LastUsedApp):
        other = "before" if leaf.comparison is C.AFTER else "after"
        raise _Refusal(
            _refusal(
                leaf.span,
                not_span,
                f"`not` over `last_used_app {leaf.comparison}` cannot be compiled exactly: "
                "users who never used the app match neither `after` nor `before`, and Braze "
                "cannot select them",
                f"`last_used_app {other} {_shown(leaf.value)}` selects the users who did use "
                "the app on the other side of that instant (not the instant itself)",
            )
        )
    comparison = leaf.comparison
    if comparison in REFUSED:
        raise _Refusal(_refusal(leaf.span, not_span, *_time_refusal(leaf)))
    if comparison is C.INCLUDES_VALUE and isinstance(leaf.value, tuple):
        # `includes_value` with a list holds when any value is included (documented); its
        # negation is that none is, each value's complement pinned as for one value.
        parts = [
            negate(
                ast.Attribute(
                    name=leaf.name, comparison=C.INCLUDES_VALUE, value=item, span=leaf.span,
                    name_span=leaf.name_span, value_span=leaf.value_span,
                ),
                not_span,
                options,
            )
            for item in leaf.value
        ]  # fmt: skip
        return ast.flat_group(ast.AllOf, parts, leaf.span)  # type: ignore[return-value]
    is_string = isinstance(leaf.value, str) and comparison in (C.EQUALS, C.NOT_EQUAL)
    if is_string and comparison is C.NOT_EQUAL and not options.case_sensitive_not_equal:
        raise _Refusal(
            _refusal(
                leaf.span,
                not_span,
                "`not` over `!=` on a string cannot be compiled exactly when `not_equal` may "
                "ignore case: its complement would be an `equals` that ignores case, which "
                "Braze does not have",
                f'write `{render_name(leaf.name)} = "..."` for each spelling you mean, '
                "joined with `or`",
            )
        )
    if is_string and options.list_comparisons:
        # Braze documents is_any_of/is_none_of as case-sensitive, with is_none_of matching
        # users without the attribute, so they are the safest complements of (in)equality.
        co_list = C.IS_NONE_OF if comparison is C.EQUALS else C.IS_ANY_OF
        assert isinstance(leaf.value, str)
        co = ast.Attribute(
            name=leaf.name, comparison=co_list, value=(leaf.value,), span=leaf.span,
            name_span=leaf.name_span, value_span=leaf.value_span,
        )  # fmt: skip
        return _pin(leaf, co, options)
    if is_string and not options.case_sensitive_not_equal:
        raise _Refusal(
            _refusal(
                leaf.span,
                not_span,
                "`not` over a string comparison cannot be compiled exactly when `not_equal` "
                "may ignore case: `equals` and `not_equal` would not be complements",
                "compile with list_comparisons=True, so the complement is Braze's "
                "case-sensitive `is_none_of` / `is_any_of`",
            )
        )
    if isinstance(leaf.value, bool) and comparison in (C.EQUALS, C.NOT_EQUAL):
        # Booleans have two values: the complement of `= true` on present values is `= false`.
        co_value: ast.Value = (not leaf.value) if comparison is C.EQUALS else leaf.value
        co = ast.Attribute(
            name=leaf.name, comparison=C.EQUALS, value=co_value, span=leaf.span,
            name_span=leaf.name_span, value_span=leaf.value_span,
        )  # fmt: skip
    else:
        co = ast.Attribute(
            name=leaf.name, comparison=COMPLEMENT[comparison], value=leaf.value,
            span=leaf.span, name_span=leaf.name_span, value_span=leaf.value_span,
        )  # fmt: skip
    if co.comparison in (C.EXISTS, C.DOES_NOT_EXIST):
        return co
    return _pin(leaf, co, options)


def _pin(leaf: ast.Attribute, co: ast.Attribute, options: Options) -> ast.CoreNode:
    """``co`` made to match users without the attribute exactly when ``leaf`` does not."""
    want_missing = not options.missing(leaf.comparison, leaf.value)
    documented = co.comparison in DOCUMENTED_MISSING
    if documented and DEFAULT_SEMANTICS.missing_matches(co.comparison, co.value) == want_missing:
        return co
    if want_missing:
        pin = ast.Attribute(
            name=leaf.name, comparison=C.DOES_NOT_EXIST, span=leaf.span, name_span=leaf.name_span
        )
        return ast.AnyOf(children=(co, pin), span=leaf.span)
    pin = ast.Attribute(
        name=leaf.name, comparison=C.EXISTS, span=leaf.span, name_span=leaf.name_span
    )
    return ast.AllOf(children=(co, pin), span=leaf.span)


def _shown(value: object) -> str:
    return f"${value.name}" if isinstance(value, ast.Param) else str(value)


def _time_refusal(leaf: ast.Attribute) -> tuple[str, str]:
    name = render_name(leaf.name)
    value = _shown(leaf.value)
    comparison = leaf.comparison
    why = REFUSED[comparison]
    written = {
        C.AFTER: f"{name} after {value}",
        C.BEFORE: f"{name} before {value}",
        C.LESS_THAN_X_DAYS_AGO: f"{name} < {value} days",
        C.GREATER_THAN_X_DAYS_AGO: f"{name} > {value} days",
        C.LESS_THAN_X_DAYS_IN_THE_FUTURE: f"{name} < {value} days from now",
        C.GREATER_THAN_X_DAYS_IN_THE_FUTURE: f"{name} > {value} days from now",
    }[comparison]
    message = f"`not ({written})` cannot be compiled exactly: {why}"
    if comparison in (C.AFTER, C.BEFORE):
        other = "before" if comparison is C.AFTER else "after"
        hint = (
            f"write `{name} {other} {value} or {name} does not exist` if users whose value is "
            f"exactly {value} may be left out"
        )
    else:
        flipped = {
            C.LESS_THAN_X_DAYS_AGO: f"{name} > {value} days",
            C.GREATER_THAN_X_DAYS_AGO: f"{name} < {value} days",
            C.LESS_THAN_X_DAYS_IN_THE_FUTURE: f"{name} > {value} days from now",
            C.GREATER_THAN_X_DAYS_IN_THE_FUTURE: f"{name} < {value} days from now",
        }[comparison]
        hint = (
            f"write `{flipped} or {name} does not exist` if the boundary and the other side "
            "of now may be left out"
        )
    return message, hint


def _refusal(span: Span | None, not_span: Span | None, message: str, hint: str) -> Diagnostic:
    labels = (Label(not_span, "negated here"),) if not_span is not None else ()
    label = "no exact complement"
    return Diagnostic(message, span or NOWHERE, label, hint, labels, code="no-exact-complement")


# ---- sugar ---------------------------------------------------------------------------------


def _expand(node: ast.Node, options: Options = DEFAULT) -> ast.Node:
    """One sugar node as an And/Or of filters (a single filter for a one-element list).

    With list comparisons, a list of strings becomes one ``is_any_of``/``is_none_of``
    filter (``contains any`` one ``is_any_of``), which Braze evaluates the same way.
    """
    strings = isinstance(node, ast.In | ast.ContainsAny) and (
        isinstance(node.values, tuple)
        and len(node.values) > 1
        and all(isinstance(v, str) for v in node.values)
    )
    negated = isinstance(node, ast.In) and node.negated
    # `not in` is an AND of `not_equal`; `is_none_of` (case-sensitive) says the same only
    # where `not_equal` is case-sensitive too.
    if options.list_comparisons and strings and (options.case_sensitive_not_equal or not negated):
        assert isinstance(node, ast.In | ast.ContainsAny)
        return ast.Attribute(
            name=node.name, comparison=C.IS_NONE_OF if negated else C.IS_ANY_OF,
            value=node.values, span=node.span, name_span=node.name_span,
        )  # fmt: skip
    if isinstance(node, ast.In):
        comparison = C.NOT_EQUAL if node.negated else C.EQUALS
        group: type[ast.AllOf] | type[ast.AnyOf] = ast.AllOf if node.negated else ast.AnyOf
        return _group(group, node, comparison, node.values, node.value_spans)
    if isinstance(node, ast.Between):
        spans = node.value_spans or (None, None)
        parts = (
            ast.Attribute(
                name=node.name, comparison=C.GREATER_THAN_OR_EQUAL_TO, value=node.low,
                span=node.span, name_span=node.name_span, value_span=spans[0],
            ),
            ast.Attribute(
                name=node.name, comparison=C.LESS_THAN_OR_EQUAL_TO, value=node.high,
                span=node.span, name_span=node.name_span, value_span=spans[1],
            ),
        )  # fmt: skip
        return ast.AllOf(children=parts, span=node.span)
    if isinstance(node, ast.ContainsAny):
        return _group(ast.AnyOf, node, C.INCLUDES_VALUE, node.values, node.value_spans)
    if isinstance(node, ast.ContainsAll):
        return _group(ast.AllOf, node, C.INCLUDES_VALUE, node.values, node.value_spans)
    raise TypeError(f"not sugar: {type(node).__name__}")  # pragma: no cover


def _group(
    group: type[ast.AllOf] | type[ast.AnyOf],
    node: ast.In | ast.ContainsAny | ast.ContainsAll,
    comparison: C,
    values: object,
    spans: tuple[Span, ...],
) -> ast.Node:
    if isinstance(values, ast.Param):
        raise TypeError("unbound parameter")  # bound before lowering; see check.bind
    assert isinstance(values, tuple)
    parts = tuple(
        ast.Attribute(
            name=node.name, comparison=comparison, value=value, span=node.span,
            name_span=node.name_span, value_span=spans[i] if i < len(spans) else None,
        )
        for i, value in enumerate(values)
    )  # fmt: skip
    if len(parts) == 1:
        return parts[0]
    return group(children=parts, span=node.span)


# ---- the walk -------------------------------------------------------------------------------

_FILTERS = (ast.Attribute, ast.Subscription, ast.LastUsedApp)
_SUGAR = (ast.In, ast.Between, ast.ContainsAny, ast.ContainsAll)
_ALL = (ast.And, ast.AllOf)
_GROUPS = (ast.And, ast.AllOf, ast.Or, ast.AnyOf)


@dataclass(slots=True)
class _Build:
    all_of: bool
    count: int
    span: Span | None


def _make_group(all_of: bool, parts: list[ast.CoreNode], span: Span | None) -> ast.CoreNode:
    group = ast.flat_group(ast.AllOf if all_of else ast.AnyOf, parts, span)
    return group  # type: ignore[return-value]


def lower(expr: ast.Node, source: Source | None = None, options: Options = DEFAULT) -> ast.CoreNode:
    """The core tree of a surface expression; iterative, so any depth is fine.

    Raises :class:`UnsupportedError` for a negation with no exact complement.
    """
    out: list[ast.CoreNode] = []
    # Each item: a node to visit with its polarity (and the span of the `not` that
    # flipped it), or a _Build that pops its children's results and makes the group.
    stack: list[tuple[ast.Node, bool, Span | None] | _Build] = [(expr, False, None)]
    problems: list[Diagnostic] = []
    while stack:
        item = stack.pop()
        if isinstance(item, _Build):
            parts = out[len(out) - item.count :]
            del out[len(out) - item.count :]
            out.append(_make_group(item.all_of, parts, item.span))
            continue
        node, negated, not_span = item
        if isinstance(node, _FILTERS):  # the most common node first
            if not negated:
                out.append(node)
                continue
            try:
                out.append(negate(node, _head(not_span, source), options))
            except _Refusal as refusal:
                problems.append(refusal.diagnostic)
                out.append(node)  # keep going, to report every refusal at once
        elif isinstance(node, _GROUPS):
            all_of = isinstance(node, _ALL) != negated
            kids = node.children
            stack.append(_Build(all_of, len(kids), node.span))
            stack.extend([(child, negated, not_span) for child in reversed(kids)])
        elif isinstance(node, ast.Not):
            stack.append((node.operand, not negated, node.span if not negated else None))
        elif isinstance(node, _SUGAR):
            stack.append((_expand(node, options), negated, not_span))
        elif isinstance(node, ast.Rule):
            stack.append((node.expr, negated, not_span))
        else:  # pragma: no cover - every node type is handled above
            raise TypeError(f"unknown node {type(node).__name__}")
    if problems:
        raise UnsupportedError(problems, source or Source(""))
    (result,) = out
    return result


def _head(span: Span | None, source: Source | None) -> Span | None:
    """The span of the `not` (or `!`) keyword at the start of a negation's span."""
    if span is None:
        return None
    width = 1
    if source is not None and source.text[span.start : span.start + 3].lower() == "not":
        width = 3
    return Span(
        span.start, span.start + width, span.line, span.column, span.line, span.column + width
    )
