"""What a send comes to: each recipient's :class:`State`, each request's outcome, and the
:class:`SendResult` that holds them.

``accepted``   Braze answered 2xx (``dispatch_id`` set if Braze gave one).
``rejected``   Braze answered 4xx: the request was refused and nothing was sent.
``not_sent``   the request certainly did not reach Braze's processing.
``unknown``    the request left, but no answer came back: Braze may have sent it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from audience_dsl.sender.errors import ResponseInfo, SendError, SendInterrupted

__all__ = ["BROADCAST", "RecipientOutcome", "RequestOutcome", "SendResult", "State",
           "partial_result"]

#: The pseudo-recipient of a broadcast, in results and the journal.
BROADCAST = "broadcast"


class State(StrEnum):
    """What happened to one recipient (see the module docstring)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NOT_SENT = "not_sent"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RecipientOutcome:
    """One recipient's state; ``key`` is its identity (``external_user_id:u-1``)."""

    key: str
    state: State
    dispatch_id: str | None = None
    message: str = ""
    request: int | None = None
    from_journal: bool = False


@dataclass(frozen=True)
class RequestOutcome:
    """One request: its recipients' keys, state, status, tries and error if any.

    ``warning`` says what was odd about an accepted answer (no ``dispatch_id``, a body
    that is not Braze's JSON); empty otherwise.
    """

    index: int
    keys: tuple[str, ...]
    state: State
    status_code: int | None = None
    dispatch_id: str | None = None
    message: str = ""
    attempts: int = 0
    error: SendError | None = None
    response: ResponseInfo | None = None
    warning: str = ""

    def recipients(self) -> list[RecipientOutcome]:
        return [RecipientOutcome(key, self.state, self.dispatch_id, self.message, self.index)
                for key in self.keys]


@dataclass
class SendResult:
    """The outcome of :meth:`BrazeClient.trigger_send`, recipient by recipient.

    For a broadcast there is one pseudo-recipient, ``"broadcast"``. A dry run sends
    nothing: ``bodies`` are exactly what would be sent, and ``outcomes`` hold what a
    journal already records. ``interrupted`` is set on the partial result of a send
    stopped by Ctrl-C or a cancelled task (see :func:`partial_result`).
    """

    campaign_id: str
    outcomes: dict[str, RecipientOutcome] = field(default_factory=dict)
    requests: list[RequestOutcome] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False
    interrupted: bool = False

    def _in(self, state: State) -> list[RecipientOutcome]:
        return [o for o in self.outcomes.values() if o.state is state]

    @property
    def accepted(self) -> list[RecipientOutcome]:
        return self._in(State.ACCEPTED)

    @property
    def rejected(self) -> list[RecipientOutcome]:
        return self._in(State.REJECTED)

    @property
    def not_sent(self) -> list[RecipientOutcome]:
        return self._in(State.NOT_SENT)

    @property
    def unknown(self) -> list[RecipientOutcome]:
        return self._in(State.UNKNOWN)

    @property
    def ok(self) -> bool:
        """Every recipient accepted (a dry run is never ok: nothing was sent)."""
        return not self.dry_run and not self.interrupted and \
            all(o.state is State.ACCEPTED for o in self.outcomes.values())

    @property
    def errors(self) -> list[SendError]:
        return [r.error for r in self.requests if r.error is not None]

    @property
    def warnings(self) -> list[str]:
        """What was odd about accepted answers (see :attr:`RequestOutcome.warning`)."""
        return [r.warning for r in self.requests if r.warning]

    def counts(self) -> dict[str, int]:
        return {state.value: len(self._in(state)) for state in State}

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary: counts, each recipient's outcome, each request's."""
        recipients = [
            {"key": o.key, "state": o.state.value, "dispatch_id": o.dispatch_id,
             "message": o.message, "from_journal": o.from_journal}
            for o in self.outcomes.values()
        ]
        if self.dry_run:
            return {"campaign_id": self.campaign_id, "dry_run": True, "bodies": self.bodies,
                    "journal": recipients}
        out: dict[str, Any] = {
            "campaign_id": self.campaign_id,
            "ok": self.ok,
            "counts": self.counts(),
            "recipients": recipients,
            "requests": [
                {"index": r.index, "state": r.state.value, "status_code": r.status_code,
                 "attempts": r.attempts, "recipients": len(r.keys), "message": r.message,
                 "warning": r.warning}
                for r in self.requests
            ],
        }
        if self.interrupted:
            out["interrupted"] = True
        return out

    def raise_for_status(self) -> SendResult:
        """Raise the first request's error unless every recipient was accepted."""
        if self.ok or self.dry_run:
            return self
        errors = self.errors
        if errors:
            raise errors[0]
        raise SendInterrupted(f"not every recipient was accepted: {self.counts()}")

    def __repr__(self) -> str:
        if self.dry_run:
            return f"SendResult(campaign_id={self.campaign_id!r}, dry_run=True, " \
                   f"requests={len(self.bodies)})"
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        stopped = ", interrupted=True" if self.interrupted else ""
        return f"SendResult(campaign_id={self.campaign_id!r}, {counts}{stopped})"


def partial_result(exc: BaseException) -> SendResult | None:
    """The partial :class:`SendResult` of a send that an exception stopped.

    A ``KeyboardInterrupt`` (Ctrl-C), an ``asyncio.CancelledError`` (a cancelled task)
    or an exception raised by an ``on_request`` hook leaves ``trigger_send`` with the
    result so far attached (as ``send_result``; for a task, on the ``CancelledError``
    that ``await task`` raises or on its ``__context__``): what was accepted, what is
    ``unknown`` (in flight when it stopped) and what was ``not_sent``. ``None`` for any
    other exception.
    """
    seen: BaseException | None = exc
    for _ in range(8):  # asyncio re-raises a cancellation as a new error, with ours as context
        if seen is None:
            return None
        result = getattr(seen, "send_result", None)
        if isinstance(result, SendResult):
            return result
        seen = seen.__context__
    return None
