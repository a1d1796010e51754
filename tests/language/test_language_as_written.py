"""The language as people write it: their phrasings (each the one exact Braze filter,
checked against the reference evaluator around every boundary), the first-try rate of
rules written as marketers and engineers write them, hints that never lie, every syntax
error at once, and text as people have it (BOM, CR/CRLF, bytes that are not UTF-8)."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import audience_dsl
from audience_dsl import evaluate, explain
from audience_dsl.errors import AudienceError, AudienceSyntaxError, AudienceWarning, RuleError
from tests.helpers import load_cases, same_json

NOW = datetime(2024, 6, 15, 12, 0, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def _compile(text: str | bytes, **options: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return audience_dsl.compile(text, **options)


def _profile(value: object) -> dict[str, Any]:
    return {"custom_attributes": {} if value is _MISSING else {"x": value}}


_MISSING = object()


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def time_profiles(days: int) -> list[object]:
    """Values of `x` around every boundary of an `N days` filter: just before, on and
    just after N days ago, now and N days from now; far past and future; missing; not a
    time."""
    points = [NOW - days * DAY, NOW, NOW + days * DAY]
    values: list[object] = []
    for point in points:
        values.extend(_iso(point + offset) for offset in (-SECOND, timedelta(0), SECOND))
    values.extend([_iso(NOW - 400 * DAY), _iso(NOW + 400 * DAY), _MISSING, None, "", "abc"])
    return values


def _matches(rule: str | dict[str, Any], value: object) -> bool:
    return evaluate(rule, _profile(value), now=NOW)


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# ---- 1. phrasings: each the one exact filter ------------------------------------------------

# (phrase, the symbolic form it means, what it means for a present instant t)
TIME_PHRASES: list[tuple[str, str, Callable[[datetime, int], bool]]] = [
    ("x more than {n} days ago", "x > {n} days", lambda t, n: t < NOW - n * DAY),
    ("x less than {n} days ago", "x < {n} days", lambda t, n: NOW - n * DAY < t <= NOW),
    ("x in the last {n} days", "x < {n} days", lambda t, n: NOW - n * DAY < t <= NOW),
    ("x within the last {n} days", "x < {n} days", lambda t, n: NOW - n * DAY < t <= NOW),
    ("x in the past {n} days", "x < {n} days", lambda t, n: NOW - n * DAY < t <= NOW),
    ("x in last {n} days", "x < {n} days", lambda t, n: NOW - n * DAY < t <= NOW),
    ("x is in the last {n} days", "x < {n} days", lambda t, n: NOW - n * DAY < t <= NOW),
    ("x in the next {n} days", "x < {n} days from now", lambda t, n: NOW <= t < NOW + n * DAY),
    (
        "x within the next {n} days",
        "x < {n} days from now",
        lambda t, n: NOW <= t < NOW + n * DAY,
    ),
    (
        "x less than {n} days from now",
        "x < {n} days from now",
        lambda t, n: NOW <= t < NOW + n * DAY,
    ),
    ("x more than {n} days from now", "x > {n} days from now", lambda t, n: t > NOW + n * DAY),
    ("x before {n} days ago", "x > {n} days", lambda t, n: t < NOW - n * DAY),
    ("x is before {n} days ago", "x > {n} days", lambda t, n: t < NOW - n * DAY),
    ("x after {n} days from now", "x > {n} days from now", lambda t, n: t > NOW + n * DAY),
]


@pytest.mark.parametrize("days", [1, 7, 30])
@pytest.mark.parametrize(("phrase", "symbolic", "meaning"), TIME_PHRASES)
def test_time_phrase_is_the_exact_filter(
    phrase: str, symbolic: str, meaning: Callable[[datetime, int], bool], days: int
) -> None:
    text = phrase.format(n=days)
    got = _compile(text)
    assert same_json(got, _compile(symbolic.format(n=days))), text
    for value in time_profiles(days):
        instant = _instant(value)
        expected = instant is not None and meaning(instant, days)
        assert _matches(got, value) is expected, (text, value)


@pytest.mark.parametrize(
    ("phrase", "days"),
    [
        ("x in the last week", 7),
        ("x in the past day", 1),
        ("x within the last 2 weeks", 14),
        ("x more than 3 weeks ago", 21),
        ("x in the next week", 7),
    ],
)
def test_weeks_and_a_single_unit(phrase: str, days: int) -> None:
    (value,) = {leaf["value"] for leaf in [_compile(phrase)["custom_attribute"]]}
    assert value == days


@pytest.mark.parametrize(
    ("phrase", "symbolic"),
    [
        ("x is blank", "x does not exist"),
        ("x is not blank", "x exists"),
        ("x is empty", "x does not exist"),
        ("x is not empty", "x exists"),
        ('x in ["a", "b"]', 'x in ("a", "b")'),
        ('x not in ["a", "b",]', 'x not in ("a", "b")'),
        ('x is one of ["a", "b"]', 'x in ("a", "b")'),
        ('x is not one of ("a", "b")', 'x not in ("a", "b")'),
        ('x contains any ["a", "b"]', 'x contains any ("a", "b")'),
        ('x contains all ["a", "b"]', 'x contains all ("a", "b")'),
        ('x is any of ["a", "b"]', 'x is any of ("a", "b")'),
        ('x is none of ["a"]', 'x is none of ("a")'),
        ('x contains any of ["a", "b"]', 'x contains any of ("a", "b")'),
        ('x is "a"', 'x = "a"'),
        ('x is not "a"', 'x != "a"'),
        ("x is 3", "x = 3"),
        ("x equals 3", "x = 3"),
        ("x is equal to 3", "x = 3"),
        ("x is not equal to 3", "x != 3"),
        ("x greater than 3", "x > 3"),
        ("x is more than 3", "x > 3"),
        ("x over 3", "x > 3"),
        ("x above 3", "x > 3"),
        ("x less than 3", "x < 3"),
        ("x fewer than 3", "x < 3"),
        ("x under 3", "x < 3"),
        ("x below 3", "x < 3"),
        ("x at least 3", "x >= 3"),
        ("x is at most 3", "x <= 3"),
        ("x is not greater than 3", "not (x > 3)"),
        ('x has "v"', 'x contains "v"'),
        ('x does not start with "v"', "x !~ /^v/"),
        ('x not starts with "v"', "x !~ /^v/"),
        ('x does not end with "v"', "x !~ /v$/"),
        ('x does not have "v"', 'x does not contain "v"'),
        ("x does not equal 3", "x != 3"),
        ("x not more than 3", "not (x > 3)"),
        ("x older than 30 days", "x > 30 days"),
        ("x newer than 7 days", "x < 7 days"),
        ("x younger than 30", "x < 30"),
        ("x is after 2024-01-01", "x after 2024-01-01"),
        ("x is within 3 days", "x within 3 days"),
    ],
)
def test_word_phrase_is_its_symbolic_form(phrase: str, symbolic: str) -> None:
    assert same_json(_compile(phrase), _compile(symbolic)), phrase


@pytest.mark.parametrize(
    ("phrase", "pattern"),
    [
        ('x starts with "gmail"', "^gmail"),
        ('x ends with "@gmail.com"', "@gmail\\.com$"),
        ('x begins with "+1 (555)"', "^\\+1 \\(555\\)"),
        ('x startswith "a|b"', "^a\\|b"),
        ('x ends_with "$5.00"', "\\$5\\.00$"),
        ('x starts with "[x]{2}*?^/"', "^\\[x\\]\\{2\\}\\*\\?\\^\\/"),
        ('x ends with "back\\\\slash"', "back\\\\slash$"),
    ],
)
def test_starts_and_ends_with_are_anchored_escaped_regexes(phrase: str, pattern: str) -> None:
    leaf = _compile(phrase)["custom_attribute"]
    assert leaf["comparison"] == "matches_regex"
    assert leaf["value"] == pattern


_TEXT = st.text(alphabet="abcAB.$^*+?()[]{}|\\/ -@", max_size=6)


@settings(max_examples=300, deadline=None)
@given(prefix=_TEXT.filter(bool), value=st.one_of(_TEXT, st.integers(), st.none()))
def test_starts_and_ends_with_mean_what_they_say(prefix: str, value: object) -> None:
    """Case-insensitive by definition (Braze's regexes ignore case); never wider."""
    literal = json.dumps(prefix)
    for phrase, test in (
        (f"x starts with {literal}", lambda v: v.lower().startswith(prefix.lower())),
        (f"x ends with {literal}", lambda v: v.lower().endswith(prefix.lower())),
    ):
        expected = isinstance(value, str) and value != "" and test(value)
        assert _matches(_compile(phrase), value) is expected, (phrase, value)


@pytest.mark.parametrize(
    ("rule", "error", "hint"),
    [
        ("x after 30 days ago", "UnsupportedError", "`x < 30 days`"),
        ("x after 30 days", "UnsupportedError", "leaves out every time in the future"),
        ("x before 5 days from now", "UnsupportedError", "`x < 5 days from now`"),
        ("x starts with 3", "AudienceTypeError", 'x starts with "abc"'),
        ('x starts with ""', "UnsupportedError", "`x exists`"),
        ('x starts with ("a", "b")', "AudienceTypeError", "or"),
        ("x in the last 3 months", "UnsupportedError", "`90 days`"),
        ("x in the last 2 hours", "UnsupportedError", "days"),
        ("x in the lst 7 days", "AudienceSyntaxError", "did you mean `in the last"),
        ("x in the last 5 days from now", "AudienceSyntaxError", "`x in the next 5 days`"),
        ("x in the last", "AudienceSyntaxError", "`x in the last 7 days`"),
        ("x not in the last 7 days", "UnsupportedError", "`x > 7 days or x does not exist` if"),
        ('tags contians "vip"', "AudienceSyntaxError", 'did you mean `tags contains "vip"`?'),
        ("age grater than 3", "AudienceSyntaxError", "did you mean `age greater than 3`?"),
        ('plan is nine of ("a")', "AudienceSyntaxError", "did you mean `plan is none of"),
        ('x is not none of ("a")', "AudienceSyntaxError", "`x is any of (...)`"),
        ("x is gold", "AudienceSyntaxError", 'x is "gold"'),
    ],
)
def test_phrasings_still_refused_name_the_accepted_form(rule: str, error: str, hint: str) -> None:
    with pytest.raises(RuleError) as info:
        _compile(rule)
    assert type(info.value).__name__ == error, str(info.value)
    assert hint in info.value.hint, str(info.value)
    if not rule.startswith("x not in the last"):  # that one is lowering's refusal
        assert info.value.diagnostics[0].code, "every diagnostic of the language has a code"


# ---- the first-try corpus ------------------------------------------------------------------

FIRST_TRY = list(load_cases("first_try.jsonl"))


def test_first_try_rate() -> None:
    """Rules written as marketers and engineers write them: at least 95% compile, on the
    first try, to exactly the audience they mean; each one refused says the accepted form."""
    assert len(FIRST_TRY) >= 100
    first_try = 0
    for case in FIRST_TRY:
        try:
            got = _compile(case["dsl"], params=case.get("params"))
        except AudienceError as exc:
            assert "json" not in case, f"{case['dsl']!r}: {exc}"
            assert isinstance(exc, RuleError) and case["hint"] in exc.hint, str(exc)
            continue
        assert "json" in case, f"{case['dsl']!r} compiled, but must be refused"
        assert same_json(got, case["json"]), case["dsl"]
        first_try += 1
    rate = first_try / len(FIRST_TRY)
    assert rate >= 0.95, f"first-try rate {rate:.1%}"


# ---- 2. hints never lie ----------------------------------------------------------------------

_BACKTICKED = re.compile(r"`([^`]+)`")


def _proposals(hint: str, schema: dict[str, str] | None) -> list[str]:
    """The rules a hint proposes: the text between backticks that compiles."""
    found = []
    for candidate in _BACKTICKED.findall(hint):
        if " " not in candidate.strip():
            continue  # a word the hint quotes (`gold`), not a rule
        try:
            _compile(candidate, schema=schema)
        except AudienceError:
            continue
        found.append(candidate)
    return found


def _time(meaning: Callable[[datetime], bool]) -> Callable[[object], bool]:
    def test(value: object) -> bool:
        instant = _instant(value)
        return instant is not None and meaning(instant)

    return test


T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 2, 1, tzinfo=UTC)
DATE_VALUES: list[object] = [
    _iso(T0 - SECOND), _iso(T0), _iso(T0 + SECOND), _iso(T1 - SECOND), _iso(T1),
    _iso(T1 + SECOND), _MISSING, None, "abc",
]  # fmt: skip


