"""Diagnostics as data: analyze(), codes, positions in UTF-16, warnings handed over per call."""

from __future__ import annotations

import ast as pyast
import json
import re
import sys
import threading
import tracemalloc
import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import audience_dsl
from audience_dsl import AudienceWarning, Diagnostic, Report, RuleError, analyze, compile
from audience_dsl.errors import Severity, emit_warnings
from audience_dsl.source import Source
from tests.helpers import load_cases

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "audience_dsl"
_CODES_SECTION = (ROOT / "docs" / "diagnostics.md").read_text().split("\n## Codes\n")[1]
DOCUMENTED = set(re.findall(r"^\| `([a-z0-9-]+)` \|", _CODES_SECTION, re.M))

# Calls that create a diagnostic; each must name its code (helpers pass theirs on):
# Diagnostic(...) and the builder's fail(...) anywhere, and the checkers' own helpers.
_HELPERS = {
    ("check/suspicious.py", "report"),
    ("check/params.py", "self.problem"),
    ("check/schema.py", "self.add"),
}


def _creation_sites() -> list[tuple[str, int, pyast.Call]]:
    sites = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "sender" in path.parts:
            continue
        tree = pyast.parse(path.read_text(encoding="utf-8"))
        for node in pyast.walk(tree):
            if isinstance(node, pyast.Call):
                name = pyast.unparse(node.func)
                inside = path.relative_to(PACKAGE).as_posix()
                if name in ("Diagnostic", "fail") or (inside, name) in _HELPERS:
                    sites.append((str(path.relative_to(ROOT)), node.lineno, node))
    return sites


def _codes_in_source() -> set[str]:
    # The command line's own problem records (docs/cli.md) and the sender's are not
    # diagnostics of a rule.
    codes: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        if {"cli", "sender"} & set(path.relative_to(PACKAGE).parts):
            continue
        tree = pyast.parse(path.read_text(encoding="utf-8"))
        for node in pyast.walk(tree):
            values: list[pyast.AST] = []
            if isinstance(node, pyast.keyword) and node.arg == "code":
                values.append(node.value)
            if isinstance(node, pyast.Assign) and any(
                isinstance(t, pyast.Name) and t.id == "code" for t in node.targets
            ):
                values.append(node.value)
            for value in values:
                for leaf in pyast.walk(value):
                    if isinstance(leaf, pyast.Constant) and isinstance(leaf.value, str):
                        codes.add(leaf.value)
    return codes


def test_every_creation_site_names_a_code() -> None:
    missing = []
    sites = _creation_sites()
    assert len(sites) > 80
    for where, line, call in sites:
        keywords = {k.arg for k in call.keywords}
        if "code" not in keywords:
            missing.append(f"{where}:{line}")
    assert missing == []


def test_every_code_used_is_documented_and_kebab_case() -> None:
    used = _codes_in_source()
    assert len(used) > 60
    assert used - DOCUMENTED == set()
    for code in used:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code), code


def test_every_documented_code_is_used() -> None:
    # A code is never reused for another kind; a documented code nobody raises is stale.
    assert DOCUMENTED - _codes_in_source() == set()


ERROR_CASES = [c for c in load_cases() if "dsl" in c and "error" in c]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c["id"] for c in ERROR_CASES])
def test_every_diagnostic_of_the_tables_has_a_documented_code(case: dict[str, object]) -> None:
    text = str(case["dsl"])
    report = analyze(text, params=case.get("params"))  # type: ignore[arg-type]
    assert report.audience is None
    assert report.errors
    for diagnostic in report.diagnostics:
        assert diagnostic.code in DOCUMENTED, (diagnostic.code, diagnostic.message)
    # analyze reports at least what compile raises, at the same first place
    try:
        compile(text, params=case.get("params"), warnings=[])  # type: ignore[arg-type]
    except RuleError as error:
        assert error.diagnostics[0].code
        assert (error.line, error.column) == (report.errors[0].line, report.errors[0].column)
        assert {d.code for d in error.diagnostics} <= {d.code for d in report.diagnostics}


def test_problems_of_different_stages_come_together() -> None:
    report = analyze('x < 2 months and age = "x"', schema={"age": "Numeric"})
    assert [(d.code, d.severity.value, d.column) for d in report.diagnostics] == [
        ("unknown-attribute", "warning", 1),
        ("calendar-unit", "error", 7),
        ("type-mismatch", "error", 24),
    ]
    assert report.audience is None and not report.ok


def test_a_refused_condition_does_not_hide_conflicts_or_parameters() -> None:
    report = analyze("a < 3 hours and b = 1 and b = \"x\" and c > $n")
    assert [d.code for d in report.diagnostics] == [
        "sub-day-unit",
        "type-conflict",
        "missing-parameter",
    ]


