"""The formatter: canonical lines stay put, comments stay with their conditions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import audience_dsl
from audience_dsl.errors import AudienceSyntaxError
from audience_dsl.language import ast
from audience_dsl.language.formatter import format_rule
from audience_dsl.language.printer import print_rule
from tests.printing_strategies import surface_exprs

CANONICAL = [
    line
    for line in (Path(__file__).parents[1] / "cases" / "canonical.txt")
    .read_text(encoding="utf-8")
    .splitlines()
    if line
]


def test_enough_canonical_lines() -> None:
    assert len(CANONICAL) >= 60


@pytest.mark.parametrize("line", CANONICAL)
def test_canonical_lines_print_back_unchanged(line: str) -> None:
    assert format_rule(line) == line
    assert print_rule(audience_dsl.parse(line)) == line


KITCHEN_SINK = """\
# Who gets the spring campaign.
eye_color == 'blue'   // the main signal
AND ( last_purchase < 2 days ago # recent buyers
   || PUSH IS opted_in )
&& !(
  // grown-ups only
  age between 18 and 30 || region in ('US', 'CA',  # North America
  "MX")
)
and tags contains any ("a", "b") and `Favorite Color` is set and score >= 2.50
&& last_used_app > 2019-07-22T13:17:55+0000 and note ~ '^[a-z]+/x$' # end of line
# a last word
"""

KITCHEN_SINK_FORMATTED = """\
# Who gets the spring campaign.
eye_color = "blue"  // the main signal
and (
  last_purchase < 2 days  # recent buyers
  or push is opted_in
)
and not (
  // grown-ups only
  age between 18 and 30 or region in ("US", "CA", "MX")  # North America
)
and tags contains any ("a", "b")
and `Favorite Color` exists
and score >= 2.5
and last_used_app after 2019-07-22T13:17:55+0000
and note ~ /^[a-z]+\\/x$/  # end of line
# a last word"""


def test_kitchen_sink_golden() -> None:
    assert format_rule(KITCHEN_SINK) == KITCHEN_SINK_FORMATTED
    assert format_rule(KITCHEN_SINK_FORMATTED) == KITCHEN_SINK_FORMATTED
    assert audience_dsl.parse(KITCHEN_SINK_FORMATTED).expr == audience_dsl.parse(KITCHEN_SINK).expr


def test_narrow_width() -> None:
    out = format_rule("a = 1 and (b = 2 or c = 3)  # c3", width=15)
    assert out == "a = 1\nand (\n  b = 2\n  or c = 3  # c3\n)"
    assert format_rule(out, width=15) == out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a = 1 # one\n", "a = 1  # one"),
        ("# head\na = 1", "# head\na = 1"),
        ("a = 1 and b = 2 # both", "a = 1 and b = 2  # both"),
        ("a = 1 # one\nand b = 2", "a = 1  # one\nand b = 2"),
        ("a = 1 and # dangling\nb = 2", "a = 1\n# dangling\nand b = 2"),
        ("(  # group\na = 1 or b = 2) and c = 3", "# group\n(a = 1 or b = 2) and c = 3"),
        ("a = 1\n# tail one\n// tail two", "a = 1\n# tail one\n// tail two"),
        ("a = '#not a comment' // but this is", 'a = "#not a comment"  // but this is'),
        ("a ~ /x#y/ # c", "a ~ /x#y/  # c"),
        ("a in (1, # first\n 2, # second\n 3)", "a in (1, 2, 3)  # first\n# second"),
    ],
)
def test_comments_stay_with_their_conditions(text: str, expected: str) -> None:
    assert format_rule(text) == expected
    assert format_rule(expected) == expected


def test_syntax_errors_are_ours() -> None:
    with pytest.raises(AudienceSyntaxError):
        format_rule("a = = 1  # oops")


def _comments(text: str) -> list[str]:
    return re.findall(r"(?:# before|// after) \d+", text)


@st.composite
def _commented_rules(draw: st.DrawFn) -> str:
    expr = draw(surface_exprs())
    lines = print_rule(expr, width=draw(st.integers(10, 60))).split("\n")
    out: list[str] = []
    for i, line in enumerate(lines):
        if draw(st.booleans()):
            out.append(f"# before {i}")
        out.append(line + (f"  // after {i}" if draw(st.booleans()) else ""))
    return "\n".join(out)


@settings(max_examples=200)
@given(_commented_rules(), st.integers(20, 100))
def test_format_is_idempotent_and_keeps_comments(text: str, width: int) -> None:
    once = format_rule(text, width=width)
    assert format_rule(once, width=width) == once
    assert _comments(once) == _comments(text)
    assert audience_dsl.parse(once).expr == audience_dsl.parse(text).expr


@settings(max_examples=100)
@given(surface_exprs())
def test_format_of_printed_text_is_the_printed_text(expr: ast.Expr) -> None:
    text = print_rule(expr)
    assert format_rule(text) == text


LET_RULE = (
    "# who is active\n"
    "let active = last_purchase < 30 days; # recent buyers\n"
    "let VIP=spend>1000 AND active // big\n"
    "or x;\n"
    "active and VIP"
)


def test_let_definitions_are_kept_with_their_comments() -> None:
    from audience_dsl import compile as compile_rule
    from audience_dsl import format as format_rule_text

    formatted = format_rule_text(LET_RULE)
    assert formatted == (
        "# who is active\n"
        "let active = last_purchase < 30 days;  # recent buyers\n"
        "let VIP = spend > 1000 and active  // big\n"
        "  or x;\n"
        "active and VIP"
    )
    assert format_rule_text(formatted) == formatted
    assert compile_rule(formatted) == compile_rule(LET_RULE)
