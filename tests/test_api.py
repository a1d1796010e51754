"""The public surface is a contract: pinned here."""

from __future__ import annotations

import audience_dsl
from audience_dsl import errors


def test_all_is_sorted_and_importable() -> None:
    assert list(audience_dsl.__all__) == sorted(audience_dsl.__all__)
    for name in audience_dsl.__all__:
        assert hasattr(audience_dsl, name), name


def test_all_is_pinned() -> None:
    assert audience_dsl.__all__ == [
        "AudienceError", "AudienceSyntaxError", "AudienceTypeError", "AudienceWarning",
        "Diagnostic", "Explanation", "ParameterError", "Preview", "Report", "Rule",
        "RuleError", "SQLError", "Schema", "SchemaError", "Semantics", "SendError", "Source",
        "Span", "UnsupportedError", "ValidationError", "WrongType", "analyze", "ast",
        "compile", "decompile", "evaluate", "explain", "format", "json_schema", "parse",
        "preview", "print_rule", "to_audience", "to_sql", "validate",
    ]  # fmt: skip


def test_the_names_the_spec_promises_exist() -> None:
    for name in ["compile", "parse", "to_audience", "AudienceError", "analyze", "json_schema",
                 "Diagnostic", "Span", "Source", "Report"]:  # fmt: skip
        assert name in audience_dsl.__all__


def test_every_error_is_an_audience_error() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, Exception) and name != "AudienceWarning":
            assert issubclass(cls, audience_dsl.AudienceError), name
    assert not issubclass(audience_dsl.AudienceError, ValueError)  # never swallowed by pydantic


def test_rule_errors_carry_positions_and_pickle() -> None:
    import pickle

    try:
        audience_dsl.compile("a and")
    except audience_dsl.RuleError as exc:
        assert (exc.line, exc.column, exc.end_line, exc.end_column) == (1, 6, 1, 6)
        again = pickle.loads(pickle.dumps(exc))
        assert str(again) == str(exc)
    else:  # pragma: no cover
        raise AssertionError("compiled")


def test_parse_keeps_parameters_until_bound() -> None:
    rule = audience_dsl.parse("age > $min")
    assert "Param" in repr(rule)
    bound = audience_dsl.parse("age > $min", params={"min": 3})
    assert audience_dsl.to_audience(bound)["custom_attribute"]["value"] == 3
    try:
        audience_dsl.to_audience(rule)
    except audience_dsl.ParameterError as exc:
        assert exc.column == 7
    else:  # pragma: no cover
        raise AssertionError("compiled with an unbound parameter")


def test_spans_do_not_take_part_in_equality() -> None:
    assert audience_dsl.parse("a = 1") == audience_dsl.parse("   a   =   1  # comment")
    assert audience_dsl.parse("a = 1") != audience_dsl.parse("a = 1.0")
