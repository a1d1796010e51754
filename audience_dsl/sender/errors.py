"""The sender's errors, and the scrubbing that keeps the API key out of every message.

All derive from the package's one :class:`~audience_dsl.errors.SendError`, which keeps
the request (:class:`~audience_dsl.errors.RequestInfo`, the key redacted) and, if there
was one, the response (:class:`~audience_dsl.errors.ResponseInfo`)::

    SendError
    ├── ConnectionFailed        the request never reached Braze
    ├── OutcomeUnknown          sent, but no answer: it may have been processed
    ├── BrazeHTTPError          Braze answered with an error status
    │   ├── AuthenticationError     401 or 403: key, permission or host is wrong
    │   ├── RateLimitError          429 and no wait within the allowed time
    │   ├── ServerError             5xx on every try
    │   └── RequestRejected         another 4xx (invalid campaign, ...)
    ├── SendInterrupted         the send stopped before every request was made
    └── JournalError            the journal is in use, belongs to another send, or is
                                not a journal

httpx's exceptions never escape; their text passes through :class:`Scrubber` first.
"""

from __future__ import annotations

from audience_dsl.errors import RequestInfo, ResponseInfo, SendError

__all__ = [
    "REDACTED",
    "AuthenticationError",
    "BrazeHTTPError",
    "ConnectionFailed",
    "JournalError",
    "OutcomeUnknown",
    "RateLimitError",
    "RequestInfo",
    "RequestRejected",
    "ResponseInfo",
    "Scrubber",
    "SendError",
    "SendInterrupted",
    "ServerError",
]

#: What stands for the key wherever a header or a message would show it.
REDACTED = "[redacted]"


class ConnectionFailed(SendError):
    """The request never reached Braze (after every allowed try)."""


class OutcomeUnknown(SendError):
    """The request was sent but no answer came: Braze may have processed it."""


class BrazeHTTPError(SendError):
    """Braze answered with an error status."""


class AuthenticationError(BrazeHTTPError):
    """401 or 403: a wrong key, a key without ``campaigns.trigger.send``, or the wrong host."""


class RateLimitError(BrazeHTTPError):
    """429, and the client may not wait long enough (or the server gave no usable reset)."""


class ServerError(BrazeHTTPError):
    """5xx on every try (Braze documents that nothing was sent)."""


class RequestRejected(BrazeHTTPError):
    """Another 4xx: Braze refused the request (nothing was sent)."""


class SendInterrupted(SendError):
    """The send stopped before every request was made (an earlier fatal error, a hook,
    Ctrl-C or a cancelled task)."""


class JournalError(SendError):
    """The journal is held by another process, belongs to another send, is not a
    journal, or cannot be read or written."""


class Scrubber:
    """Removes a secret from text that came from elsewhere (httpx, h11, a server).

    The key is checked to be printable ASCII where it enters, but a library's message
    may still quote a header; every foreign text passes through here before it reaches
    an outcome, an exception, the journal or a log record.
    """

    __slots__ = ("_secret",)

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def __repr__(self) -> str:
        return f"Scrubber({REDACTED})"

    def __call__(self, text: str) -> str:
        secret = self._secret
        if not secret:
            return text
        for form in (secret, repr(secret)[1:-1], secret.encode("ascii", "backslashreplace")
                     .decode("ascii")):
            if form:
                text = text.replace(form, REDACTED)
        return text
