"""Every validation rule 1 to 24 of §9, enforced before any request leaves the process.

Each negative case goes through a client whose transport fails the test if it is ever
called, for the thread client and the asyncio client alike.
"""

from __future__ import annotations

import asyncio
import math
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from audience_dsl.braze.body import check_body
from audience_dsl.braze.request import (
    InvalidRequestError,
    Recipient,
    UserAlias,
    check_api_key,
    check_base_url,
)
from audience_dsl.errors import AudienceWarning, ValidationError
from audience_dsl.sender import AsyncBrazeClient, BrazeClient

AUDIENCE = {"custom_attribute": {"custom_attribute_name": "team", "comparison": "equals",
                                 "value": "Lions"}}


def body(**changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"campaign_id": "c1", "recipients": [{"external_user_id": "u1"}]}
    for key, value in changes.items():
        if value is _DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def recipient(**fields: Any) -> dict[str, Any]:
    return body(recipients=[fields])


_DROP = object()
BIG = "x" * 90_000

# (rule, body, the JSON path the problem is reported at)
ERRORS: list[tuple[int, dict[str, Any], str]] = [
    (2, body(api_key="secret"), "$.api_key"),
    (3, body(trigger_properties={"x": math.nan}), "$"),
    (3, body(recipients=[{"external_user_id": f"u{i}", "attributes": {"blob": {"k": BIG}}}
                         for i in range(50)]), "$"),
    (4, body(segment_id="s1"), "$.segment_id"),
    (4, body(messages={}), "$.messages"),
    (4, body(canvas_id="x"), "$.canvas_id"),
    (5, body(campaign_id=_DROP), "$.campaign_id"),
    (5, body(campaign_id=""), "$.campaign_id"),
    (5, body(campaign_id=7), "$.campaign_id"),
    (6, body(send_id=""), "$.send_id"),
    (6, body(send_id="x" * 65), "$.send_id"),
    (6, body(send_id="wave-é"), "$.send_id"),
    (7, body(trigger_properties=""), "$.trigger_properties"),
    (7, body(trigger_properties=None), "$.trigger_properties"),
    (7, body(trigger_properties={"a": "x" * 52_000}), "$.trigger_properties"),
    (8, body(broadcast="false"), "$.broadcast"),
    (8, body(broadcast=0), "$.broadcast"),
    (9, body(recipients=[]), "$.recipients"),
    (9, body(recipients=[{"external_user_id": f"u{i}"} for i in range(51)]), "$.recipients"),
    (9, body(recipients=["u1"]), "$.recipients[0]"),
    (9, body(recipients={"external_user_id": "u1"}), "$.recipients"),
    (10, body(broadcast=True), "$"),
    (10, body(recipients=_DROP, broadcast=True,
              attachments=[{"file_name": "a", "url": "https://x.org/a.pdf"}]), "$"),
    (11, body(recipients=_DROP), "$"),
    (11, body(recipients=_DROP, audience=AUDIENCE), "$"),
    (12, body(audience=[AUDIENCE]), "$.audience"),
    (12, body(audience={"AND": []}), "$.audience.AND"),
    (12, body(audience={"custom_attribute": {"custom_attribute_name": "a",
                                             "comparison": "does_not_equal", "value": True}}),
     "$.audience.custom_attribute.comparison"),
    (13, body(attachments=[]), "$.attachments"),
    (13, body(attachments=[{"file_name": "a"}]), "$.attachments[0].url"),
    (13, body(attachments=[{"file_name": "a", "url": "ftp://x.org/a"}]), "$.attachments[0].url"),
    (13, body(attachments=[{"file_name": "", "url": "https://x.org/a"}]),
     "$.attachments[0].file_name"),
    (14, recipient(external_user_id="u1", braze_id="b1"), "$.recipients[0]"),
    (14, recipient(trigger_properties={"a": 1}), "$.recipients[0]"),
    (14, recipient(external_user_id="u1", phone="+4912345"), "$.recipients[0].phone"),
    (15, recipient(external_user_id=""), "$.recipients[0].external_user_id"),
    (15, recipient(external_user_id=5), "$.recipients[0].external_user_id"),
    (15, recipient(email="not-an-address", prioritization=["identified"]),
     "$.recipients[0].email"),
    (16, recipient(user_alias={"alias_name": "", "alias_label": "crm"}),
     "$.recipients[0].user_alias.alias_name"),
    (16, recipient(user_alias={"alias_name": "a" * 237, "alias_label": "crm"}),
     "$.recipients[0].user_alias.alias_name"),
    (16, recipient(user_alias={"alias_name": "a", "alias_label": "crm", "x": 1}),
     "$.recipients[0].user_alias.x"),
    (17, recipient(email="a@b.org"), "$.recipients[0]"),
    (17, recipient(email="a@b.org", prioritization=["identified", "unidentified"]),
     "$.recipients[0].prioritization"),
    (17, recipient(email="a@b.org", prioritization=["newest"]), "$.recipients[0].prioritization"),
    (17, recipient(email="a@b.org", prioritization=[]), "$.recipients[0].prioritization"),
    (18, recipient(external_user_id="u1", send_to_existing_only="false"),
     "$.recipients[0].send_to_existing_only"),
    (18, recipient(user_alias={"alias_name": "a", "alias_label": "crm"},
                   send_to_existing_only=False, attributes={"x": 1}), "$.recipients[0]"),
    (18, recipient(external_user_id="u1", send_to_existing_only=False), "$.recipients[0]"),
    (19, recipient(external_user_id="u1", trigger_properties={"a": "x" * 52_000}),
     "$.recipients[0].trigger_properties"),
    (19, recipient(external_user_id="u1", trigger_properties="x"),
     "$.recipients[0].trigger_properties"),
    (20, recipient(external_user_id="u1", attributes=[1]), "$.recipients[0].attributes"),
    (20, recipient(external_user_id="u1", attributes={"": 1}), '$.recipients[0].attributes[""]'),
    (20, recipient(external_user_id="u1", attributes={"k" * 256: 1}),
     "$.recipients[0].attributes." + "k" * 256),
    (20, recipient(external_user_id="u1", attributes={"n": {"inc": 1.5}}),
     "$.recipients[0].attributes.n"),
    (20, recipient(external_user_id="u1", attributes={"n": math.inf}),
     "$.recipients[0].attributes.n"),
    (20, recipient(external_user_id="u1", attributes={"tags": {"add": "x"}}),
     "$.recipients[0].attributes.tags"),
    (21, recipient(external_user_id="u1", attributes={"email_subscribe": "yes"}),
     "$.recipients[0].attributes.email_subscribe"),
    (21, recipient(external_user_id="u1", attributes={"gender": "X"}),
     "$.recipients[0].attributes.gender"),
    (21, recipient(external_user_id="u1", attributes={"dob": "01/02/1990"}),
     "$.recipients[0].attributes.dob"),
    (21, recipient(external_user_id="u1",
                   attributes={"subscription_groups": [{"subscription_group_id": "g"}]}),
     "$.recipients[0].attributes.subscription_groups"),
]