# Each hint site that proposes a rule: (site, bad rule, values of x to try, what the text
# means, where the hint says its rule differs (None: nowhere), words the hint must use for
# that difference, schema).
HintCase = tuple[
    str,
    str,
    list[object],
    Callable[[object], bool],
    Callable[[object], bool] | None,
    str,
    dict[str, str] | None,
]
HINT_CASES: list[HintCase] = [
    (
        "comparisons.comparison_filter: `<=` with a duration",
        "x <= 7 days",
        time_profiles(7),
        _time(lambda t: NOW - 7 * DAY <= t <= NOW),
        lambda v: _instant(v) == NOW - 7 * DAY,
        "leaves out the instant exactly 7 days ago",
        None,
    ),
    (
        "comparisons.comparison_filter: `>=` with a duration",
        "x >= 7 days ago",
        time_profiles(7),
        _time(lambda t: t <= NOW - 7 * DAY),
        lambda v: _instant(v) == NOW - 7 * DAY,
        "leaves out the instant exactly 7 days ago",
        None,
    ),
    (
        "comparisons.comparison_filter: `<=` with a future duration",
        "x <= 3 days from now",
        time_profiles(3),
        _time(lambda t: NOW <= t <= NOW + 3 * DAY),
        lambda v: _instant(v) == NOW + 3 * DAY,
        "leaves out the instant exactly 3 days from now",
        None,
    ),
    (
        "comparisons.comparison_filter: `>=` with a future duration",
        "x >= 3 days from now",
        time_profiles(3),
        _time(lambda t: t >= NOW + 3 * DAY),
        lambda v: _instant(v) == NOW + 3 * DAY,
        "leaves out the instant exactly 3 days from now",
        None,
    ),
    (
        "comparisons.comparison_filter: `>=` with a date-time",
        "x >= 2024-01-01",
        DATE_VALUES,
        _time(lambda t: t >= T0),
        lambda v: _instant(v) == T0,
        "leaves out 2024-01-01 itself",
        None,
    ),
    (
        "comparisons.comparison_filter: `<=` with a date-time",
        "x <= 2024-01-01",
        DATE_VALUES,
        _time(lambda t: t <= T0),
        lambda v: _instant(v) == T0,
        "leaves out 2024-01-01 itself",
        None,
    ),
    (
        "builder.between: date-times",
        "x between 2024-01-01 and 2024-02-01",
        DATE_VALUES,
        _time(lambda t: T0 <= t <= T1),
        lambda v: _instant(v) in (T0, T1),
        "both bounds left out",
        None,
    ),
    (
        "phrasings.relative_after_before: after ... ago",
        "x after 7 days ago",
        time_profiles(7),
        _time(lambda t: t > NOW - 7 * DAY),
        lambda v: (_instant(v) or NOW) > NOW,
        "leaves out every time in the future",
        None,
    ),
    (
        "phrasings.relative_after_before: before ... from now",
        "x before 7 days from now",
        time_profiles(7),
        _time(lambda t: t < NOW + 7 * DAY),
        lambda v: (_instant(v) or NOW) < NOW,
        "leaves out every time in the past",
        None,
    ),
    (
        "phrasings.affix: empty text",
        'x starts with ""',
        ["", "a", "B", 3, True, _MISSING, None],
        lambda v: isinstance(v, str) and v != "",
        lambda v: not isinstance(v, str),
        "also takes values that are not strings",
        None,
    ),
    (
        "builder.is_: a name after `is`",
        "x is gold",
        ["gold", "Gold", "silver", 3, _MISSING, None],
        lambda v: v == "gold",
        None,
        "",
        None,
    ),
    (
        "syntax_errors.unexpected_token: unquoted string",
        "x = gold and y",
        ["gold", "Gold", "silver", 3, _MISSING, None],
        lambda v: v == "gold",
        None,
        "",
        None,
    ),
    (
        "syntax_errors.unexpected_token: two names in a row",
        "x gold",
        ["gold", "Gold", "silver", 3, _MISSING, None],
        lambda v: v == "gold",
        None,
        "",
        None,
    ),
    (
        "phrasings.unknown_words: misspelt operator",
        'x contians "vip"',
        [["vip"], ["VIP"], ["a"], [], "vip", _MISSING],
        lambda v: isinstance(v, list) and "vip" in v,
        None,
        "",
        None,
    ),
    (
        "phrasings.unknown_words: misspelt comparison words",
        "x grater than 3",
        [2, 3, 4, "4", _MISSING, None],
        lambda v: type(v) is int and v > 3,
        None,
        "",
        None,
    ),
    (
        "comparisons.comparison_filter: `= null`",
        "x = null",
        ["a", "", 0, False, [], _MISSING, None],
        lambda v: v is _MISSING or v is None or v == "" or v == [],
        None,
        "",
        None,
    ),
    (
        "comparisons.comparison_filter: `!= null`",
        "x != null",
        ["a", "", 0, False, [], _MISSING, None],
        lambda v: not (v is _MISSING or v is None or v == "" or v == []),
        None,
        "",
        None,
    ),
    (
        "check.schema: a value of the wrong type",
        'x = "21"',
        [21, 21.0, 22, "21", _MISSING, None],
        lambda v: type(v) in (int, float) and v == 21,
        None,
        "",
        {"x": "Numeric"},
    ),
    (
        "lower.not_exactly: not after",
        "not (x after 2024-01-01)",
        DATE_VALUES,
        lambda v: not (_instant(v) is not None and _instant(v) > T0),  # type: ignore[operator]
        lambda v: _instant(v) == T0 or (v not in (_MISSING, None) and _instant(v) is None),
        "exactly 2024-01-01 may be left out",
        None,
    ),
    (
        "lower.not_exactly: not within",
        "not (x < 3 days)",
        time_profiles(3),
        lambda v: not (_instant(v) is not None and NOW - 3 * DAY < _instant(v) <= NOW),  # type: ignore[operator]
        lambda v: (
            (_instant(v) is not None and (_instant(v) == NOW - 3 * DAY or _instant(v) > NOW))  # type: ignore[operator]
            or (v not in (_MISSING, None, "") and _instant(v) is None)
        ),
        "the boundary and the other side of now may be left out",
        None,
    ),
]


