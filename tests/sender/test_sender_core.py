"""The tries of one request, driven by hand: the core of both clients has no I/O."""

from __future__ import annotations

import random
from pathlib import Path

from audience_dsl.braze.limits import Limits
from audience_dsl.sender import RetryPolicy, State
from audience_dsl.sender.attempts import STOP, Answer, Context, Failure, Post, Wait, attempts
from audience_dsl.sender.errors import RequestInfo
from audience_dsl.sender.pacing import Pacer
from audience_dsl.sender.plan import Job

JOB = Job(0, {"campaign_id": "c1", "recipients": [{"external_user_id": "u"}]},
          ("external_user_id:u",), ("hour",))
OK = Answer(201, {}, b'{"dispatch_id": "d1", "message": "success"}')


def context(policy: RetryPolicy = RetryPolicy(), now: float = 1000.0) -> Context:
    return Context(lambda job: RequestInfo("POST", "u", {}, job.body), policy,
                   Pacer(Limits(), lambda: now), lambda: now, random.Random(1), str)


def drive(core: object, replies: list[object]) -> tuple[list[object], object]:
    """Send ``replies`` in turn (None to every Wait); the commands seen and the outcome."""
    commands: list[object] = []
    reply: object = None
    try:
        while True:
            command = core.send(reply)  # type: ignore[attr-defined]
            commands.append(command)
            reply = replies.pop(0) if isinstance(command, Post) else None
    except StopIteration as end:
        return commands, end.value


def test_5xx_then_success() -> None:
    commands, outcome = drive(attempts(JOB, context()), [
        Answer(503, {}, b"{}"), Answer(500, {}, b"{}"), OK])
    assert [type(c) for c in commands] == [Post, Wait, Post, Wait, Post]
    assert [c.first for c in commands if isinstance(c, Post)] == [True, False, False]
    assert outcome.state is State.ACCEPTED and outcome.attempts == 3  # type: ignore[attr-defined]


def test_a_lost_answer_is_unknown_and_not_retried() -> None:
    commands, outcome = drive(attempts(JOB, context()), [Failure(sent=True, what="dropped")])
    assert len(commands) == 1 and outcome.state is State.UNKNOWN  # type: ignore[attr-defined]


def test_stop_while_waiting_to_retry_is_not_sent() -> None:
    core = attempts(JOB, context())
    assert isinstance(core.send(None), Post)
    assert isinstance(core.send(Answer(503, {}, b"{}")), Wait)
    try:
        core.send(STOP)
    except StopIteration as end:
        assert end.value.state is State.NOT_SENT
        assert "stopped" in end.value.message
    else:
        raise AssertionError("the core went on after STOP")


def test_a_429_with_a_believable_reset_waits_through_the_pacer() -> None:
    now = 1000.0
    core = attempts(JOB, context(now=now))
    assert isinstance(core.send(None), Post)
    wait = core.send(Answer(429, {"x-ratelimit-reset": str(now + 30)}, b"{}"))
    assert isinstance(wait, Wait) and wait.seconds == 5.0 and wait.reason == "pacing"


def test_the_client_modules_decide_nothing() -> None:
    # Statuses and retry rules live in attempts.py only: the drivers carry commands out.
    source = Path(__file__).parents[2] / "audience_dsl" / "sender"
    for name in ("client.py", "base.py"):
        text = (source / name).read_text(encoding="utf-8")
        for word in ("429", "503", "retry_statuses", "unknown_statuses", "max_rate_limit_wait"):
            assert word not in text, f"{name} decides about {word}"