# (rule, body, path) that are allowed but warned about
WARNINGS: list[tuple[int, dict[str, Any], str]] = [
    (12, body(audience={"custom_attribute": {"custom_attribute_name": "address.city",
                                             "comparison": "exists"}}),
     "$.audience.custom_attribute.custom_attribute_name"),
    (13, body(recipients=[{"external_user_id": "u1"}],
              attachments=[{"file_name": "report.pdf", "url": "https://x.org/r.pdf"}]),
     "$.attachments[0].file_name"),
    (14, recipient(braze_id="b1"), "$.recipients[0].braze_id"),
    (17, recipient(external_user_id="u1", prioritization=["identified"]),
     "$.recipients[0].prioritization"),
    (20, recipient(external_user_id="u1", attributes={"bio": "x" * 256}),
     "$.recipients[0].attributes.bio"),
    (21, recipient(external_user_id="u1", attributes={"country": "Germany"}),
     "$.recipients[0].attributes.country"),
    (22, recipient(external_user_id="u1", attributes={"tags": [str(i) for i in range(26)]}),
     "$.recipients[0].attributes.tags"),
    (23, body(recipients=[{"external_user_id": "u1"}, {"external_user_id": "u1"}]),
     "$.recipients[1]"),
    (24, recipient(external_user_id="u1", attributes={"external_id": "u1"}),
     "$.recipients[0].attributes.external_id"),
]


