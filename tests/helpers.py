"""Assertion helpers shared by the table-driven tests."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import audience_dsl
from audience_dsl.errors import RuleError

CASES = Path(__file__).parent / "cases"


def load_cases(*names: str) -> Iterator[dict[str, Any]]:
    """Every case of the named JSON-lines files in tests/cases (all files if none named)."""
    files = [CASES / n for n in names] if names else sorted(CASES.glob("*.jsonl"))
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                case = json.loads(line)
                case.setdefault("_where", f"{path.name}:{number}")
                yield case


def case_texts() -> list[str]:
    """The rule text (``dsl``) of every case in tests/cases, good and bad, in file order."""
    return [case["dsl"] for case in load_cases() if isinstance(case.get("dsl"), str)]


def same_json(a: Any, b: Any) -> bool:
    """Equality that also tells 1 from 1.0 from True, and compares key order."""
    return json.dumps(a) == json.dumps(b) and _types(a) == _types(b)


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return [(k, _types(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


def assert_compiles(text: str, expected: Any, params: Mapping[str, Any] | None = None) -> None:
    got = audience_dsl.compile(text, params=params)
    assert same_json(got, expected), (
        f"{text!r}\n got: {json.dumps(got)}\nwant: {json.dumps(expected)}"
    )


def assert_rejects(
    text: str,
    error: str,
    at: tuple[int, int] | None = None,
    message: str | None = None,
    hint: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> RuleError:
    try:
        got = audience_dsl.compile(text, params=params)
    except RuleError as exc:
        assert type(exc).__name__ == error, f"{text!r}: {type(exc).__name__} != {error}\n{exc}"
        if at is not None:
            assert (exc.line, exc.column) == tuple(at), (
                f"{text!r}: at {exc.line}:{exc.column}\n{exc}"
            )
        if message is not None:
            assert message in exc.message.lower(), f"{text!r}: {message!r} not in\n{exc}"
        if hint is not None:
            assert hint in exc.hint, f"{text!r}: {hint!r} not in hint\n{exc}"
        return exc
    raise AssertionError(f"{text!r} compiled to {json.dumps(got)}; expected {error}")
