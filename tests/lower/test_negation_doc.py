"""docs/negation.md holds the complement table, and this test checks it against the code:
each row is what lower.negate() really does with one condition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audience_dsl import ast, parse
from audience_dsl.lower import DEFAULT, Options, _Refusal, negate
from audience_dsl.semantics import DOCUMENTED_MISSING, REFUSED

DOC = Path(__file__).resolve().parents[2] / "docs" / "negation.md"

EXAMPLES = [
    'x = "v"', 'x != "v"', "x = 5", "x = 0", "x != 5", "x > 3", "x >= 3", "x < 3", "x <= 3",
    "x = true", "x = false", "x != true", "x ~ /r/", "x !~ /r/", 'x contains "v"',
    'x does not contain "v"', "x exists", "x does not exist", "push is opted_in",
    "email is not unsubscribed", "x < 2 days", "x > 2 days", "x < 2 days from now",
    "x > 2 days from now", "x after 2024-01-01", "x before 2024-01-01",
    "last_used_app after 2024-01-01", "last_used_app before 2024-01-01",
    'x is any of ("a", "b")', 'x is none of ("a", "b")', 'x contains any of ("a", "b")',
]  # fmt: skip
WITH_LISTS = ['x = "v"', 'x != "v"']


def _shown(node: ast.Node) -> str:
    if isinstance(node, ast.AllOf | ast.AnyOf):
        joiner = " and " if isinstance(node, ast.AllOf) else " or "
        parts = [
            f"({_shown(child)})" if isinstance(child, ast.AllOf | ast.AnyOf) else _shown(child)
            for child in node.children
        ]
        return joiner.join(parts)
    if isinstance(node, ast.Attribute):
        if node.value is None:
            return f"`{node.comparison}`"
        value = list(node.value) if isinstance(node.value, tuple) else node.value
        return f"`{node.comparison} {json.dumps(value)}`"
    if isinstance(node, ast.Subscription):
        return f"`{node.comparison} {node.state}`"
    raise AssertionError(node)


def _why(leaf: ast.Node, result: ast.Node) -> str:
    if isinstance(result, ast.AllOf | ast.AnyOf):
        return (
            "pinned: Braze does not document how the complement treats users without the attribute"
        )
    if isinstance(result, ast.Attribute) and result.comparison in DOCUMENTED_MISSING:
        return "documented complement, users without the attribute included"
    return "documented complement"


def _row(text: str, options: Options) -> str:
    leaf = parse(text).expr
    assert isinstance(leaf, ast.Attribute | ast.Subscription | ast.LastUsedApp)
    try:
        result = negate(leaf, None, options)
    except _Refusal as refusal:
        return f"| `not ({text})` | refused | {refusal.diagnostic.message.split(': ', 1)[1]} |"
    return f"| `not ({text})` | {_shown(result)} | {_why(leaf, result)} |"


def table() -> str:
    header = "| rule | compiles to | why |\n| --- | --- | --- |"
    rows = [_row(text, DEFAULT) for text in EXAMPLES]
    lists = Options(list_comparisons=True)
    rows += [
        _row(text, lists).replace(" |", " (with list comparisons) |", 1) for text in WITH_LISTS
    ]
    return "\n".join([header, *rows])


def test_the_doc_holds_the_table_the_code_implements() -> None:
    expected = table()
    assert expected in DOC.read_text(encoding="utf-8"), (
        "docs/negation.md is out of date; its table should be:\n\n" + expected
    )


@pytest.mark.parametrize("comparison", sorted(REFUSED))
def test_every_refused_comparison_has_a_refused_row(comparison: ast.Comparison) -> None:
    rows = [
        _row(text, DEFAULT)
        for text in EXAMPLES
        if getattr(parse(text).expr, "comparison", None) is comparison
    ]
    assert rows and all("| refused |" in row for row in rows)


def test_every_comparison_the_language_writes_has_a_row() -> None:
    written = {getattr(parse(text).expr, "comparison", None) for text in EXAMPLES}
    assert written >= set(ast.Comparison)