@pytest.mark.parametrize("case", HINT_CASES, ids=[c[0] for c in HINT_CASES])
def test_hint_selects_what_the_text_meant(case: HintCase) -> None:
    _site, rule, values, meaning, differs, words, schema = case
    with pytest.raises(RuleError) as info:
        _compile(rule, schema=schema, strict=schema is not None)
    hint = info.value.hint
    proposals = _proposals(hint, schema)
    assert proposals, f"{rule!r}: the hint proposes no rule that compiles: {hint}"
    if differs is not None:
        assert words in hint, f"{rule!r}: the hint must say what it leaves out: {hint}"
    for proposal in proposals:
        audience = _compile(proposal, schema=schema)
        for value in values:
            got = _matches(audience, value)
            if got is meaning(value):
                continue
            assert differs is not None and differs(value), (
                f"{rule!r}: hint {proposal!r} selects {got} for x={value!r}, "
                f"the text meant {meaning(value)}"
            )
            # A hint that says what it leaves out never adds anyone it does not name.
            assert not got or "also takes" in hint, (rule, proposal, value)


# ---- 3. every syntax error at once -------------------------------------------------------------

MULTI = [
    (
        "color = blue and size >> 2 and tier = gold",
        [(1, 9, "unquoted-string"), (1, 24, "doubled-operator"), (1, 39, "unquoted-string")],
    ),
    (
        'eye_color = "blue" age > 30 and x = = 3',
        [(1, 20, "missing-connective"), (1, 37, "doubled-operator")],
    ),
    ("a = 1 and\nb = = 2 and\nc = red", [(2, 5, "doubled-operator"), (3, 5, "unquoted-string")]),
    (
        'tags contians "vip" and color = blue',
        [(1, 6, "misspelt-operator"), (1, 33, "unquoted-string")],
    ),
    ("age = 1.2.3 and b = c", [(1, 7, "number-with-dots"), (1, 21, "unquoted-string")]),
    (
        "x = 1 & y = 2 | z = red",
        [(1, 7, "single-ampersand"), (1, 15, "single-pipe"), (1, 21, "unquoted-string")],
    ),
    (
        "a = 1 and and b = 2 and c = = 3",
        [(1, 11, "doubled-connective"), (1, 29, "doubled-operator")],
    ),
    ("x = 1\ny = 2\nz = 3", [(2, 1, "missing-connective"), (3, 1, "missing-connective")]),
    (
        "age = 1 plan = 2 and c = = 1",
        [(1, 9, "missing-connective"), (1, 26, "doubled-operator")],
    ),
    (
        "x = (1, 2) and y = 3 and z = red",
        [(1, 5, "list-after-comparison"), (1, 30, "unquoted-string")],
    ),
    ("x = [1] and y = bad", [(1, 5, "list-after-comparison"), (1, 17, "unquoted-string")]),
    ("c =  and d", [(1, 6, "missing-value")]),
    ("(a = 1 or b = 2", [(1, 1, "unclosed-bracket")]),
    ("a = 1) and b = x", [(1, 6, "unmatched-closing-bracket"), (1, 16, "unquoted-string")]),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "expected"), MULTI, ids=[m[0] for m in MULTI])
