"""A rule compiled for evaluation: leaf predicates plus a flat post-order program run with an
explicit stack, so that trees of any depth work; and :func:`evaluate`, one profile's answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audience_dsl.braze.codec import to_core
from audience_dsl.errors import Diagnostic, ParameterError, ValidationError
from audience_dsl.evaluator.predicates import InvalidValue, Predicate, leaf_predicate, show_json
from audience_dsl.language import ast
from audience_dsl.semantics import Semantics
from audience_dsl.source import NOWHERE, Source, Span

# ---- the program: leaves plus a post-order structure ------------------------------------

LEAF, ALL, ANY, NOT = 0, 1, 2, 3
_SUGAR = (ast.In, ast.Between, ast.ContainsAny, ast.ContainsAll)
_FILTERS = (ast.Attribute, ast.Subscription, ast.LastUsedApp)

#: Deeper structures are run by the stack machine rather than generated code.
_GENERATED_DEPTH = 40
_GENERATED_LEAVES = 250


@dataclass(frozen=True, slots=True)
class _Instruction:
    op: int
    arg: int  # leaf index, or child count
    node: ast.Node
    order: int  # position in pre-order (for explanations)
    depth: int


@dataclass(slots=True)
class _Program:
    leaves: list[ast.Node]
    predicates: list[Predicate]
    code: list[_Instruction]
    depth: int
    source: Source | None

    def leaf_results(self, profile: Mapping[str, Any]) -> list[bool]:
        attrs = custom_attributes_of(profile)
        return [predicate(attrs, profile) for predicate in self.predicates]

    def combine(self, results: list[bool] | tuple[bool, ...]) -> list[bool]:
        """Every instruction's result (post-order), from the leaves' results."""
        values: list[bool] = []
        stack: list[bool] = []
        for instruction in self.code:
            op = instruction.op
            if op == LEAF:
                value = results[instruction.arg]
            elif op == NOT:
                value = not stack.pop()
            else:
                n = instruction.arg
                parts = stack[len(stack) - n :]
                del stack[len(stack) - n :]
                value = all(parts) if op == ALL else any(parts)
            stack.append(value)
            values.append(value)
        return values

    def decide(self, results: list[bool] | tuple[bool, ...]) -> bool:
        return self.combine(results)[-1]

    def generated(
        self,
    ) -> tuple[
        Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[bool, ...]],
        Callable[[tuple[bool, ...]], bool],
    ]:
        """Fast straight-line functions: all leaves as a tuple, and the structure over it.

        The generated source holds only leaf indices and ``and``/``or``/``not``, never any
        text from a rule or profile. Deep or very wide rules use the general path instead.
        """
        n = len(self.predicates)
        if n <= _GENERATED_LEAVES:
            names = {f"p{i}": p for i, p in enumerate(self.predicates)}
            body = ", ".join(f"p{i}(a, q)" for i in range(n))
            scope: dict[str, Any] = dict(names)
            exec(f"def leaves(a, q):\n    return ({body},)\n", scope)
            leaves: Any = scope["leaves"]
        else:
            predicates = tuple(self.predicates)
            leaves = lambda a, q: tuple([p(a, q) for p in predicates])  # noqa: E731
        if self.depth > _GENERATED_DEPTH:
            return leaves, self.decide
        parts: list[str] = []
        for instruction in self.code:
            if instruction.op == LEAF:
                parts.append(f"r[{instruction.arg}]")
            elif instruction.op == NOT:
                parts.append(f"(not {parts.pop()})")
            else:
                k = instruction.arg
                joiner = " and " if instruction.op == ALL else " or "
                group = "(" + joiner.join(parts[len(parts) - k :]) + ")"
                del parts[len(parts) - k :]
                parts.append(group)
        decide: Callable[[tuple[bool, ...]], bool] = eval(f"lambda r: bool({parts[0]})")
        return leaves, decide


def custom_attributes_of(profile: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(profile, Mapping):
        raise ValidationError(
            [("profile", f"a profile is a JSON object, not {show_json(profile)}")]
        )
    attrs = profile.get("custom_attributes")
    if attrs is None:
        return {}
    if not isinstance(attrs, Mapping):
        raise ValidationError(
            [("custom_attributes", f"expected an object, found {show_json(attrs)}")]
        )
    return attrs


def build_program(target: object, now: datetime | None, sem: Semantics) -> _Program:
    """Compile a rule (text, AST or Connected Audience dict) into a :class:`_Program`."""
    check_now(now)
    assert now is not None
    if not isinstance(sem, Semantics):
        raise ValidationError([("semantics", "expected a Semantics object")])
    paths: dict[int, str] = {}
    source: Source | None = None
    if isinstance(target, str):
        from audience_dsl.pipeline import parse

        target = parse(target)
    if isinstance(target, Mapping):
        root: ast.Node = to_core(target, paths=paths)
    elif isinstance(target, ast.Node):
        root = target
    else:
        raise ValidationError(
            [
                (
                    "rule",
                    "expected rule text, an AST or a Connected Audience object, "
                    f"not {type(target).__name__}",
                )
            ]
        )
    if isinstance(root, ast.Rule):
        source = root.source
    leaves: list[ast.Node] = []
    predicates: list[Predicate] = []
    code: list[_Instruction] = []
    problems: list[tuple[str, str]] = []
    unbound: list[ast.Param] = []
    order = 0
    max_depth = 0
    stack: list[tuple[ast.Node, int, int, bool]] = [(root, 0, 0, False)]
    while stack:
        node, depth, position, done = stack.pop()
        if isinstance(node, ast.Rule):
            stack.append((node.expr, depth, position, False))
            continue
        if done:
            op = (
                NOT
                if isinstance(node, ast.Not)
                else ALL
                if isinstance(node, ast.And | ast.AllOf)
                else ANY
            )
            count = 1 if op == NOT else len(ast.children(node))
            code.append(_Instruction(op, count, node, position, depth))
            continue
        position, order = order, order + 1
        max_depth = max(max_depth, depth)
        if isinstance(node, (*_FILTERS, *_SUGAR)):
            try:
                predicates.append(leaf_predicate(node, now, sem))
            except InvalidValue as problem:
                if problem.parameter is not None:
                    unbound.append(problem.parameter)
                problems.append((paths.get(id(node)) or _where(node.span), problem.message))
                predicates.append(lambda _a, _p: False)
            code.append(_Instruction(LEAF, len(leaves), node, position, depth))
            leaves.append(node)
            continue
        kids = ast.children(node)
        if not kids:
            problems.append((paths.get(id(node)) or _where(node.span), "an empty group"))
            continue
        stack.append((node, depth, position, True))
        stack.extend((kid, depth + 1, 0, False) for kid in reversed(kids))
    if unbound and len(unbound) == len(problems):
        raise ParameterError(
            [Diagnostic(f"the parameter `${p.name}` has no value", p.span or NOWHERE, f"${p.name}",
                        f"bind it with audience_dsl.parse(text, params={{'{p.name}': ...}})",
                        code="unbound-parameter")
             for p in unbound],
            source or Source(""),
        )  # fmt: skip
    if problems:
        raise ValidationError(problems)
    return _Program(leaves, predicates, code, max_depth, source)


def _where(span: Span | None) -> str:
    return f"rule:{span.line}:{span.column}" if span is not None else "rule"


def check_now(now: object) -> None:
    if now is None:
        raise ValidationError(
            [
                (
                    "now",
                    "give the instant to evaluate at, e.g. now=datetime.now(timezone.utc): "
                    "relative times (`< 2 days`) are measured from it",
                )
            ]
        )
    if not isinstance(now, datetime):
        raise ValidationError([("now", f"expected an aware datetime, not {type(now).__name__}")])
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValidationError(
            [("now", "`now` must be time-zone aware, e.g. datetime.now(timezone.utc)")]
        )


# ---- evaluate -------------------------------------------------------------------------------


#: The instant the test tools evaluate at unless told otherwise: profiles drawn by
#: :mod:`audience_dsl.strategies` centre their times on it, and the ``local_braze``
#: fixture's endpoint decides deliveries at it, so the two agree. (``evaluate`` itself
#: always takes ``now`` explicitly.)
DEFAULT_NOW = datetime(2024, 6, 1, tzinfo=UTC)


def evaluate(
    rule_or_audience: str | ast.Node | Mapping[str, Any],
    profile: Mapping[str, Any],
    *,
    now: datetime | None = None,
    semantics: Semantics = Semantics(),
) -> bool:
    """Whether ``profile`` (Braze export shape) matches a rule or a Connected Audience.

    ``rule_or_audience`` is rule text, an AST (surface nodes are evaluated as written:
    ``not`` is logical negation, sugar means its expansion) or a Connected Audience
    object. ``now`` is the instant of evaluation, time-zone aware.

    >>> from datetime import datetime, timezone
    >>> now = datetime(2024, 1, 15, tzinfo=timezone.utc)
    >>> evaluate('age > 18 and push is opted_in',
    ...          {"custom_attributes": {"age": 30}, "push_subscribe": "opted_in"}, now=now)
    True
    """
    program = build_program(rule_or_audience, now, semantics)
    return program.decide(program.leaf_results(profile))
