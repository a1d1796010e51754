"""The shipped LALR tables and the lean parse loop (audience_dsl.language.lalr).

The tables module must be the grammar's (else: ``python -m audience_dsl.language.lalr``),
and the loop must do exactly what Lark's own loop does with them, on every rule of the
case tables, good or bad.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import Any

import lark
import pytest
from lark import Lark
from lark.exceptions import UnexpectedInput
from lark.parsers.lalr_analysis import Shift

from audience_dsl.language import _tables, grammar, lalr
from audience_dsl.language.builder import Builder
from audience_dsl.language.parts import Problem
from tests.helpers import case_texts

REGENERATE = "stale: run `python -m audience_dsl.language.lalr` and commit the result"


def test_the_shipped_tables_are_built_from_the_grammar() -> None:
    text = grammar.grammar_text()
    assert hashlib.sha256(text.encode()).hexdigest() == _tables.GRAMMAR_SHA256, REGENERATE


def _same_tables(loaded: Lark, fresh: Lark) -> None:
    """The two parse tables are one automaton up to the numbering of states."""
    a = loaded.parser.parser.parser.parse_table
    b = fresh.parser.parser.parser.parse_table

    def rule_key(rule: Any) -> tuple[str, tuple[str, ...], str]:
        return str(rule.origin.name), tuple(s.name for s in rule.expansion), str(rule.alias)

    pairs = deque([(a.start_states["start"], b.start_states["start"])])
    seen = {pairs[0]}
    assert a.end_states["start"] != a.start_states["start"]
    while pairs:
        x, y = pairs.popleft()
        row_a, row_b = a.states[x], b.states[y]
        assert set(row_a) == set(row_b), (x, y)
        for symbol, (action_a, target_a) in row_a.items():
            action_b, target_b = row_b[symbol]
            assert (action_a is Shift) == (action_b is Shift), (x, symbol)
            if action_a is Shift:
                if (target_a, target_b) not in seen:
                    seen.add((target_a, target_b))
                    pairs.append((target_a, target_b))
            else:
                assert rule_key(target_a) == rule_key(target_b), (x, symbol)
    assert len({x for x, _ in seen}) == len(a.states) == len(b.states)


def test_the_shipped_tables_match_a_fresh_build() -> None:
    if ".".join(lark.__version__.split(".")[:2]) != _tables.LARK:
        pytest.skip("the tables were written by another Lark series; the parser builds its own")
    loaded = grammar.get_parser()
    fresh = grammar.build(grammar.grammar_text())
    _same_tables(loaded, fresh)
    assert [t.name for t in loaded.terminals] == [t.name for t in fresh.terminals]


def test_the_shipped_tables_are_loaded_not_built() -> None:
    if ".".join(lark.__version__.split(".")[:2]) != _tables.LARK:
        pytest.skip("another Lark series")

    def build() -> Lark:
        raise AssertionError("built the parser although the tables are current")

    loaded = lalr.load(grammar.grammar_text(), grammar.FastLexer, Builder(), build)
    assert loaded.parse('a = 1 and push is opted_in') is not None


@pytest.mark.parametrize("change", ["grammar", "lark", "unreadable"])
def test_tables_for_another_grammar_or_lark_or_unreadable_are_not_used(
    change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = grammar.grammar_text()
    if change == "grammar":
        text += "\n// a changed grammar\n"
    elif change == "lark":
        monkeypatch.setattr(_tables, "LARK", "0.1")
    else:
        monkeypatch.setattr(_tables, "DATA", {"parser": {}, "options": {}})
    built: list[bool] = []

    def build() -> Lark:
        built.append(True)
        return grammar.build(text)

    lalr.load(text, grammar.FastLexer, Builder(), build)
    assert built == [True]


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        return "ok", run()
    except Problem as problem:
        return "problem", (problem.kind, problem.diagnostic)
    except (lalr.Rejected, UnexpectedInput):
        return "not a rule", None


@pytest.mark.parametrize("text", case_texts())
def test_the_lean_loop_does_what_larks_loop_does(text: str) -> None:
    lark_parser = grammar.get_parser()
    driver = lalr.Driver(lark_parser)
    lexer = lark_parser.parser.lexer
    ours = _outcome(lambda: driver.run(grammar.tokens(text, lexer.pattern, lexer.ignore)))
    theirs = _outcome(lambda: lark_parser.parse(text))
    assert ours == theirs


def test_the_case_tables_hold_good_and_bad_rules() -> None:
    outcomes = {_outcome(lambda t=t: grammar.parse_text(t))[0] for t in case_texts()}  # type: ignore[misc]
    assert outcomes == {"ok", "problem", "not a rule"}
