"""Any input either compiles or fails with our error; depth and size never crash."""

from __future__ import annotations

import json
import random
import warnings

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import audience_dsl
from audience_dsl.braze.codec import MAX_DEPTH
from audience_dsl.language import ast
from tests.helpers import load_cases

VALID = [c["dsl"] for c in load_cases() if "json" in c and not c.get("params")]

ALPHABET = st.sampled_from(
    [
        *"abcxyz_ `'\"/\\$#()!=<>~&|,.-:+0123459TZ\n\t",
        *("and", "or", "not", "in", "is", " days", " ago", "2019-07-22", "push", "email"),
        *("contains", "between", "exists", "null", "true", "\u00e9", "\x00", "\ud7ff"),
    ]
)  # fmt: skip


def _compile_or_our_error(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = audience_dsl.compile(text)
        except audience_dsl.AudienceError as exc:
            assert str(exc)  # the diagram renders
            return
    json.dumps(result)  # whatever compiles serializes


@given(st.text())
@example("")
@example("\x00")
@example("x = 99999999999999999999999999.5")
def test_arbitrary_text(text: str) -> None:
    _compile_or_our_error(text)


@given(st.lists(ALPHABET, max_size=30).map("".join))
def test_arbitrary_token_soup(text: str) -> None:
    _compile_or_our_error(text)


@given(st.sampled_from(VALID), st.randoms(use_true_random=False), st.integers(1, 4))
def test_mutated_valid_rules(text: str, rnd: random.Random, edits: int) -> None:
    chars = list(text)
    for _ in range(edits):
        choice = rnd.randrange(4)
        position = rnd.randrange(len(chars) + 1)
        if choice == 0 and chars:
            del chars[min(position, len(chars) - 1)]
        elif choice == 1:
            chars.insert(position, rnd.choice("()\"'`/$=<>!~ &|,#\n"))
        elif choice == 2 and chars:
            chars.insert(position, chars[rnd.randrange(len(chars))])
        else:
            chars[position:position] = list(rnd.choice([" and ", " or ", " not ", " in ", "7"]))
    _compile_or_our_error("".join(chars))


@given(st.sampled_from(VALID))
def test_every_valid_case_compiles_twice_to_the_same_json(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert audience_dsl.compile(text) == audience_dsl.compile(text)


# ---- depth and size ----------------------------------------------------------------------

N = 10_000


def test_ten_thousand_nested_parentheses() -> None:
    text = "(" * N + 'a = "b"' + ")" * N
    assert audience_dsl.compile(text) == audience_dsl.compile('a = "b"')


def test_ten_thousand_stacked_nots() -> None:
    assert audience_dsl.compile("not " * N + "a exists") == audience_dsl.compile("a exists")
    assert audience_dsl.compile("!" * (N + 1) + "a exists") == audience_dsl.compile(
        "a does not exist"
    )


def test_a_ten_thousand_term_chain() -> None:
    text = " and ".join(f"a{i} = {i}" for i in range(N))
    result = audience_dsl.compile(text)
    assert len(result["AND"]) == N
    assert result["AND"][-1]["custom_attribute"]["value"] == N - 1


def test_a_five_thousand_value_in_list() -> None:
    values = ", ".join(f'"v{i}"' for i in range(5000))
    result = audience_dsl.compile(f"a in ({values})")
    assert len(result["OR"]) == 5000


def test_ten_thousand_alternating_levels_fail_with_our_error() -> None:
    text = "".join(f"a{i} = 1 {'and' if i % 2 else 'or'} (" for i in range(N)) + "z = 1" + ")" * N
    with pytest.raises(audience_dsl.UnsupportedError) as info:
        audience_dsl.compile(text)
    assert f"more than {MAX_DEPTH} deep" in info.value.message
    rule = audience_dsl.parse(text)  # the AST itself is fine at any depth
    assert rule == audience_dsl.parse(text)
    assert len(repr(rule)) < 1000


def test_the_deepest_allowed_audience_compiles_and_serializes() -> None:
    depth = MAX_DEPTH
    text = "".join(f"a{i} = 1 {'and' if i % 2 else 'or'} (" for i in range(depth)) + "z = 1"
    text += ")" * depth
    json.dumps(audience_dsl.compile(text))


def test_deep_hand_built_trees_compare_and_hash_without_recursion() -> None:
    leaf = ast.Attribute(name="a", comparison=ast.Comparison.EXISTS)
    left: ast.Expr = leaf
    right: ast.Expr = leaf
    for i in range(N):
        cls = ast.And if i % 2 else ast.Or
        other = ast.Attribute(name=f"b{i}", comparison=ast.Comparison.EXISTS)
        left = cls(children=(other, left))
        right = cls(children=(other, right))
    assert left == right
    assert hash(left) == hash(right)
    assert left != ast.Not(operand=right)
