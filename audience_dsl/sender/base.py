"""What the thread and the asyncio driver share: configuration, headers, the deadline of
one request, planning with the journal, logging and assembling results.

The deadline (``Timeouts.total``) of the thread client is enforced under httpx, in
httpcore's network backend: every read, write and connect of a request gets at most the
time left before its deadline, so a server that trickles a byte every half second cannot
hold a request longer. (The asyncio client cancels the request at its deadline instead.)
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpcore
import httpx

from audience_dsl.braze import request
from audience_dsl.braze.limits import Limits
from audience_dsl.braze.request import check_api_key, check_base_url
from audience_dsl.sender.attempts import Answer, Context, Failure
from audience_dsl.sender.config import RetryPolicy, Timeouts
from audience_dsl.sender.errors import REDACTED, RequestInfo, Scrubber, SendInterrupted
from audience_dsl.sender.journal import Journal
from audience_dsl.sender.pacing import Pacer
from audience_dsl.sender.plan import Job, Plan, check_journal_path, make_plan, resume
from audience_dsl.sender.results import RequestOutcome, SendResult, State
from audience_dsl.version import __version__

__all__ = ["DEADLINE", "USER_AGENT", "Base", "attach", "install_deadline"]

log = logging.getLogger("audience_dsl.sender")
log.addHandler(logging.NullHandler())  # a library: the application configures logging

USER_AGENT = f"audience-dsl/{__version__}"

# ---- the deadline of one request (sync): every socket operation gets at most what is left


DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "audience_dsl_sender_deadline", default=None)


def _cap(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the deadline of the request (Timeouts.total) has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _cap(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _cap(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(
            ssl_context, server_hostname, _cap(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend, with each read, write and connect cut to the time left
    before the request's deadline — so a server trickling bytes cannot hold it longer."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(
            host, port, _cap(timeout, httpcore.ConnectTimeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(
            path, _cap(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install_deadline(client: httpx.Client) -> bool:
    """Put the deadline backend under each connection pool of an httpx client (ours, or
    a caller's: the wrapper passes everything through except during our requests).
    Connections opened from then on are bounded by the deadline; False if the client has
    no httpcore pool to wrap (a mock transport)."""
    installed = False
    for transport in (client._transport, *client._mounts.values()):
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend):
            if not isinstance(backend, _DeadlineBackend):
                pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
            installed = True
    return installed


# ---- what the two clients share -------------------------------------------------------------


class Base:
    """The configuration and bookkeeping of both clients."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        timeouts: Timeouts | None,
        retry: RetryPolicy,
        limits: Limits,
        concurrency: int,
        clock: Callable[[], float],
        rng: random.Random | None,
        lenient_broadcast: bool,
        allow_any_host: bool,
        max_response_bytes: int,
        own_http: bool,
    ) -> None:
        self.__key = check_api_key(api_key)
        self._scrub = Scrubber(self.__key)
        self.base_url = check_base_url(base_url, allow_any_host=allow_any_host)
        self.url = self.base_url + request.PATH
        self.timeouts = timeouts if timeouts is not None else Timeouts()
        # A caller's httpx client keeps its own timeouts unless ours are given.
        self._pass_timeouts = own_http or timeouts is not None
        self.retry = retry
        self.concurrency = max(1, int(concurrency))
        self.clock = clock
        self.pacer = Pacer(limits, clock)
        self.lenient_broadcast = lenient_broadcast
        self.max_response_bytes = max(1, int(max_response_bytes))
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={REDACTED})"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.__key}", "Content-Type": "application/json",
                "Accept": "application/json", "Accept-Encoding": "identity",
                "User-Agent": USER_AGENT}

    def _redacted_headers(self) -> dict[str, str]:
        return {**self._headers(), "Authorization": f"Bearer {REDACTED}"}

    def _context(self) -> Context:
        headers = self._redacted_headers()
        return Context(lambda job: RequestInfo("POST", self.url, headers, job.body),
                       self.retry, self.pacer, self.clock, self._rng, self._scrub)

    def _plan(self, campaign_id: str, kwargs: dict[str, Any]) -> Plan:
        path = kwargs.pop("journal_path")
        check_journal_path(path)
        return make_plan(campaign_id, lenient_broadcast=self.lenient_broadcast,
                         journaled=path is not None, **kwargs)

    @staticmethod
    def _open(plan: Plan, path: str | os.PathLike[str] | None, *, dry_run: bool, new: bool,
              resend_unknown: bool) -> tuple[Plan, Journal | None]:
        if path is None or plan.contract is None:
            return plan, None
        journal = Journal.open(path, plan.contract, write=not dry_run, new=new)
        return resume(plan, journal.previous, resend_unknown=resend_unknown), \
            None if dry_run else journal

    @staticmethod
    def _dry(plan: Plan) -> SendResult:
        return SendResult(plan.campaign_id, bodies=[job.body for job in plan.jobs],
                          outcomes={k: plan.skipped[k] for k in plan.order if k in plan.skipped},
                          dry_run=True)

    @staticmethod
    def _assemble(plan: Plan, outcomes: Iterable[RequestOutcome], *,
                  interrupted: bool = False) -> SendResult:
        result = SendResult(plan.campaign_id, interrupted=interrupted)
        by_key = dict(plan.skipped)
        for outcome in sorted(outcomes, key=lambda o: o.index):
            result.requests.append(outcome)
            for recipient in outcome.recipients():
                by_key[recipient.key] = recipient
        result.outcomes = {key: by_key[key] for key in plan.order if key in by_key}
        return result

    def _log(self, plan: Plan, outcome: RequestOutcome, run: str) -> None:
        bad = outcome.state is not State.ACCEPTED or outcome.warning
        extra = {"campaign_id": plan.campaign_id, "send_id": plan.send_id, "run": run,
                 "request_index": outcome.index, "state": outcome.state.value,
                 "status_code": outcome.status_code, "attempts": outcome.attempts,
                 "recipients": len(outcome.keys)}
        note = f": {outcome.warning or outcome.message}" if bad else ""
        log.log(logging.WARNING if bad else logging.INFO,
                "campaign %s, request %d: %s (%d recipients, status %s, %d tries)%s",
                plan.campaign_id, outcome.index, outcome.state.value, len(outcome.keys),
                outcome.status_code, outcome.attempts, self._scrub(note), extra=extra)

    def _stopped(self, plan: Plan, journal: Journal | None, done: Mapping[int, RequestOutcome],
                 out: Iterable[Job], unsent: Iterable[Job], why: str, run: str
                 ) -> tuple[SendResult, list[str]]:
        """The partial result of a send stopped by Ctrl-C or cancellation, and the keys it
        leaves unknown (for the journal's ``stopped`` line)."""
        outcomes = dict(done)
        unknown: list[str] = []
        for job in out:
            if job.index not in outcomes:
                outcomes[job.index] = RequestOutcome(
                    job.index, job.keys, State.UNKNOWN,
                    message=f"the send was {why} while the request was out; Braze may have "
                            "processed it")
                unknown.extend(job.keys)
        for job in unsent:
            if job.index not in outcomes:
                outcomes[job.index] = RequestOutcome(
                    job.index, job.keys, State.NOT_SENT, message=f"not sent: the send was {why}",
                    error=SendInterrupted(f"not sent: the send was {why}"))
        result = self._assemble(plan, outcomes.values(), interrupted=True)
        log.warning("campaign %s: the send was %s; %s", plan.campaign_id, why, result.counts(),
                    extra={"campaign_id": plan.campaign_id, "send_id": plan.send_id,
                           "run": run, "counts": result.counts()})
        return result, unknown

    @staticmethod
    def _journal_stop(journal: Journal | None, why: str, unknown: list[str]) -> None:
        if journal is None:
            return
        try:
            journal.stopped(why, unknown)
        except Exception:  # the partial result matters more here
            log.exception("could not record the stop in the journal %s", journal.path)

    @staticmethod
    def _payload(body: Mapping[str, Any]) -> bytes:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode()

    def _answer(self, response: httpx.Response, body: bytearray,
                incomplete: str = "") -> Answer:
        """The response as the core reads it, scrubbed of the key (a server may echo it)."""
        limit = self.max_response_bytes
        scrub = self._scrub
        text = bytes(body[:limit]).decode("utf-8", "surrogateescape")
        return Answer(response.status_code,
                      {k.lower(): scrub(v) for k, v in response.headers.items()},
                      scrub(text).encode("utf-8", "surrogateescape"), len(body) > limit,
                      incomplete)

    def _cut(self, exc: BaseException | None) -> str:
        if exc is None or isinstance(exc, TimeoutError | httpx.TimeoutException):
            return f"no complete answer within Timeouts.total ({self.timeouts.total:g} s)"
        return self._scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

    def _late(self) -> Failure:
        return Failure(sent=True, what=f"no complete answer within Timeouts.total "
                                       f"({self.timeouts.total:g} s)")


def attach(exc: BaseException, result: SendResult) -> None:
    """Hang the partial result on the exception that stopped the send, with a note (shown
    under its traceback) of what is unknown."""
    with contextlib.suppress(AttributeError):  # an exception type with __slots__
        exc.send_result = result  # type: ignore[attr-defined]
    counts = ", ".join(f"{n} {state}" for state, n in result.counts().items() if n)
    exc.add_note(f"audience-dsl: campaign {result.campaign_id} stopped: {counts or 'nothing'}"
                 "; partial_result(exc) has each recipient's state")




