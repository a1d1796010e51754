"""Sending one API-triggered campaign through Braze's ``POST /campaigns/trigger/send``.

The public names of the sender: :class:`BrazeClient` and :class:`AsyncBrazeClient`, their
configuration (:class:`Timeouts`, :class:`RetryPolicy`, :class:`Limits`), their results and
their errors. docs/sending.md shows them at work. The package, stage by stage::

    config.py    Timeouts, RetryPolicy (and Limits, from audience_dsl.braze.limits)
    errors.py    the error tree under audience_dsl.errors.SendError; the key scrubber
    plan.py      everything decided before sending; the everyone-audience guard
    pacing.py    the Pacer: rate-limit windows and X-RateLimit-* headers
    attempts.py  the tries of one request, free of I/O (a generator of commands)
    journal.py   the lock and record of a send
    results.py   State, outcomes, SendResult
    client.py    the thread and asyncio drivers
"""

from __future__ import annotations

from audience_dsl.sender.client import AsyncBrazeClient, BrazeClient
from audience_dsl.sender.config import Limits, RetryPolicy, Timeouts
from audience_dsl.sender.errors import (
    AuthenticationError,
    BrazeHTTPError,
    ConnectionFailed,
    JournalError,
    OutcomeUnknown,
    RateLimitError,
    RequestInfo,
    RequestRejected,
    ResponseInfo,
    SendError,
    SendInterrupted,
    ServerError,
)
from audience_dsl.sender.pacing import Pacer
from audience_dsl.sender.plan import always_true
from audience_dsl.sender.results import (
    RecipientOutcome,
    RequestOutcome,
    SendResult,
    State,
    partial_result,
)

__all__ = [
    "AsyncBrazeClient",
    "AuthenticationError",
    "BrazeClient",
    "BrazeHTTPError",
    "ConnectionFailed",
    "JournalError",
    "Limits",
    "OutcomeUnknown",
    "Pacer",
    "RateLimitError",
    "RecipientOutcome",
    "RequestInfo",
    "RequestOutcome",
    "RequestRejected",
    "ResponseInfo",
    "RetryPolicy",
    "SendError",
    "SendInterrupted",
    "SendResult",
    "ServerError",
    "State",
    "Timeouts",
    "always_true",
    "partial_result",
]