def test_warnings_and_audience_together() -> None:
    report = analyze('user.name exists and v = "{{x}}"')
    assert report.ok
    assert report.audience == compile('user.name exists and v = "{{x}}"', warnings=[])
    assert [(d.code, d.severity) for d in report.diagnostics] == [
        ("nested-attribute", Severity.WARNING),
        ("liquid-in-value", Severity.WARNING),
    ]
    assert report.errors == ()


def test_strict_makes_the_nested_name_an_error() -> None:
    report = analyze("user.name exists", schema={"user.name": "String"}, strict=True)
    assert [(d.code, d.severity) for d in report.diagnostics] == [
        ("nested-attribute", Severity.ERROR)
    ]
    assert report.audience is None


def test_report_to_dict_is_json() -> None:
    report = analyze("a and (b")
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["audience"] is None
    (only,) = data["diagnostics"]
    assert only["code"] == "unclosed-bracket"
    assert only["related"] == [
        {"message": "the rule ends here", "line": 1, "column": 9, "end_line": 1,
         "end_column": 9, "utf16_column": 9, "utf16_end_column": 9, "start": 8, "end": 8}
    ]  # fmt: skip
    assert set(only) >= {"line", "column", "end_line", "end_column", "severity", "message",
                         "hint", "utf16_column", "utf16_end_column", "expected"}  # fmt: skip


def test_expected_tokens_are_data() -> None:
    (diagnostic,) = analyze("a and").diagnostics
    assert diagnostic.code == "missing-condition"
    assert {"an attribute name", "`(`", "`not`", "`push`"} <= set(diagnostic.expected)
    (diagnostic,) = analyze("age >").diagnostics
    assert diagnostic.expected
    assert diagnostic.to_dict()["expected"] == list(diagnostic.expected)


def test_columns_in_utf16_units() -> None:
    text = "`名😀x` = 1 and b < 3 hours"
    (diagnostic,) = analyze(text).diagnostics
    assert diagnostic.code == "sub-day-unit"
    assert (diagnostic.column, diagnostic.end_column) == (21, 26)
    # one astral character (the emoji) before the place: one more unit than code points
    assert (diagnostic.utf16_column, diagnostic.utf16_end_column) == (22, 27)
    assert text[diagnostic.span.start : diagnostic.span.end] == "hours"
    assert len(text[: diagnostic.column - 1].encode("utf-16-le")) // 2 + 1 == 22


def test_utf16_columns_on_later_lines() -> None:
    text = "a exists and\n  😀 = 1"
    diagnostic = analyze(text).diagnostics[0]
    assert diagnostic.line == 2 and diagnostic.column == 3
    assert diagnostic.utf16_column == 3 and diagnostic.utf16_end_column == 5


def test_analyze_never_raises_for_a_bad_rule() -> None:
    assert analyze(None).diagnostics[0].code == "rule-not-text"  # type: ignore[arg-type]
    assert analyze(b"a = 1 \xff").diagnostics[0].code == "not-utf8"
    assert analyze("").diagnostics[0].code == "empty-rule"
    assert analyze("a = 1", params=3).diagnostics[0].code == "params-not-a-mapping"  # type: ignore[arg-type]
    assert analyze("(" * 5000 + "a" + ")" * 5000).ok
    deep = "a"
    for i in range(3000):
        deep = f"({deep} {'and' if i % 2 else 'or'} b{i})"
    assert [d.code for d in analyze(deep).diagnostics] == ["nesting-too-deep-for-braze"]
    assert analyze("not (a = 1 or b)").ok


@given(st.text(max_size=40))
def test_analyze_returns_a_report_for_any_text(text: str) -> None:
    report = analyze(text)
    assert isinstance(report, Report)
    assert report.ok == (not report.errors)
    json.dumps(report.to_dict())
    for diagnostic in report.diagnostics:
        assert diagnostic.code in DOCUMENTED


def test_rule_errors_carry_codes_and_sources() -> None:
    with pytest.raises(RuleError) as caught:
        compile("a = 1 and 😀b = 2", warnings=[])
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "unexpected-character"
    assert diagnostic.source is caught.value.source
    assert diagnostic.utf16_column == diagnostic.column  # nothing astral before it


def test_diagnostic_equality_ignores_the_source() -> None:
    a = analyze("a < 2 hours").diagnostics[0]
    b = Diagnostic(a.message, a.span, a.label, a.hint, a.labels, a.code, a.severity)
    assert a == b and b.source is None and a.source is not None


def test_warnings_render_as_warnings() -> None:
    (diagnostic,) = analyze("a < 0 days").diagnostics
    from audience_dsl.errors import render

    assert render(diagnostic, Source("a < 0 days")).startswith("warning: a relative time")


