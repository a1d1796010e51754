"""The tries of one request, written once and free of I/O.

:func:`attempts` is a generator (as h11 and httpcore write their protocol logic): it
yields a command — :class:`Wait` ("sleep this long") or :class:`Post` ("send the
body") — and is sent back what happened: an :class:`Answer`, a :class:`Failure`, or
:data:`STOP` when the send is being stopped. Its return value is the request's
:class:`~audience_dsl.sender.results.RequestOutcome`. The thread client and the asyncio
client (:mod:`audience_dsl.sender.client`) only carry the commands out::

    core = attempts(job, context)
    command = next(core)
    while True:
        reply = carry_out(command)            # sleep, or POST and read the answer
        command = core.send(reply)            # ... until StopIteration(outcome)

Every decision lives here: what a status means, when to retry, how long to back off,
how long rate limits may hold a request (``RetryPolicy.max_rate_limit_wait`` bounds the
pacer's waits, a 429's reset and the backoff after a 429 without a usable reset, all
together).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from audience_dsl.sender.config import RetryPolicy
from audience_dsl.sender.errors import (
    AuthenticationError,
    BrazeHTTPError,
    ConnectionFailed,
    OutcomeUnknown,
    RateLimitError,
    RequestInfo,
    RequestRejected,
    ResponseInfo,
    SendError,
    SendInterrupted,
    ServerError,
)
from audience_dsl.sender.pacing import Pacer, read_reset
from audience_dsl.sender.plan import Job
from audience_dsl.sender.results import RequestOutcome, State

__all__ = ["STOP", "Answer", "Context", "Failure", "Post", "Wait", "attempts", "failure"]

#: The longest single wait for the pacer, so the pacer is asked again now and then.
SLICE = 5.0


@dataclass(frozen=True)
class Wait:
    """Sleep ``seconds`` (reply ``None``, or :data:`STOP` if the send is stopping)."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class Post:
    """Send the job's body (reply an :class:`Answer` or a :class:`Failure`). ``first`` is
    set on the first try: the driver journals the attempt before it."""

    first: bool


