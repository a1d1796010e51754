"""Whatever a caller passes to a public function, only AudienceError comes out."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import audience_dsl

NOW = datetime(2024, 1, 1, tzinfo=UTC)

JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.binary(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)

CALLS: dict[str, Callable[[Any], object]] = {
    "compile": lambda x: audience_dsl.compile(x),
    "compile params": lambda x: audience_dsl.compile("a = $p", params=x),
    "compile schema": lambda x: audience_dsl.compile(
        "a = 1", schema=x if not isinstance(x, str) else {"a": x}
    ),
    "parse": lambda x: audience_dsl.parse(x),
    "to_audience": lambda x: audience_dsl.to_audience(x),
    "decompile": lambda x: audience_dsl.decompile(x),
    "format": lambda x: audience_dsl.format(x),
    "validate": lambda x: audience_dsl.validate(x),
    "evaluate rule": lambda x: audience_dsl.evaluate(x, {}, now=NOW),
    "evaluate profile": lambda x: audience_dsl.evaluate("a = 1", x, now=NOW),
    "evaluate now": lambda x: audience_dsl.evaluate("a = 1", {}, now=x),
    "explain": lambda x: audience_dsl.explain("a exists", x, now=NOW),
    "preview users": lambda x: audience_dsl.preview(
        "a", x if not isinstance(x, str) else [x], now=NOW
    ),
    "schema": lambda x: audience_dsl.Schema(x if not isinstance(x, str) else {"a": x}),
    "schema infer": lambda x: audience_dsl.Schema.infer(x if not isinstance(x, str) else [x]),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@given(junk=JUNK)
def test_junk_in_only_our_errors_out(name: str, junk: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(audience_dsl.AudienceError):
            CALLS[name](junk)


@given(junk=JUNK)
def test_junk_into_the_sender_only_our_errors_out(junk: Any) -> None:
    from audience_dsl.sender import BrazeClient

    def never(request: httpx.Request) -> httpx.Response:  # pragma: no cover - must not run
        raise AssertionError("a request left the process")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in (
            lambda: BrazeClient(junk, "US-01"),
            lambda: BrazeClient("key", junk),
        ):
            with contextlib.suppress(audience_dsl.AudienceError):
                call().close()
        with BrazeClient("key", "US-01", transport=httpx.MockTransport(never)) as client:
            for kwargs in (
                {"recipients": junk},
                {"audience": junk, "broadcast": True},
                {"broadcast": junk, "audience": "a"},
                {"recipients": [{"external_user_id": "x"}], "trigger_properties": junk},
                {"recipients": [{"external_user_id": "x"}], "send_id": junk},
            ):
                with contextlib.suppress(audience_dsl.AudienceError):
                    client.trigger_send("c1", dry_run=True, **kwargs)
