"""Regexes run on users' data in bounded time: RE2 when installed, a shape test otherwise."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import audience_dsl
from audience_dsl import AudienceError
from audience_dsl.evaluator import regexes
from audience_dsl.evaluator.regexes import BoundedRegexError, compile_bounded

NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
EVIL = "^(a+)+$"


def _finishes(work: object, seconds: float) -> bool:
    """Whether ``work()`` returns within ``seconds`` (a backtracking engine would need
    longer than the age of the universe for the inputs below, so this is not a timing
    test: it only tells linear from exponential)."""
    done = threading.Event()

    def run() -> None:
        work()  # type: ignore[operator]
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(seconds)


def test_the_linear_engine_is_installed_for_the_tests() -> None:
    assert regexes.has_linear_engine()


def test_a_catastrophic_pattern_answers_at_once() -> None:
    users = [{"custom_attributes": {"name": "a" * n + "!"}} for n in (28, 64, 4096)]
    result: list[audience_dsl.Preview] = []

    def work() -> None:
        result.append(audience_dsl.preview(f"name ~ /{EVIL}/", users, now=NOW))

    assert _finishes(work, 30.0)
    assert (result[0].total, result[0].matched) == (3, 0)
    assert audience_dsl.evaluate(f"name ~ /{EVIL}/", {"custom_attributes": {"name": "AAA"}},
                                 now=NOW)  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [("^ab", "ABc", True), ("b$", "ab", True), ("x", "ab", False), ("[0-9]{3}", "a123", True),
     ("é", "É", True), ("^$", "", True), ("a|b", "cb", True)],
)  # fmt: skip
def test_matching_is_a_case_insensitive_search(pattern: str, value: str, expected: bool) -> None:
    assert (compile_bounded(pattern)(value) is not None) is expected
    assert (compile_bounded(pattern, engine=None)(value) is not None) is expected


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)b", "(?<!a)b"])
def test_what_re2_cannot_run_is_refused_as_such(pattern: str) -> None:
    with pytest.raises(BoundedRegexError, match="linear-time engine"):
        compile_bounded(pattern)
    with pytest.raises(AudienceError, match="cannot be evaluated"):
        audience_dsl.evaluate(f"name ~ /{pattern}/", {"custom_attributes": {"name": "aa"}},
                              now=NOW)  # fmt: skip


def test_an_invalid_pattern_is_reported_as_invalid() -> None:
    with pytest.raises(BoundedRegexError, match="invalid regular expression"):
        compile_bounded("(a")


@pytest.mark.parametrize(
    ("pattern", "why"),
    [(EVIL, "quantifier inside"), ("(a|aa)*$", "alternation inside"), ("(a*)*", "quantifier"),
     (r"(a)\1", "backreference"), ("(?=a)", "lookaround"), ("a.*b.*c.*d", "unbounded")],
)  # fmt: skip
def test_without_re2_risky_shapes_are_refused(pattern: str, why: str) -> None:
    with pytest.raises(BoundedRegexError, match=why) as caught:
        compile_bounded(pattern, engine=None)
    assert "re2" in str(caught.value)


@pytest.mark.parametrize("pattern", ["^abc", "a+b", "(ab)+", "[a-z]+@x\\.com$", "a{2,5}", ".*x.*"])
def test_without_re2_simple_shapes_run(pattern: str) -> None:
    search = compile_bounded(pattern, engine=None)
    assert _finishes(lambda: search("a" * 2_000 + "!"), 30.0)


def test_without_re2_the_evaluator_refuses_the_catastrophic_pattern(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(regexes, "_re2", None)
    with pytest.raises(AudienceError, match="re2"):
        audience_dsl.preview(f"name ~ /{EVIL}/", [{"custom_attributes": {"name": "aa"}}], now=NOW)


# ---- the same meaning whichever engine runs the pattern ----------------------------------------

# Where RE2, given a pattern as written, answers otherwise than Python's engine.
DIVERGENT = [
    (r"^\S+$", "A\n"),  # `$` before a final line break
    (r"^a$", "a\n"),
    (r"\d", "٣"),  # a digit outside ASCII
    (r"^\w+$", "\u017f"),  # a letter outside ASCII
    ("i", "\u0130"),  # case folding that RE2 does not do
    ("k", "\u212a"),  # the Kelvin sign
    (r"\bnaïve\b", "a naïve b"),  # a word boundary around letters outside ASCII
    (r"\s", "\x1c"),  # Python's white space
    ("(?-i:k)x", "kX"),  # inline flags
]


@pytest.mark.parametrize(("pattern", "value"), DIVERGENT)
def test_the_answer_does_not_depend_on_the_engine(pattern: str, value: str) -> None:
    expected = re.search(pattern, value, re.IGNORECASE) is not None
    assert (compile_bounded(pattern)(value) is not None) is expected
    assert (compile_bounded(pattern, engine=None)(value) is not None) is expected


# Letters whose case folding differs between engines (sigma, long s, dotted and dotless i,
# the Kelvin sign), digits and white space outside ASCII, line breaks.
ALPHABET = "aAkKsSiIxXyYéÉǅǆΣς٣ \n\t\x1c_-0\u03c3\u017f\u0130\u0131\u212a"


@settings(max_examples=300, deadline=None)
@given(
    pattern=st.sampled_from(
        [r"\w+", r"\d", r"\s", ".", "^a", "a$", "[a-z]+", "k", "s", "i", "[^0-9]", "é",
         r"\W", "(?a)\\w", "(?-i:k)", "ǅ", "Σ", "^$", "x|y$", r"\bs", r"^\S+$", "a{2}"]
    ),
    value=st.text(alphabet=st.sampled_from(ALPHABET), max_size=6),
)  # fmt: skip
def test_the_evaluator_searches_as_python_does(pattern: str, value: str) -> None:
    expected = re.search(pattern, value, re.IGNORECASE) is not None
    assert (compile_bounded(pattern)(value) is not None) is expected
