"""Sending one API-triggered campaign through Braze's ``POST /campaigns/trigger/send``.

The public names of the sender: :class:`BrazeClient` and :class:`AsyncBrazeClient`, their
configuration (:class:`Timeouts`, :class:`RetryPolicy`, :class:`Limits`), their results and
their errors. docs/sending.md shows them at work.
"""

from __future__ import annotations

from audience_dsl.sender.client import (
    AsyncBrazeClient,
    AuthenticationError,
    BrazeClient,
    BrazeHTTPError,
    ConnectionFailed,
    JournalError,
    Limits,
    OutcomeUnknown,
    Pacer,
    RateLimitError,
    RecipientOutcome,
    RequestInfo,
    RequestOutcome,
    RequestRejected,
    ResponseInfo,
    RetryPolicy,
    SendError,
    SendInterrupted,
    SendResult,
    ServerError,
    State,
    Timeouts,
    always_true,
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
]