def test_every_syntax_error_at_once(rule: str, expected: list[tuple[int, int, str]]) -> None:
    with pytest.raises(AudienceSyntaxError) as info:
        _compile(rule)
    got = [(d.span.line, d.span.column, d.code) for d in info.value.diagnostics]
    assert got == expected, str(info.value)
    assert (info.value.line, info.value.column) == expected[0][:2]


def test_syntax_errors_carry_expected_words() -> None:
    with pytest.raises(AudienceSyntaxError) as info:
        _compile("push is")
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.expected == ("opted_in", "subscribed", "unsubscribed")
    with pytest.raises(AudienceSyntaxError) as info:
        _compile("x = ")
    assert "a string" in info.value.diagnostics[0].expected
    assert "a number" in info.value.diagnostics[0].expected


# ---- 4. text as people have it ------------------------------------------------------------------


def test_a_byte_order_mark_is_skipped() -> None:
    assert _compile("\ufeffx = 1") == _compile("x = 1")
    assert _compile(b"\xef\xbb\xbfx = 1") == _compile("x = 1")
    assert audience_dsl.format("\ufeffx  =  1") == "x = 1"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending_is_a_line_break(newline: str) -> None:
    text = f"a = 1 and{newline}b = 2 and{newline}  c = = 3"
    with pytest.raises(AudienceSyntaxError) as info:
        _compile(text)
    assert (info.value.line, info.value.column) == (3, 7)
    assert " 3 |   c = = 3" in str(info.value)
    with pytest.raises(AudienceSyntaxError) as info:
        _compile(text.encode())
    assert (info.value.line, info.value.column) == (3, 7)


