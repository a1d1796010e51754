"""The `local_braze` fixtures reach users' tests through the pytest plugin, unimported,
and fit Hypothesis: one endpoint per session, clean for each test or example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audience_dsl import evaluate, strategies
from audience_dsl.braze.limits import Limits
from audience_dsl.evaluator import DEFAULT_NOW
from audience_dsl.sender import BrazeClient
from audience_dsl.testing import LocalBraze
from audience_dsl.testing.plugin import test_limits


def test_the_fixture_works_without_an_import(local_braze: Any) -> None:
    with BrazeClient("k1", local_braze.url) as client:
        result = client.trigger_send("c1", audience="vip", broadcast=True)
    assert result.ok
    (body,) = local_braze.accepted_bodies()
    assert body["audience"]["custom_attribute"]["custom_attribute_name"] == "vip"


def test_each_test_starts_clean(local_braze: LocalBraze) -> None:
    assert local_braze.requests == []
    assert local_braze.limits == test_limits()
    local_braze.limits = Limits(per_audience_per_minute=1)  # restored for the next test
    local_braze.inject("500")


def test_and_the_next_one_too(local_braze: LocalBraze) -> None:
    test_each_test_starts_clean(local_braze)


def test_the_endpoint_and_the_strategies_share_one_now(local_braze: LocalBraze) -> None:
    assert local_braze.now == DEFAULT_NOW == strategies.DEFAULT_NOW
    seen = (DEFAULT_NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    local_braze.profiles = [{"external_id": "u1", "custom_attributes": {"seen": seen}}]
    with local_braze.client() as client:
        client.trigger_send("c1", audience="seen < 2 days", broadcast=True)
    assert [d.user for d in local_braze.deliveries] == ["external_id:u1"]


USERS = [{"external_id": "a", "custom_attributes": {"vip": True}},
         {"external_id": "b", "custom_attributes": {"vip": False}}]  # fmt: skip


@pytest.mark.local_braze(profiles=USERS, now=datetime(2030, 1, 1, tzinfo=UTC))
def test_the_marker_sets_profiles_and_now(local_braze: LocalBraze) -> None:
    assert local_braze.now == datetime(2030, 1, 1, tzinfo=UTC)
    with local_braze.client() as client:
        client.trigger_send("c1", audience="vip", broadcast=True)
    assert [d.user for d in local_braze.deliveries] == ["external_id:a"]


def test_the_client_is_told_the_endpoints_limits(local_braze: LocalBraze) -> None:
    with local_braze.client() as client:
        assert client.pacer.limits == local_braze.limits
        for _ in range(11):  # one more than Braze's per-audience limit in a window
            assert client.trigger_send("c1", audience="vip", broadcast=True).ok
    assert [r.status for r in local_braze.requests] == [201] * 11  # paced, never a 429


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_the_session_endpoint_serves_each_hypothesis_example_clean(
    local_braze_server: LocalBraze, data: st.DataObject
) -> None:
    schema = {"vip": "Boolean", "age": "Numeric"}
    rule = data.draw(strategies.rules(schema=schema, max_leaves=3, builtins=False))
    users = data.draw(st.lists(strategies.profiles(schema, near=rule), max_size=4))
    users = [dict(u, external_id=f"u{i}") for i, u in enumerate(users)]
    with local_braze_server.example(profiles=users) as braze, braze.client() as client:
        client.trigger_send("c1", audience=rule, broadcast=True)
        sent = braze.accepted_bodies()[0]["audience"]  # the JSON decides, as at Braze
        expected = [f"external_id:u{i}" for i, u in enumerate(users)
                    if evaluate(sent, u, now=DEFAULT_NOW)]  # fmt: skip
        assert [d.user for d in braze.deliveries] == expected
        assert len(braze.requests) == 1


def test_an_unknown_marker_setting_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.local_braze(users=[])
        def test_x(local_braze):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*unknown users*"])
