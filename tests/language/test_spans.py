"""Spans: the frozen value every node and diagnostic carries (built by its own
``__init__``), and the spans the builder makes from runs of tokens."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest
from lark.exceptions import UnexpectedCharacters

from audience_dsl.language import grammar
from audience_dsl.language.parts import token_span, tokens_span
from audience_dsl.source import Span
from tests.helpers import case_texts


def test_a_span_holds_its_six_fields_and_stays_a_frozen_dataclass() -> None:
    span = Span(3, 9, 1, 4, 2, 1)
    assert (span.start, span.end, span.line, span.column, span.end_line, span.end_column) == (
        3, 9, 1, 4, 2, 1,
    )  # fmt: skip
    assert span == Span(start=3, end=9, line=1, column=4, end_line=2, end_column=1)
    assert span != Span(3, 9, 1, 4, 2, 2)
    assert hash(span) == hash(Span(3, 9, 1, 4, 2, 1))
    assert repr(span) == "Span(start=3, end=9, line=1, column=4, end_line=2, end_column=1)"
    assert [f.name for f in dataclasses.fields(Span)] == [
        "start", "end", "line", "column", "end_line", "end_column",
    ]  # fmt: skip
    assert dataclasses.replace(span, end=10) == Span(3, 10, 1, 4, 2, 1)
    assert pickle.loads(pickle.dumps(span)) == span
    assert copy.deepcopy(span) == span
    with pytest.raises(dataclasses.FrozenInstanceError):
        span.start = 0  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 3 required positional arguments"):
        Span(1, 2, 3)  # type: ignore[call-arg]
    assert not hasattr(span, "__dict__")


def test_the_span_of_a_run_of_tokens_is_the_cover_of_their_spans() -> None:
    """``tokens_span(first, last)`` makes in one span what covering the two makes in three."""
    checked = 0
    for text in [*case_texts(), 'a = 1 and\n  b = "x"  # why\n  and c', "x\n\n=\n2"]:
        try:
            tokens = list(grammar.lex(text))
        except UnexpectedCharacters:  # a case of a text that is not a rule
            continue
        for i, first in enumerate(tokens[:40]):
            for last in tokens[i : i + 40]:
                assert tokens_span(first, last) == token_span(first).cover(token_span(last))
                checked += 1
    assert checked > 1000