def test_bytes_that_are_not_utf8_are_our_error() -> None:
    with pytest.raises(AudienceSyntaxError) as info:
        _compile(b'x = 1 and\ny = "caf\xe9"')
    assert (info.value.line, info.value.column) == (2, 9)
    assert "0xE9" in info.value.message and "line 2" in info.value.message
    with pytest.raises(AudienceSyntaxError):
        audience_dsl.parse(b"\xff")
    with pytest.raises(AudienceSyntaxError):
        audience_dsl.format(b"x = \xc3")


def test_compile_parse_and_format_take_bytes() -> None:
    assert _compile(b"x = 1") == _compile("x = 1")
    assert audience_dsl.parse(b"x = 1").expr == audience_dsl.parse("x = 1").expr
    assert audience_dsl.format(b"x=1") == "x = 1"


# ---- 5. messages ---------------------------------------------------------------------------


def test_a_long_line_is_shown_as_a_window() -> None:
    rule = "x = 1 and " * 30 + "y = = 2"
    assert len(rule) == 307
    with pytest.raises(AudienceSyntaxError) as info:
        _compile(rule)
    text = str(info.value)
    assert info.value.column == 305
    lines = text.splitlines()
    shown = next(line for line in lines if line.startswith(" 1 | "))
    caret = lines[lines.index(shown) + 1]
    assert shown.startswith(" 1 | ...") and len(shown) < 100
    # The caret stands under the second `=`.
    assert shown[caret.index("^")] == "=" and shown[caret.index("^") - 2] == "="