@dataclass(frozen=True)
class Answer:
    """A response: status, headers (names in lower case) and at most the body's first
    ``MAX_RESPONSE_BYTES`` (``truncated`` if there was more). Once the status has come,
    the response is judged by it and the part of the body read, even if the rest never
    came (``incomplete`` says why)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False
    incomplete: str = ""  # why the body ended early (the deadline, a dropped connection)


@dataclass(frozen=True)
class Failure:
    """No response. ``sent``: the request may have reached Braze (so it may have been
    processed); ``what`` says what happened, already scrubbed of the key."""

    sent: bool
    what: str


class _Stop:
    def __repr__(self) -> str:
        return "STOP"


#: The reply to any command when the send is stopping (Ctrl-C, a cancelled task, an
#: earlier fatal error).
STOP: Final = _Stop()

Command = Wait | Post
Reply = Answer | Failure | _Stop | None

# Raised before the request left: safe to retry.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
                    httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.ProxyError)


def failure(exc: httpx.HTTPError, scrub: Callable[[str], str]) -> Failure:
    """What an httpx exception means for the request: never sent, or maybe processed."""
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return Failure(sent=not isinstance(exc, _NOT_SENT_ERRORS), what=scrub(what))


@dataclass(frozen=True)
class Context:
    """What the tries of every request of one send share."""

    info: Callable[[Job], RequestInfo]
    policy: RetryPolicy
    pacer: Pacer
    clock: Callable[[], float]
    rng: random.Random
    scrub: Callable[[str], str]


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return raw.decode("utf-8", "replace")


def _braze_message(body: Any) -> str:
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("message", "error") if body.get(k)]
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            parts.append("; ".join(str(e) for e in errors))
        return " - ".join(parts)[:1000]
    return str(body)[:200]


def attempts(job: Job, context: Context) -> Generator[Command, Reply, RequestOutcome]:
    """The tries of one request (see the module docstring)."""
    policy = context.policy
    scrub = context.scrub
    info = context.info(job)
    tries = 0  # requests made
    failures = 0  # 5xx answers, connections that never opened, ambiguous statuses
    limited = 0  # 429 answers
    waited = 0.0  # seconds spent waiting for rate limits
    last: RequestOutcome | None = None  # how the previous try ended, if it is retried

    def final(state: State, *, error: SendError | None = None,
              response: ResponseInfo | None = None, dispatch_id: str | None = None,
              message: str = "", warning: str = "") -> RequestOutcome:
        return RequestOutcome(
            job.index, job.keys, state,
            status_code=response.status_code if response is not None else None,
            dispatch_id=dispatch_id, message=scrub(message or (error.message if error else "")),
            attempts=tries, error=error, response=response, warning=scrub(warning))

    def stopped() -> RequestOutcome:
        if last is not None and last.state is State.UNKNOWN:
            return last
        why = f"; the last try: {last.message}" if last is not None else ""
        error = SendInterrupted(f"not sent: the send was stopped{why}", request=info)
        return final(State.NOT_SENT, error=error,
                     response=last.response if last is not None else None)

    while True:
        # Wait for the pacer: a slot in every bucket, within the rate-limit budget.
        while (delay := context.pacer.reserve(job.buckets)) > 0:
            if waited + delay > policy.max_rate_limit_wait:
                error = RateLimitError(
                    f"not sent: the rate-limit window opens in {delay:.0f} s; with the "
                    f"{waited:.0f} s already waited that is more than the allowed "
                    f"{policy.max_rate_limit_wait:.0f} s (RetryPolicy.max_rate_limit_wait)",
                    request=info, response=last.response if last is not None else None)
                return final(State.NOT_SENT, error=error)
            step = min(delay, SLICE)
            if (yield Wait(step, "pacing")) is STOP:
                return stopped()
            waited += step
        tries += 1
        reply = yield Post(first=tries == 1)
        if reply is STOP:  # stopped before it left
            tries -= 1
            return stopped()
        if isinstance(reply, Failure):
            failures += 1
            if not reply.sent:
                outcome = final(State.NOT_SENT, error=ConnectionFailed(
                    f"could not reach Braze after {tries} tries: {reply.what}", request=info))
            else:
                outcome = final(State.UNKNOWN, error=OutcomeUnknown(
                    f"the request was sent but no answer came ({reply.what}); Braze may "
                    "have processed it", request=info))
            if failures >= policy.attempts or (reply.sent and not policy.retry_unknown):
                return outcome
            last = outcome
            if (yield Wait(policy.delay(failures, context.rng), reply.what)) is STOP:
                return stopped()
            continue
        if not isinstance(reply, Answer):
            raise TypeError(f"attempts() was sent {reply!r}")
        status = reply.status
        body = _decode(reply.body)
        response = ResponseInfo(status, dict(reply.headers), body, reply.truncated)
        reset = context.pacer.observe(job.buckets, status, reply.headers)
        message = scrub(_braze_message(body))
        cut = " (only its first part was read)" if reply.truncated else ""
        if reply.incomplete:
            cut = f" (the body was cut short: {scrub(reply.incomplete)})"
        if 200 <= status < 300:
            dispatch = body.get("dispatch_id") if isinstance(body, dict) else None
            warning = ""
            if not isinstance(dispatch, str):
                dispatch = None
                shown = "a JSON object" if isinstance(body, dict) else \
                    f"not JSON: {str(body)[:80]!r}"
                warning = (f"Braze answered {status} without a dispatch_id (the body was "
                           f"{shown}{cut}); counted as accepted, but check the campaign")
            return final(State.ACCEPTED, response=response, dispatch_id=dispatch,
                         message=message or "success", warning=warning)
        if status == 429:
            limited += 1
            now = context.clock()
            usable, problem = read_reset(reply.headers, now)
            if reset and reset > now:
                wait = reset - now
                note = f"the window resets in {wait:.0f} s"
            else:
                wait = policy.delay(limited, context.rng)
                note = f"Braze gave {problem or 'no usable reset'}; backing off {wait:.1f} s"
            problem_text: str | None = None
            if waited + wait > policy.max_rate_limit_wait:
                problem_text = (f"rate limited (429); {note}, and with the {waited:.0f} s already "
                         f"waited that is more than the allowed "
                         f"{policy.max_rate_limit_wait:.0f} s (RetryPolicy.max_rate_limit_wait)")
            elif usable is None and limited >= policy.attempts:
                problem_text = (f"rate limited (429) {limited} times, each without a usable reset "
                         f"(the last: {problem}); gave up after {waited:.1f} s of backoff")
            elif limited > policy.rate_limit_retries:
                problem_text = f"rate limited (429) {limited} times; gave up"
            if problem_text is not None:
                return final(State.NOT_SENT, response=response, error=RateLimitError(
                    problem_text, request=info, response=response))
            last = final(State.NOT_SENT, response=response, message=f"429: {note}")
            if not (reset and reset > now):
                if (yield Wait(wait, f"429: {note}")) is STOP:
                    return stopped()
                waited += wait
            continue  # with a usable reset, the pacer holds the request until then
        if status in policy.unknown_statuses:
            failures += 1
            outcome = final(State.UNKNOWN, response=response, message=message,
                            error=OutcomeUnknown(
                                f"Braze answered {status}, which you chose to treat as "
                                f"ambiguous: {message}", request=info, response=response))
            if not (policy.retry_unknown and failures < policy.attempts):
                return outcome
            last = outcome
            if (yield Wait(policy.delay(failures, context.rng), str(status))) is STOP:
                return stopped()
            continue
        if status in policy.retry_statuses:
            failures += 1
            outcome = final(State.NOT_SENT, response=response, message=message,
                            error=ServerError(
                                f"Braze answered {status} on all {tries} tries: {message}",
                                request=info, response=response))
            if failures >= policy.attempts:
                return outcome
            last = outcome
            if (yield Wait(policy.delay(failures, context.rng), str(status))) is STOP:
                return stopped()
            continue
        cls: type[BrazeHTTPError]
        cls = AuthenticationError if status in (401, 403) else RequestRejected
        if status >= 500:
            cls = ServerError
        state = State.NOT_SENT if status >= 500 else State.REJECTED
        return final(state, response=response, message=message, error=cls(
            f"Braze answered {status}{cut}: {message}", request=info, response=response))