class Untouchable(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A transport that fails the test if a request reaches it."""

    def __init__(self) -> None:
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        pytest.fail(f"a request left the process: {request.content[:200]!r}")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.handle_request(request)


Sender = Callable[[dict[str, Any]], Any]


@pytest.fixture(params=["sync", "async"])
def send_body(request: pytest.FixtureRequest) -> Any:
    transport = Untouchable()

    def sync(payload: dict[str, Any]) -> Any:
        with BrazeClient("key-1", "US-01", transport=transport) as client:
            return client.send_body(payload)

    def asynchronous(payload: dict[str, Any]) -> Any:
        async def go() -> Any:
            async with AsyncBrazeClient("key-1", "US-01", transport=transport) as client:
                return await client.send_body(payload)

        return asyncio.run(go())

    yield sync if request.param == "sync" else asynchronous
    assert transport.calls == 0


def _id(case: tuple[int, dict[str, Any], str]) -> str:
    return f"rule{case[0]}-{case[2][:40]}"


@pytest.mark.parametrize(("rule", "payload", "path"), ERRORS, ids=[_id(c) for c in ERRORS])
def test_rule_is_enforced_before_sending(
    send_body: Sender, rule: int, payload: dict[str, Any], path: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudienceWarning)
        with pytest.raises(InvalidRequestError) as caught:
            send_body(payload)
    error = caught.value
    assert isinstance(error, ValidationError)
    found = list(zip(error.paths, error.rules, strict=True))
    assert (path, rule) in found, str(error)
    assert f"rule {rule}:" in str(error)


@pytest.mark.parametrize(("rule", "payload", "path"), WARNINGS, ids=[_id(c) for c in WARNINGS])
def test_rule_warns(rule: int, payload: dict[str, Any], path: str) -> None:
    with pytest.warns(AudienceWarning) as caught:
        check_body(payload)
    texts = [str(w.message) for w in caught]
    assert any(t.startswith(f"{path}: ") and f"rule {rule}:" in t for t in texts) or (
        rule == 12 and any(t.startswith(f"{path}: ") for t in texts)
    ), texts


def test_every_rule_from_1_to_24_is_covered() -> None:
    covered = {r for r, _, _ in ERRORS} | {r for r, _, _ in WARNINGS} | {1, 2}
    assert covered >= set(range(1, 25))


# ---- rules 1 and 2: the transport ----


@pytest.mark.parametrize(
    "url",
    ["http://rest.iad-01.braze.com", "https://rest.iad-01.braze.com/campaigns/trigger/send",
     "https://example.com", "https://rest.iad-01.braze.com:8443", "US-99", "", "ftp://x"],
)
def test_rule_1_rejects_base_urls(url: str) -> None:
    with pytest.raises(InvalidRequestError, match="rule 1"):
        BrazeClient("key-1", url, transport=Untouchable())


def test_rule_1_instances_and_hosts() -> None:
    assert check_base_url("US-01") == "https://rest.iad-01.braze.com"
    assert check_base_url("eu-02") == "https://rest.fra-02.braze.eu"
    assert check_base_url("https://rest.au-01.braze.com/") == "https://rest.au-01.braze.com"
    assert check_base_url("http://127.0.0.1:8765") == "http://127.0.0.1:8765"
    assert check_base_url("https://proxy.corp", allow_any_host=True) == "https://proxy.corp"
    with pytest.warns(AudienceWarning, match="rule 1"):
        check_base_url("https://rest.iad-99.braze.com")


@pytest.mark.parametrize("key", ["", "two words", '"quoted"', "tab\there", None, 42])
def test_rule_2_rejects_keys_without_showing_them(key: Any) -> None:
    with pytest.raises(InvalidRequestError, match="rule 2") as caught:
        check_api_key(key)
    if isinstance(key, str) and key:
        assert key not in str(caught.value)


def test_rule_11_audience_only_may_be_lenient() -> None:
    payload = body(recipients=_DROP, audience=AUDIENCE)
    assert check_body(payload, lenient_broadcast=True) == payload


def test_models_raise_our_error_with_rule_numbers() -> None:
    with pytest.raises(InvalidRequestError, match="rule 17") as caught:
        Recipient(email="a@b.org")
    assert caught.value.rules == (17,)
    with pytest.raises(InvalidRequestError, match="rule 16"):
        UserAlias(alias_name="", alias_label="crm")
    model = Recipient(user_alias=UserAlias(alias_name="crm-77", alias_label="crm_id"))
    assert check_body(body(recipients=[model]))["recipients"] == [
        {"user_alias": {"alias_name": "crm-77", "alias_label": "crm_id"}}
    ]


def test_every_problem_is_reported_at_once() -> None:
    payload = {"campaign_id": "", "broadcast": "yes", "recipients": [{"email": "a@b.org"}, 3]}
    with pytest.raises(InvalidRequestError) as caught:
        check_body(payload)
    assert caught.value.rules == (5, 8, 17, 9)


def test_body_warnings_collected_per_call_issue_nothing() -> None:
    import warnings

    body = {"campaign_id": "c1", "recipients": [
        {"external_user_id": "u1", "attributes": {"tags": [str(i) for i in range(30)]}}]}
    found: list[tuple[str, str]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # anything issued through the module would raise
        check_body(body, warnings=found)
    assert found and all(path.startswith("$.recipients[0]") for path, _ in found)
    with pytest.warns(AudienceWarning):  # without a list, scripts still see them
        check_body(body)


@pytest.mark.parametrize("where", ["top", "recipient"])
def test_trigger_properties_limit_is_exact_to_the_byte(where: str) -> None:
    # {"a":"x…"} is 8 bytes plus the x's; 51,200 bytes is the limit (rules 7 and 19).
    def properties(size: int) -> dict[str, Any]:
        return {"a": "é" * ((size - 8) // 2) + "x" * ((size - 8) % 2)}

    def with_properties(size: int) -> dict[str, Any]:
        if where == "top":
            return body(trigger_properties=properties(size))
        return recipient(external_user_id="u1", trigger_properties=properties(size))

    check_body(with_properties(51_200), warnings=[])
    with pytest.raises(InvalidRequestError, match="is 51201 bytes; at most 51200"):
        check_body(with_properties(51_201), warnings=[])