@pytest.mark.parametrize(
    ("rule", "message", "hint"),
    [
        ("age = 1.2.3", "`1.2.3` is not a number", '"1.2.3"'),
        ('tags contians "vip"', "`contians` is not an operator", "did you mean `tags contains"),
        ("age = = 30", "written twice", "remove one `=`"),
        (
            'eye_color = "blue" age > 30',
            "expected `and` or `or`",
            'eye_color = "blue" and age > 30',
        ),
        ("push is", "subscription state", "opted_in, subscribed and unsubscribed"),
        ("x exsits", "`exsits` is not an operator", "did you mean `exists`?"),
        ("a = 1 adn b = 2", "expected `and` or `or`", "did you mean `and`?"),
        ('x contain "a"', "not an operator on its own", "did you mean `contains`?"),
        ("nickname is blnak", "not a comparison", "did you mean `nickname is blank`?"),
        ('plan is nine of ("a", "b")', "not a comparison", '`plan is none of ("a", "b")`'),
        ("x betwen 1 and 2", "`betwen` is not an operator", "did you mean `x between ...`?"),
        (
            'x does not strat with "a"',
            "not an operator",
            'did you mean `x does not start with "a"`?',
        ),
        ("x is not grater than 3", "not a comparison", "did you mean `x is not greater than 3`?"),
        ("`my name` lol", "two names in a row", '`my name` = "lol"'),
    ],
)
def test_messages_for_the_usual_mistakes(rule: str, message: str, hint: str) -> None:
    with pytest.raises(RuleError) as info:
        _compile(rule)
    assert message in info.value.message, str(info.value)
    assert hint in info.value.hint, str(info.value)


