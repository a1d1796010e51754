"""Scenarios that the thread client and the asyncio client must both pass.

tests/sender/test_sender.py and tests/sender/test_sender_async.py import every ``test_*`` here and
set the ``mode`` fixture. A :class:`Runner` hides the difference: it makes a client for
each call (an asyncio client inside ``asyncio.run``) and returns the :class:`SendResult`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import audience_dsl
from audience_dsl.braze.request import InvalidRequestError, Recipient
from audience_dsl.sender import (
    AsyncBrazeClient,
    AuthenticationError,
    BrazeClient,
    ConnectionFailed,
    JournalError,
    Limits,
    OutcomeUnknown,
    RateLimitError,
    RequestRejected,
    RetryPolicy,
    SendResult,
    ServerError,
    State,
    Timeouts,
)
from audience_dsl.testing import LocalBraze, local_braze

_FIXTURES = (local_braze,)  # the fixture, re-exported to the test modules

KEY = "k1"
FAST = RetryPolicy(backoff=0.005, max_backoff=0.02)
RULE = 'favorite_team = "Lions" and push is opted_in'


class Runner:
    """Sends with a fresh client of the chosen kind; ``options`` go to the constructor."""

    def __init__(self, mode: str, url: str, **options: Any) -> None:
        self.mode = mode
        self.url = url
        self.options: dict[str, Any] = {"retry": FAST, **options}

    def client(self, **options: Any) -> BrazeClient:
        return BrazeClient(options.pop("key", KEY), self.url, **{**self.options, **options})

    def send(self, campaign_id: str = "c1", *, key: str = KEY,
             client_options: dict[str, Any] | None = None, **kwargs: Any) -> SendResult:
        [result] = self.send_many([{"campaign_id": campaign_id, **kwargs}], key=key,
                                  client_options=client_options)
        return result

    def send_many(self, calls: list[dict[str, Any]], *, key: str = KEY,
                  client_options: dict[str, Any] | None = None) -> list[SendResult]:
        """Several sends, one after the other, through one client."""
        options = {**self.options, **(client_options or {})}
        if self.mode == "sync":
            with BrazeClient(key, self.url, **options) as client:
                return [client.trigger_send(c.pop("campaign_id", "c1"), **c) for c in calls]

        async def go() -> list[SendResult]:
            if "sleep" in options and not asyncio.iscoroutinefunction(options["sleep"]):
                plain = options["sleep"]

                async def sleep(seconds: float) -> None:
                    plain(seconds)

                options["sleep"] = sleep
            async with AsyncBrazeClient(key, self.url, **options) as client:
                return [await client.trigger_send(c.pop("campaign_id", "c1"), **c)
                        for c in calls]

        return asyncio.run(go())


@pytest.fixture
def runner(mode: str, local_braze: LocalBraze) -> Runner:
    return Runner(mode, local_braze.url)


def users(n: int, prefix: str = "u") -> list[dict[str, Any]]:
    return [{"external_user_id": f"{prefix}{i}"} for i in range(n)]


# ---- what is sent ----


def test_audience_text_is_compiled_and_broadcast(runner: Runner, local_braze: LocalBraze) -> None:
    result = runner.send(audience=RULE, broadcast=True, trigger_properties={"score": "2-1"})
    assert result.ok
    [sent] = local_braze.accepted
    assert sent.body == {"campaign_id": "c1", "trigger_properties": {"score": "2-1"},
                         "broadcast": True, "audience": audience_dsl.compile(RULE)}
    assert result.outcomes["broadcast"].dispatch_id == sent.dispatch_id
    assert result.requests[0].status_code == 201


def test_audience_ast_and_dict(runner: Runner, local_braze: LocalBraze) -> None:
    audience = audience_dsl.compile(RULE)
    runner.send(audience=audience_dsl.parse(RULE), broadcast=True).raise_for_status()
    runner.send(audience=audience, broadcast=True).raise_for_status()
    assert [a.body["audience"] for a in local_braze.accepted] == [audience, audience]


def test_invalid_audience_dict_is_refused(runner: Runner, local_braze: LocalBraze) -> None:
    with pytest.raises(InvalidRequestError, match=r"\$\.audience\.AND"):
        runner.send(audience={"AND": []}, broadcast=True)
    assert local_braze.requests == []


def test_recipients_are_split_into_requests_of_50(runner: Runner,
                                                  local_braze: LocalBraze) -> None:
    result = runner.send(recipients=users(120), trigger_properties={"n": 1})
    assert result.ok and len(result.accepted) == 120
    sizes = sorted(len(b["recipients"]) for b in local_braze.accepted_bodies())
    assert sizes == [20, 50, 50]
    assert all(count == 1 for count in local_braze.recipient_counts().values())
    dispatch = {a.dispatch_id: a.body for a in local_braze.accepted}
    for outcome in result.accepted:
        body = dispatch[outcome.dispatch_id or ""]
        assert {"external_user_id": outcome.key.split(":", 1)[1]} in body["recipients"]
    assert list(result.outcomes) == [f"external_user_id:u{i}" for i in range(120)]


def test_recipient_models_and_audience_together(runner: Runner,
                                                local_braze: LocalBraze) -> None:
    result = runner.send(recipients=[Recipient(external_user_id="a"),
                                     {"email": "b@x.org", "prioritization": ["identified"]}],
                         audience="age > 21")
    assert result.ok
    body = local_braze.accepted_bodies()[0]
    assert "broadcast" not in body and body["audience"] == audience_dsl.compile("age > 21")


def test_duplicate_recipients_are_refused(runner: Runner, local_braze: LocalBraze) -> None:
    recipients = [*users(60), {"external_user_id": "u3"}]
    with pytest.raises(InvalidRequestError, match="rule 23") as caught:
        runner.send(recipients=recipients)
    assert caught.value.paths == ("$.recipients[60]",)
    assert local_braze.requests == []


def test_problems_in_later_chunks_carry_their_own_index(runner: Runner,
                                                        local_braze: LocalBraze) -> None:
    recipients = [*users(70), {"external_user_id": ""}]
    with pytest.raises(InvalidRequestError) as caught:
        runner.send(recipients=recipients)
    assert caught.value.paths == ("$.recipients[70].external_user_id",)
    assert local_braze.requests == []


def test_broadcast_must_be_said(runner: Runner, local_braze: LocalBraze) -> None:
    with pytest.raises(InvalidRequestError, match="broadcast=True"):
        runner.send(audience=RULE)
    assert local_braze.requests == []


@pytest.mark.parametrize("rule", [
    "x exists or x does not exist",
    'plan = "free" or plan != "free"',
    "push is opted_in or push is not opted_in",
    "(a exists or a does not exist) and (b exists or b does not exist)",
    'team = "Lions" or (x exists or x does not exist)',
])
def test_an_audience_of_everyone_is_refused(runner: Runner, local_braze: LocalBraze,
                                            rule: str) -> None:
    with pytest.raises(InvalidRequestError, match="allow_everyone"):
        runner.send(audience=rule, broadcast=True)
    assert local_braze.requests == []
    assert runner.send(audience=rule, broadcast=True, allow_everyone=True).ok


def test_dry_run_returns_the_bodies_and_sends_nothing(runner: Runner,
                                                      local_braze: LocalBraze) -> None:
    result = runner.send(recipients=users(51), dry_run=True)
    assert result.dry_run and not result.ok
    assert [len(b["recipients"]) for b in result.bodies] == [50, 1]
    assert local_braze.requests == []
    assert KEY not in repr(result) + repr(result.bodies)


# ---- what comes back ----


def test_429_waits_for_the_reset(runner: Runner, local_braze: LocalBraze) -> None:
    local_braze.fault_reset_after = 0.2
    local_braze.inject("429")
    result = runner.send(recipients=users(3))
    assert result.ok
    first, second = local_braze.requests
    assert first.status == 429 and second.status == 201
    assert first.reset is not None and second.time >= first.reset


def test_5xx_is_retried(runner: Runner, local_braze: LocalBraze) -> None:
    local_braze.inject("503", "500", "502", "504")
    assert runner.send(recipients=users(2)).ok
    assert [r.status for r in local_braze.requests] == [503, 500, 502, 504, 201]


def test_5xx_every_time_means_not_sent(runner: Runner, local_braze: LocalBraze) -> None:
    local_braze.inject(*["500"] * 5)
    result = runner.send(recipients=users(2), client_options={"retry": RetryPolicy(
        attempts=3, backoff=0.001)})
    assert [o.state for o in result.outcomes.values()] == [State.NOT_SENT] * 2
    assert len(local_braze.requests) == 3
    with pytest.raises(ServerError) as caught:
        result.raise_for_status()
    assert caught.value.status_code == 500


def test_invalid_campaign_is_rejected_with_brazes_message(runner: Runner,
                                                          local_braze: LocalBraze) -> None:
    result = runner.send("nope", recipients=users(2))
    assert [o.state for o in result.outcomes.values()] == [State.REJECTED] * 2
    assert result.rejected[0].message == "Invalid Campaign ID"
    assert isinstance(result.errors[0], RequestRejected)
    assert len(local_braze.requests) == 1


def test_wrong_key_stops_the_send(runner: Runner, local_braze: LocalBraze) -> None:
    result = runner.send(key="wrong-key", recipients=users(150),
                         client_options={"concurrency": 1})
    assert len(local_braze.requests) == 1
    assert result.counts() == {"accepted": 0, "rejected": 50, "not_sent": 100, "unknown": 0}
    assert isinstance(result.errors[0], AuthenticationError)


def test_a_dropped_answer_is_unknown_and_not_retried(runner: Runner,
                                                     local_braze: LocalBraze) -> None:
    local_braze.inject("drop_after")
    result = runner.send(recipients=users(3))
    assert [o.state for o in result.outcomes.values()] == [State.UNKNOWN] * 3
    assert len(local_braze.requests) == 1 and len(local_braze.accepted) == 1
    assert isinstance(result.errors[0], OutcomeUnknown)


def test_closed_before_reading_is_unknown_too(runner: Runner, local_braze: LocalBraze) -> None:
    # From the client's side this looks exactly like a dropped answer.
    local_braze.inject("close_before")
    result = runner.send(recipients=users(3))
    assert {o.state for o in result.outcomes.values()} == {State.UNKNOWN}
    assert local_braze.accepted == []


def test_a_read_timeout_is_unknown(runner: Runner, local_braze: LocalBraze) -> None:
    local_braze.inject("delay:0.5")
    result = runner.send(recipients=users(2),
                         client_options={"timeouts": Timeouts(read=0.1)})
    assert {o.state for o in result.outcomes.values()} == {State.UNKNOWN}
    time.sleep(0.5)
    assert len(local_braze.accepted) == 1  # it was processed after all


def test_retry_unknown_is_opt_in(runner: Runner, local_braze: LocalBraze) -> None:
    local_braze.inject("drop_after")
    result = runner.send(recipients=users(1), client_options={
        "retry": RetryPolicy(backoff=0.001, retry_unknown=True)})
    assert result.ok
    assert local_braze.recipient_counts()["external_user_id:u0"] == 2  # the documented risk


def test_a_refused_connection_is_retried_then_not_sent(mode: str) -> None:
    with socket_without_server() as url:
        result = Runner(mode, url).send(recipients=users(2), client_options={
            "retry": RetryPolicy(attempts=3, backoff=0.001)})
    assert {o.state for o in result.outcomes.values()} == {State.NOT_SENT}
    assert isinstance(result.errors[0], ConnectionFailed)
    assert result.requests[0].attempts == 3


def test_a_rate_limit_wait_too_long_means_not_sent(runner: Runner,
                                                   local_braze: LocalBraze) -> None:
    local_braze.fault_reset_after = 30
    local_braze.inject("429")
    result = runner.send(recipients=users(2), client_options={
        "retry": RetryPolicy(max_rate_limit_wait=1.0)})
    assert {o.state for o in result.outcomes.values()} == {State.NOT_SENT}
    assert isinstance(result.errors[0], RateLimitError)
    assert len(local_braze.requests) == 1


# ---- pacing ----


def test_pacing_follows_the_limits(runner: Runner, local_braze: LocalBraze) -> None:
    limits = Limits(requests_per_hour=4, hour=0.4)
    local_braze.limits = limits
    local_braze.reset()
    result = runner.send(recipients=users(450), client_options={"limits": limits})
    assert result.ok
    assert all(r.status == 201 for r in local_braze.requests)  # not a single 429
    times = [r.time for r in local_braze.requests]
    assert times[-1] - times[0] >= 0.39  # 9 requests, 4 per 0.4 s window: 3 windows


def test_pacing_learns_from_the_headers(runner: Runner, local_braze: LocalBraze) -> None:
    # The client thinks it may send 250,000 an hour; the server says 3 per 0.2 s.
    local_braze.limits = Limits(requests_per_hour=3, hour=0.2)
    local_braze.reset()
    result = runner.send(recipients=users(500), client_options={"concurrency": 1})
    assert result.ok
    rate_limited = [r for r in local_braze.requests if r.status == 429]
    assert len(rate_limited) == 0  # remaining=0 in the headers stopped it every time


def test_broadcasts_are_paced_per_audience(runner: Runner, local_braze: LocalBraze) -> None:
    limits = Limits(per_audience_per_minute=2, minute=0.2)
    local_braze.limits = limits
    local_braze.reset()
    calls = [{"audience": RULE, "broadcast": True} for _ in range(5)]
    results = runner.send_many(calls, client_options={"limits": limits})
    assert all(r.ok for r in results)
    assert all(r.status == 201 for r in local_braze.requests)


# ---- the journal ----


def test_journal_resume_sends_only_what_was_not_accepted(
    runner: Runner, local_braze: LocalBraze, tmp_path: Path
) -> None:
    journal = tmp_path / "send.jsonl"
    seen: list[int] = []

    def crash(outcome: Any) -> None:
        seen.append(outcome.index)
        if len(seen) == 3:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        runner.send(recipients=users(500), journal=journal, on_request=crash,
                    client_options={"concurrency": 2})
    first = local_braze.recipient_counts()
    assert 150 <= sum(first.values()) < 500
    result = runner.send(recipients=users(500), journal=journal)
    assert result.ok
    counts = local_braze.recipient_counts()
    assert len(counts) == 500 and set(counts.values()) == {1}
    assert sum(o.from_journal for o in result.outcomes.values()) == sum(first.values())
    # A third run sends nothing at all.
    before = len(local_braze.requests)
    assert runner.send(recipients=users(500), journal=journal).ok
    assert len(local_braze.requests) == before


def test_journal_keeps_unknown_recipients_unsent(runner: Runner, local_braze: LocalBraze,
                                                 tmp_path: Path) -> None:
    journal = tmp_path / "send.jsonl"
    local_braze.inject("drop_after")
    first = runner.send(recipients=users(60), journal=journal,
                        client_options={"concurrency": 1})
    assert len(first.unknown) == 50 and len(first.accepted) == 10
    again = runner.send(recipients=users(60), journal=journal)
    assert len(again.unknown) == 50 and len(local_braze.accepted) == 2
    last = runner.send(recipients=users(60), journal=journal, resend_unknown=True)
    assert last.ok and len(local_braze.accepted) == 3


def test_journal_resends_rejected_and_not_sent(runner: Runner, local_braze: LocalBraze,
                                               tmp_path: Path) -> None:
    journal = tmp_path / "send.jsonl"
    local_braze.inject(*["503"] * 5)
    first = runner.send(recipients=users(2), journal=journal, client_options={
        "retry": RetryPolicy(attempts=2, backoff=0.001)})
    assert len(first.not_sent) == 2
    assert runner.send(recipients=users(2), journal=journal).ok


def test_journal_of_another_campaign_is_refused(runner: Runner, local_braze: LocalBraze,
                                                tmp_path: Path) -> None:
    journal = tmp_path / "send.jsonl"
    runner.send(recipients=users(1), journal=journal).raise_for_status()
    with pytest.raises(JournalError, match="c1"):
        runner.send("c2", recipients=users(1), journal=journal)


def test_journal_with_a_torn_last_line(runner: Runner, local_braze: LocalBraze,
                                      tmp_path: Path) -> None:
    journal = tmp_path / "send.jsonl"
    runner.send(recipients=users(60), journal=journal).raise_for_status()
    with journal.open("a", encoding="utf-8") as handle:
        handle.write('{"event": "outcome", "key": "external_us')  # died while writing
    again = runner.send(recipients=users(60), journal=journal)
    assert again.ok and all(o.from_journal for o in again.outcomes.values())
    assert journal.read_bytes().endswith(b"\n")  # the torn line was cut off
    assert runner.send(recipients=users(60), journal=journal).ok  # still readable
    counts = local_braze.recipient_counts()
    assert len(counts) == 60 and set(counts.values()) == {1}


def test_429s_do_not_use_up_the_5xx_tries(runner: Runner, local_braze: LocalBraze) -> None:
    local_braze.fault_reset_after = 0.01
    local_braze.inject("429", "429", "429", "503", "503")
    result = runner.send(recipients=users(1), client_options={
        "retry": RetryPolicy(attempts=3, backoff=0.001)})
    assert result.ok and result.requests[0].attempts == 6


def test_journal_for_a_broadcast(runner: Runner, local_braze: LocalBraze,
                                 tmp_path: Path) -> None:
    journal = tmp_path / "send.jsonl"
    runner.send(audience=RULE, broadcast=True, journal=journal).raise_for_status()
    again = runner.send(audience=RULE, broadcast=True, journal=journal)
    assert again.ok and again.outcomes["broadcast"].from_journal
    assert len(local_braze.requests) == 1


# ---- the key stays secret ----


def test_the_key_never_shows(runner: Runner, local_braze: LocalBraze,
                             caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-very-secret-123"
    local_braze.keys[secret] = frozenset({"campaigns.trigger.send"})
    caplog.set_level(logging.DEBUG)
    local_braze.inject("500", "drop_after")
    result = runner.send(key=secret, recipients=users(2), client_options={
        "retry": RetryPolicy(attempts=1)})
    shown = [repr(result), str(result.errors), repr(result.errors), caplog.text]
    for error in result.errors:
        shown += [str(error), repr(error.request), repr(error.response)]
        assert error.request is not None
        assert error.request.headers["Authorization"] == "Bearer [redacted]"
    wrong = runner.send(key="sk-wrong-456", recipients=users(1))
    shown += [str(e) + repr(e.request) + repr(e.response) for e in wrong.errors]
    with BrazeClient(secret, local_braze.url) as client:
        shown.append(repr(client))
        shown.append(repr(client.trigger_send("c1", recipients=users(1), dry_run=True).bodies))
    text = "\n".join(shown)
    assert secret not in text and "sk-wrong-456" not in text


# ---- shared clients ----


def test_one_client_many_threads(mode: str, local_braze: LocalBraze) -> None:
    if mode == "sync":
        with BrazeClient(KEY, local_braze.url, retry=FAST) as client:
            results: list[SendResult] = []

            def work(n: int) -> None:
                results.append(client.trigger_send("c1", recipients=users(60, f"t{n}-")))

            threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    else:
        async def go() -> list[SendResult]:
            async with AsyncBrazeClient(KEY, local_braze.url, retry=FAST) as client:
                return list(await asyncio.gather(*(
                    client.trigger_send("c1", recipients=users(60, f"t{n}-"))
                    for n in range(4))))

        results = asyncio.run(go())
    assert all(r.ok for r in results) and len(results) == 4
    counts = local_braze.recipient_counts()
    assert len(counts) == 240 and set(counts.values()) == {1}


# ---- fake time (MockTransport) ----


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def mock_runner(mode: str, handler: Callable[[httpx.Request], httpx.Response],
                fake: FakeTime, **options: Any) -> Runner:
    transport: Any = httpx.MockTransport(handler)
    return Runner(mode, "https://rest.iad-01.braze.com", transport=transport,
                  clock=fake.clock, sleep=fake.sleep, **options)


def test_429_sleeps_exactly_until_the_reset_header(mode: str) -> None:
    fake = FakeTime()
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(fake.now)
        if len(calls) == 1:  # upper-case header names: read case-insensitively
            return httpx.Response(429, json={"message": "Rate Limited"}, headers={
                "X-RATELIMIT-LIMIT": "250000", "X-RateLimit-Remaining": "0",
                "X-RATELIMIT-RESET": str(int(fake.now) + 1800)})
        return httpx.Response(201, json={"dispatch_id": "d1", "message": "success"})

    result = mock_runner(mode, handler, fake).send(recipients=users(1))
    assert result.ok and len(calls) == 2
    assert calls[1] >= calls[0] + 1800  # waited the whole window, no give-up before it
    assert math.isclose(sum(fake.sleeps), 1800, abs_tol=1.0)


def test_429_without_headers_backs_off(mode: str) -> None:
    fake = FakeTime()
    statuses = iter([429, 429, 201])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses), json={"message": "x", "dispatch_id": "d"})

    assert mock_runner(mode, handler, fake).send(recipients=users(1)).ok
    assert len(fake.sleeps) == 2 and all(s > 0 for s in fake.sleeps)


def test_backoff_grows_and_is_bounded(mode: str) -> None:
    fake = FakeTime()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"message": "Service Unavailable"})

    result = mock_runner(mode, handler, fake, retry=RetryPolicy(
        attempts=5, backoff=1.0, max_backoff=4.0)).send(recipients=users(1))
    assert result.not_sent and len(fake.sleeps) == 4
    assert 0.5 <= fake.sleeps[0] <= 1.0 and 1.0 <= fake.sleeps[1] <= 2.0
    assert all(s <= 4.0 for s in fake.sleeps)


def test_connect_errors_are_retried_read_errors_are_not(mode: str) -> None:
    fake = FakeTime()
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) == 2:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(201, json={"dispatch_id": "d", "message": "success"})

    result = mock_runner(mode, handler, fake).send(recipients=users(1))
    assert len(calls) == 2 and result.unknown
    assert result.requests[0].attempts == 2


def test_202_queued_is_accepted(mode: str) -> None:
    fake = FakeTime()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, json={"message": "queued"})

    result = mock_runner(mode, handler, fake).send(recipients=users(1))
    assert result.ok and result.accepted[0].dispatch_id is None


def test_the_request_on_the_wire(mode: str) -> None:
    fake = FakeTime()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"dispatch_id": "d", "message": "success"})

    mock_runner(mode, handler, fake).send(recipients=users(1)).raise_for_status()
    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == "https://rest.iad-01.braze.com/campaigns/trigger/send"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert b"api_key" not in request.content


class socket_without_server:
    """A URL on 127.0.0.1 where nothing listens."""

    def __enter__(self) -> str:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        pass


def test_a_status_may_be_declared_ambiguous(runner: Runner, local_braze: LocalBraze) -> None:
    local_braze.inject("504")
    result = runner.send(recipients=users(2), client_options={
        "retry": RetryPolicy(unknown_statuses=frozenset({504}))})
    assert {o.state for o in result.outcomes.values()} == {State.UNKNOWN}
    assert isinstance(result.errors[0], OutcomeUnknown) and len(local_braze.requests) == 1
