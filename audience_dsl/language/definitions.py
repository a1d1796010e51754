"""Named sub-rules: ``let name = rule;`` definitions expanded into the rule, with
redefinitions and cycles reported."""

from __future__ import annotations

import warnings

from audience_dsl.errors import (
    AudienceSyntaxError,
    AudienceWarning,
    Label,
    user_stacklevel,
)
from audience_dsl.language import ast
from audience_dsl.language.parts import Definition, Program, fail


def expand_definitions(program: Program) -> ast.Expr:
    """The rule with every bare name that a ``let`` defines replaced by its definition."""
    if not program.definitions:
        return program.expr
    defined: dict[str, Definition] = {}
    for definition in program.definitions:
        new = definition.name
        earlier = defined.get(new.text)
        if earlier is not None:
            fail(
                AudienceSyntaxError,
                f"`{new.text}` is defined twice",
                new.span,
                "defined again here",
                "give each sub-rule its own name",
                (Label(earlier.name.span, "first defined here"),),
                code="let-defined-twice",
            )
        defined[new.text] = definition

    def uses(expr: ast.Node) -> list[ast.Attribute]:
        return [
            node
            for node in ast.walk(expr)
            if isinstance(node, ast.Attribute) and node.bare and node.name in defined
        ]

    # Order the definitions so each comes after those it uses; a cycle is an error.
    order: list[str] = []
    state: dict[str, int] = {}  # 1: being visited, 2: done
    for root in defined:
        if state.get(root) == 2:
            continue
        stack: list[tuple[str, list[ast.Attribute]]] = [(root, uses(defined[root].expr))]
        state[root] = 1
        while stack:
            name, pending = stack[-1]
            if not pending:
                stack.pop()
                state[name] = 2
                order.append(name)
                continue
            use = pending.pop()
            if state.get(use.name) == 1:
                path = [n for n, _ in stack]
                cycle = " -> ".join([*path[path.index(use.name) :], use.name])
                fail(
                    AudienceSyntaxError,
                    f"the sub-rules refer to each other in a cycle: {cycle}",
                    use.name_span or use.span or defined[use.name].name.span,
                    "refers back here",
                    "a sub-rule can use other sub-rules, but not itself",
                    code="let-cycle",
                )
            if state.get(use.name) != 2:
                state[use.name] = 1
                stack.append((use.name, uses(defined[use.name].expr)))

    used = {use.name for use in uses(program.expr)}
    for definition in defined.values():
        used.update(use.name for use in uses(definition.expr))
    for definition in defined.values():
        if definition.name.text not in used:
            span = definition.name.span
            warnings.warn(
                f"{span.line}:{span.column}: the sub-rule `{definition.name.text}` is defined but "
                "never used; use it by its name, or remove the `let`",
                AudienceWarning,
                stacklevel=user_stacklevel(),
            )

    expanded: dict[str, ast.Node] = {}

    def substitute(node: ast.Node) -> ast.Node:
        if isinstance(node, ast.Attribute) and node.bare and node.name in expanded:
            return expanded[node.name]
        return node

    for each in order:
        expanded[each] = ast.map_leaves(defined[each].expr, substitute)
    result: ast.Expr = ast.map_leaves(program.expr, substitute)  # type: ignore[assignment]
    return result
