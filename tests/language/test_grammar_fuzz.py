"""Text drawn from the grammar itself reaches compile and format: only our errors escape.

The strategies in :mod:`audience_dsl.strategies` draw rules that are meant to compile;
this draws every sentence shape ``grammar/audience.lark`` allows (keywords spelled out,
padded with spaces, since the lexer reads them as names), valid or not, so a crash in a
corner of the builder that no hand-written strategy reaches shows up here.
"""

from __future__ import annotations

import contextlib
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

import audience_dsl
from audience_dsl.errors import AudienceError, AudienceWarning
from audience_dsl.language.grammar import grammar_text
from audience_dsl.language.names import KEYWORDS


def _keyword_strategies() -> dict[str, st.SearchStrategy[str]]:
    spelled: dict[str, list[str]] = {}
    for word, kind in KEYWORDS.items():
        spelled.setdefault(kind, []).append(word)
    return {
        kind: st.sampled_from(sorted(words))
        .flatmap(lambda w: st.sampled_from([w, w.upper(), w.capitalize()]))
        .map(lambda w: f" {w} ")
        for kind, words in spelled.items()
    }


_GRAMMAR = Lark(grammar_text(), start="start", parser="lalr", lexer="basic")
_EXPLICIT = _keyword_strategies() | {
    # Words that mean something in one place only, so that durations and states occur.
    "NAME": st.sampled_from(
        ["x", "age", "days", "week", "set", "opted_in", "of", "hours", "a.b", "android"]
    ).map(lambda w: f" {w} "),
}
_TEXTS = from_lark(_GRAMMAR, explicit=_EXPLICIT)


def _only_our_errors(call: object, text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudienceWarning)
        with contextlib.suppress(AudienceError):
            call(text)  # type: ignore[operator]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXTS)
def test_compile_and_format_raise_only_our_errors(text: str) -> None:
    _only_our_errors(audience_dsl.compile, text)
    _only_our_errors(audience_dsl.format, text)


@pytest.mark.parametrize(
    "text", ["last_used_app", "not last_used_app", "x = 1 or last_used_app", "!LAST_USED_APP"]
)
@pytest.mark.parametrize("call", [audience_dsl.compile, audience_dsl.format])
def test_a_bare_last_used_app_is_a_syntax_error_at_the_keyword(text: str, call: object) -> None:
    with pytest.raises(audience_dsl.AudienceSyntaxError) as caught:
        call(text)  # type: ignore[operator]
    error = caught.value
    assert "built-in filter" in str(error)
    assert error.column == text.lower().index("last_used_app") + 1
    assert "`last_used_app`" in str(error)  # the backtick spelling for a custom attribute
