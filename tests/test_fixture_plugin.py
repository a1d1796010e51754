"""The `local_braze` fixture reaches users' tests through the pytest plugin, unimported."""

from __future__ import annotations

from typing import Any

from audience_dsl.sender import BrazeClient


def test_the_fixture_works_without_an_import(local_braze: Any) -> None:
    with BrazeClient("k1", local_braze.url) as client:
        result = client.trigger_send("c1", audience="vip", broadcast=True)
    assert result.ok
    (body,) = local_braze.accepted_bodies()
    assert body["audience"]["custom_attribute"]["custom_attribute_name"] == "vip"