# ---- warnings: per call, at the caller's line, bounded ------------------------------------


def test_compile_collects_warnings_into_a_list_and_issues_none() -> None:
    found: list[Diagnostic] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile("user.x exists and y ~ /A/", warnings=found)
    assert [d.code for d in found] == ["nested-attribute", "regex-upper-case"]
    assert all(d.source is not None and d.source.text.startswith("user.x") for d in found)


def test_to_audience_collects_warnings_too() -> None:
    found: list[Diagnostic] = []
    rule = audience_dsl.parse("user.x exists")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        audience_dsl.to_audience(rule, warnings=found)
    assert [d.code for d in found] == ["nested-attribute"]


def test_warnings_are_kept_when_the_rule_fails() -> None:
    found: list[Diagnostic] = []
    with pytest.raises(RuleError):
        compile('user.x exists and age = 1 and age = "x"', warnings=found)
    assert [d.code for d in found] == ["nested-attribute"]


def test_compile_warns_at_the_callers_line() -> None:
    with pytest.warns(AudienceWarning) as record:
        line = sys._getframe().f_lineno + 1
        compile("user.x exists")
    (warning,) = record.list
    assert warning.filename == __file__
    assert warning.lineno == line
    assert isinstance(warning.message, AudienceWarning)
    assert warning.message.diagnostic is not None
    assert warning.message.diagnostic.code == "nested-attribute"
    assert str(warning.message) == (
        "1:1: `user.x` looks like a nested attribute; Connected Audience cannot filter "
        "nested custom attributes"
    )


def test_to_audience_warns_at_the_callers_line() -> None:
    rule = audience_dsl.parse("v = '{{x}}'")
    with pytest.warns(AudienceWarning) as record:
        line = sys._getframe().f_lineno + 1
        audience_dsl.to_audience(rule)
    assert [(w.filename, w.lineno) for w in record.list] == [(__file__, line)]


def test_warnings_do_not_grow_the_callers_registry() -> None:
    registry = globals().setdefault("__warningregistry__", {})
    before = len(registry)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda *args, **kwargs: None
        for i in range(2_000):
            compile(f"`user.{i}` exists")
    assert len(registry) <= before + 1  # at most the 'version' key


def test_distinct_warnings_keep_memory_flat() -> None:
    # 100,000 warnings, each with a distinct value, under the default filter: the
    # registry that filter needs is bounded, so memory after 100k is what it was
    # after 10k (give or take a dict's resizing).
    from audience_dsl import errors

    def emit(start: int, stop: int) -> None:
        for i in range(start, stop):
            span = Source("x").span(0, 1)
            emit_warnings([Diagnostic(f"value {i}", span, code="zero-days")], stacklevel=1)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda *args, **kwargs: None
        emit(0, 10_000)
        tracemalloc.start()
        first, _ = tracemalloc.get_traced_memory()
        emit(10_000, 100_000)
        second, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert second - first < 512 * 1024
    assert sum(len(r) for r in errors._REGISTRIES.values()) <= 2 * errors._REGISTRY_LIMIT


def test_threads_each_get_exactly_their_own_diagnostics() -> None:
    threads_count, calls = 8, 10_000
    failures: list[str] = []
    barrier = threading.Barrier(threads_count)

    def work(t: int) -> None:
        try:
            run(t)
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(f"{t}: {exc!r}")

    def run(t: int) -> None:
        barrier.wait()
        for i in range(calls):
            name = f"t{t}.n{i}"
            text = f"`{name}` exists"
            if i % 2:
                found: list[Diagnostic] = []
                compile(text, warnings=found)
            else:
                found = list(analyze(text).diagnostics)
            if len(found) != 1 or f"`{name}`" not in found[0].message:
                failures.append(f"{t}/{i}: {[d.message for d in found]}")
                return

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may go through the warnings module
        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads_count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert failures == []


def test_an_unused_sub_rule_is_a_warning_of_the_call() -> None:
    found: list[Diagnostic] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile("let v = a exists; b", warnings=found)
        report = analyze("let v = a exists; b")
    assert [d.code for d in found] == ["unused-definition"]
    assert [(d.code, d.column) for d in report.diagnostics] == [("unused-definition", 5)]
    with pytest.warns(AudienceWarning, match="never used"):
        compile("let v = a exists; b")


def test_parse_collects_its_warnings_per_call_too() -> None:
    import warnings

    found: list[audience_dsl.Diagnostic] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may go through the warnings module
        audience_dsl.parse("let a = x = 1; y = 2", warnings=found)
    assert [d.code for d in found] == ["unused-definition"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        audience_dsl.parse("let a = x = 1; y = 2")
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]