@pytest.mark.parametrize(
    ("written", "suggested"), [("eye_colour", "eye_color"), ("EYE_COLOR", "eye_color")]
)
def test_an_unknown_attribute_warns_with_a_suggestion_when_not_strict(
    written: str, suggested: str
) -> None:
    with pytest.warns(AudienceWarning, match=f"did you mean `{suggested}`") as record:
        audience_dsl.compile(f'{written} = "blue"', schema={"eye_color": "String"})
    assert record[0].filename == __file__
    with pytest.raises(RuleError) as info:
        audience_dsl.compile(f'{written} = "blue"', schema={"eye_color": "String"}, strict=True)
    assert f"did you mean `{suggested}`" in info.value.hint


# ---- 6. explain, evaluate, printer, let ------------------------------------------------------


def test_explain_says_one_day() -> None:
    profile = {"custom_attributes": {"lp": _iso(NOW - DAY)}}
    text = str(explain("lp < 2 days", profile, now=NOW))
    assert "was 1 day ago" in text and "1 days" not in text


def test_explain_shows_rule_text_for_a_compiled_dict() -> None:
    audience = _compile('lp < 2 days and tier in ("a", "b")')
    text = str(explain(audience, {"custom_attributes": {}}, now=NOW))
    assert "no  lp < 2 days --" in text and 'no  tier = "a" --' in text


def test_evaluate_without_now_is_our_error() -> None:
    with pytest.raises(AudienceError, match=r"now=datetime\.now"):
        evaluate("x = 1", {})  # type: ignore[call-arg]
    with pytest.raises(AudienceError, match=r"now=datetime\.now"):
        explain("x = 1", {})  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("rule", "printed"),
    [
        ("not (x = 1) and y", "not (x = 1) and y"),
        ("not x and y", "not x and y"),
        ("!(a exists) or b", "not (a exists) or b"),
        ('not (x in ("a", "b"))', 'not (x in ("a", "b"))'),
    ],
)
def test_the_printer_puts_a_comparison_under_not_in_parentheses(rule: str, printed: str) -> None:
    assert audience_dsl.format(rule) == printed
    assert audience_dsl.parse(printed).expr == audience_dsl.parse(rule).expr


def test_an_unused_let_warns() -> None:
    with pytest.warns(AudienceWarning, match="`spare` is defined but never used") as record:
        audience_dsl.compile("let spare = x > 1; let used = y; used")
    assert record[0].filename == __file__  # the warning points at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        audience_dsl.compile("let a = x > 1; let b = a or y; b")


ERROR_CASES = [c for c in load_cases() if "dsl" in c and "error" in c]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c["id"] for c in ERROR_CASES])
def test_every_rule_a_hint_writes_compiles(case: dict[str, Any]) -> None:
    """Over every error of the tables: a hint that writes a rule for the same attribute
    (between backticks, no `...` placeholder) writes one that compiles."""
    first = re.match(r"[A-Za-z_][\w.]*", case["dsl"].lstrip())
    try:
        _compile(case["dsl"], params=case.get("params"))
    except RuleError as exc:
        for diagnostic in exc.diagnostics:
            for written in _BACKTICKED.findall(diagnostic.hint):
                if first is None or not written.startswith(first.group(0) + " "):
                    continue
                if "..." in written or re.search(r"<[a-z]", written):
                    continue  # a placeholder: `x after <date-time>`
                _compile(written)  # raises if the hint proposes a rule that does not compile
