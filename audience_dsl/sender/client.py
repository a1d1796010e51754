"""The two clients — :class:`BrazeClient` (threads) and :class:`AsyncBrazeClient`
(asyncio) — as thin drivers of one core.

Everything decided before sending lives in :mod:`~audience_dsl.sender.plan`, the tries
of a request in :mod:`~audience_dsl.sender.attempts` (free of I/O), the record of a send
in :mod:`~audience_dsl.sender.journal`. A driver does the I/O only: it sleeps when the
core says ``Wait``, posts when it says ``Post`` (within ``Timeouts.total``, reading at
most ``max_response_bytes`` of the answer), journals, logs, and runs requests with
bounded concurrency.

Stopping: an ``AuthenticationError`` stops the send (requests not yet started are
``not_sent``). Ctrl-C (``KeyboardInterrupt``) or a cancelled task stops it at once:
waits end, no request starts, requests in flight are ``unknown`` (recorded so in the
journal), and the exception carries the partial :class:`SendResult`
(:func:`~audience_dsl.sender.results.partial_result`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from types import TracebackType
from typing import Any

import httpx

from audience_dsl.braze.body import check_body
from audience_dsl.braze.limits import Limits
from audience_dsl.sender.attempts import STOP, Answer, Failure, Post, Reply, Wait, attempts, failure
from audience_dsl.sender.base import DEADLINE, Base, attach, install_deadline
from audience_dsl.sender.config import MAX_RESPONSE_BYTES, RetryPolicy, Timeouts
from audience_dsl.sender.errors import AuthenticationError, SendInterrupted
from audience_dsl.sender.journal import Journal
from audience_dsl.sender.plan import AudienceLike, Job, Plan, RecipientLike, single
from audience_dsl.sender.results import RequestOutcome, SendResult, State

__all__ = ["AsyncBrazeClient", "BrazeClient"]

log = logging.getLogger("audience_dsl.sender")

_SEND_DOC = """Send one API-triggered campaign to recipients, an audience, or both.

        ``audience`` is rule text (compiled with ``schema``), an AST or a Connected
        Audience dict (validated); ``recipients`` are Braze recipient objects (dicts or
        :class:`audience_dsl.braze.request.Recipient`), split into requests of at most 50.
        Without recipients, ``broadcast=True`` must be said explicitly, and an audience
        that matches everyone is refused unless ``allow_everyone=True``.

        Everything is checked before the first request leaves
        (:class:`~audience_dsl.braze.request.InvalidRequestError`). ``dry_run=True``
        sends nothing and returns the bodies that would be sent (with a journal: only
        what it does not record as done). ``journal`` names a JSON-lines file that
        locks the send and records every outcome as it happens; run again with the same
        journal and only what was not accepted is sent (``unknown`` recipients only with
        ``resend_unknown=True``). A journal of a different send is refused
        (:class:`JournalError`) unless ``new_journal=True``. ``on_request`` is called with
        each :class:`RequestOutcome` as it is decided; if it raises, no further request
        starts and the exception propagates with the partial result attached.

        Returns a :class:`SendResult`; call ``raise_for_status()`` to turn failures into
        an exception.
        """

# ---- threads --------------------------------------------------------------------------------


class BrazeClient(Base):
    """A Braze REST client for ``/campaigns/trigger/send``, safe to share between threads.

    ``base_url`` is an instance name (``"US-01"``, ``"EU-01"``, ...) or a URL. Pass
    ``http`` (an :class:`httpx.Client`, not closed by this client; its timeouts are kept
    unless ``timeouts`` is given) or ``transport`` to control the connection; ``clock``
    (epoch seconds) and ``sleep`` make time testable (by default waits end at once when
    the send stops).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy = RetryPolicy(),
        limits: Limits = Limits(),
        concurrency: int = 4,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        lenient_broadcast: bool = False,
        allow_any_host: bool = False,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        super().__init__(api_key, base_url, timeouts=timeouts, retry=retry, limits=limits,
                         concurrency=concurrency, clock=clock, rng=rng,
                         lenient_broadcast=lenient_broadcast, allow_any_host=allow_any_host,
                         max_response_bytes=max_response_bytes, own_http=http is None)
        self.sleep = sleep
        self._owns_http = http is None
        if http is None:
            http = httpx.Client(
                transport=transport, timeout=self.timeouts.httpx(),
                limits=httpx.Limits(max_connections=self.concurrency,
                                    max_keepalive_connections=self.concurrency))
        install_deadline(http)
        self._http = http

    def __enter__(self) -> BrazeClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def trigger_send(
        self,
        campaign_id: str,
        *,
        audience: AudienceLike | None = None,
        recipients: Iterable[RecipientLike] | None = None,
        broadcast: bool | None = None,
        trigger_properties: Mapping[str, Any] | None = None,
        send_id: str | None = None,
        attachments: Sequence[Mapping[str, Any]] | None = None,
        schema: Any = None,
        dry_run: bool = False,
        journal: str | os.PathLike[str] | None = None,
        resend_unknown: bool = False,
        new_journal: bool = False,
        allow_everyone: bool = False,
        on_request: Callable[[RequestOutcome], None] | None = None,
    ) -> SendResult:
        plan = self._plan(campaign_id, dict(
            audience=audience, recipients=recipients, broadcast=broadcast,
            trigger_properties=trigger_properties, send_id=send_id, attachments=attachments,
            schema=schema, allow_everyone=allow_everyone, journal_path=journal))
        plan, store = self._open(plan, journal, dry_run=dry_run, new=new_journal,
                                 resend_unknown=resend_unknown)
        if dry_run:
            return self._dry(plan)
        try:
            return self._run(plan, store, on_request)
        finally:
            if store is not None:
                store.close()

    trigger_send.__doc__ = _SEND_DOC

    def send_body(self, body: Mapping[str, Any]) -> SendResult:
        """Send one request body as given (checked first; at most 50 recipients)."""
        checked = check_body(body, lenient_broadcast=self.lenient_broadcast)
        return self._run(single(checked), None, None)

    def _run(self, plan: Plan, journal: Journal | None,
             hook: Callable[[RequestOutcome], None] | None) -> SendResult:
        run = uuid.uuid4().hex[:12]
        if len(plan.jobs) == 1 and journal is None:
            return self._alone(plan, hook, run)
        if journal is not None and plan.jobs:
            journal.start(run)
        done: dict[int, RequestOutcome] = {}
        posted: set[int] = set()
        stop = threading.Event()
        why: list[str] = []
        raised: list[BaseException] = []
        pending: Iterator[Job] = iter(plan.jobs)
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="braze-send")
        running: dict[Future[RequestOutcome], Job] = {}

        def fill() -> None:
            while len(running) < self.concurrency and not stop.is_set():
                job = next(pending, None)
                if job is None:
                    return
                running[pool.submit(self._recorded, plan, job, journal, stop, posted,
                                    run)] = job

        def collect(futures: Iterable[Future[RequestOutcome]]) -> None:
            for future in futures:
                job = running.pop(future)
                try:
                    outcome = future.result()
                except BaseException as exc:  # a journal failure or a bug: stop
                    stop.set()
                    raised.append(exc)
                    continue
                done[job.index] = outcome
                if isinstance(outcome.error, AuthenticationError):
                    stop.set()
                    why.append(outcome.error.message)
                if hook is not None and not raised:
                    try:
                        hook(outcome)
                    except BaseException as exc:
                        stop.set()
                        raised.append(exc)

        try:
            fill()
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                collect(finished)
                fill()
        except BaseException as exc:  # Ctrl-C: no new request, no more waiting
            stop.set()
            # Requests in flight end within Timeouts.total; after a second Ctrl-C they
            # are not waited for and stay unknown.
            with contextlib.suppress(BaseException):
                collect(wait(running).done)
            pool.shutdown(wait=False, cancel_futures=True)
            out = [job for job in running.values() if job.index in posted]
            unsent = [job for job in plan.jobs if job.index not in done and job not in out]
            result, unknown = self._stopped(plan, journal, done, out, unsent, "interrupted", run)
            self._journal_stop(journal, "interrupted", unknown)
            attach(exc, result)
            raise
        pool.shutdown(wait=True)
        if raised:
            unsent = [job for job in plan.jobs if job.index not in done]
            result, unknown = self._stopped(plan, journal, done, [], unsent, "interrupted", run)
            self._journal_stop(journal, "interrupted", unknown)
            attach(raised[0], result)
            raise raised[0]
        reason = f" ({why[0]})" if why else ""
        for job in pending:
            error = SendInterrupted(f"not sent: an earlier request failed{reason}")
            outcome = RequestOutcome(job.index, job.keys, State.NOT_SENT, message=error.message,
                                     error=error)
            done[job.index] = outcome
            self._record(plan, journal, outcome, run)
        return self._assemble(plan, done.values())

    def _alone(self, plan: Plan, hook: Callable[[RequestOutcome], None] | None,
               run: str) -> SendResult:
        # One request and nothing to journal: made in this thread. A pool would cost a
        # thread start per send (most of the sender's overhead over bare httpx) and has
        # nothing to run beside it.
        (job,) = plan.jobs
        posted: set[int] = set()
        outcome: RequestOutcome | None = None
        try:
            outcome = self._recorded(plan, job, None, threading.Event(), posted, run)
            if hook is not None:
                hook(outcome)
        except BaseException as exc:  # Ctrl-C in this thread, or the hook raised
            if outcome is not None:
                result = self._assemble(plan, [outcome], interrupted=True)
            else:
                out = [job] if job.index in posted else []
                result, _ = self._stopped(plan, None, {}, out, [] if out else [job],
                                          "interrupted", run)
            attach(exc, result)
            raise
        return self._assemble(plan, [outcome])

    def _record(self, plan: Plan, journal: Journal | None, outcome: RequestOutcome,
                run: str) -> None:
        self._log(plan, outcome, run)
        if journal is not None:
            journal.outcome(outcome.recipients())

    def _recorded(self, plan: Plan, job: Job, journal: Journal | None, stop: threading.Event,
                  posted: set[int], run: str) -> RequestOutcome:
        outcome = self._one(job, journal, stop, posted)
        self._record(plan, journal, outcome, run)
        return outcome

    def _one(self, job: Job, journal: Journal | None, stop: threading.Event,
             posted: set[int]) -> RequestOutcome:
        core = attempts(job, self._context())
        payload = self._payload(job.body)
        reply: Reply = None
        while True:
            try:
                command = core.send(reply)
            except StopIteration as end:
                outcome: RequestOutcome = end.value
                return outcome
            if stop.is_set():
                reply = STOP
            elif isinstance(command, Wait):
                reply = STOP if self._wait(command, job, stop) else None
            else:
                if isinstance(command, Post) and command.first and journal is not None:
                    journal.attempt(job.index, job.keys)
                posted.add(job.index)  # out now: a Ctrl-C leaves it unknown
                reply = self._post(payload)
                posted.discard(job.index)

    def _wait(self, command: Wait, job: Job, stop: threading.Event) -> bool:
        if command.reason != "pacing":
            log.info("request %d: waiting %.2f s (%s)", job.index, command.seconds,
                     command.reason, extra={"request_index": job.index})
        if self.sleep is None:
            return stop.wait(command.seconds)
        self.sleep(command.seconds)
        return stop.is_set()

    def _post(self, payload: bytes) -> Answer | Failure:
        deadline = time.monotonic() + self.timeouts.total
        token = DEADLINE.set(deadline)
        try:
            options: dict[str, Any] = {"timeout": self.timeouts.httpx()} \
                if self._pass_timeouts else {}
            with self._http.stream("POST", self.url, content=payload, headers=self._headers(),
                                   **options) as response:
                body = bytearray()
                if response.is_stream_consumed:  # a response made in memory (a mock)
                    body += response.content
                try:
                    for chunk in () if body else response.iter_raw():
                        body += chunk
                        if len(body) > self.max_response_bytes:
                            break  # the rest is discarded: closing drops the connection
                        if time.monotonic() > deadline:
                            return self._answer(response, body, self._cut(None))
                except httpx.HTTPError as exc:  # the status came: judge by it
                    return self._answer(response, body, self._cut(exc))
                return self._answer(response, body)
        except httpx.HTTPError as exc:
            found = failure(exc, self._scrub)
            return self._late() if found.sent and time.monotonic() >= deadline else found
        except (httpx.StreamError, ValueError, UnicodeError, OSError) as exc:
            return Failure(sent=True, what=self._scrub(f"{type(exc).__name__}: {exc}"))
        finally:
            DEADLINE.reset(token)


# ---- asyncio --------------------------------------------------------------------------------


class AsyncBrazeClient(Base):
    """The asyncio client: the same arguments and behaviour as :class:`BrazeClient`;
    safe to share between tasks. Journal writes run in a worker thread, off the loop."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy = RetryPolicy(),
        limits: Limits = Limits(),
        concurrency: int = 4,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        lenient_broadcast: bool = False,
        allow_any_host: bool = False,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        super().__init__(api_key, base_url, timeouts=timeouts, retry=retry, limits=limits,
                         concurrency=concurrency, clock=clock, rng=rng,
                         lenient_broadcast=lenient_broadcast, allow_any_host=allow_any_host,
                         max_response_bytes=max_response_bytes, own_http=http is None)
        self.sleep = sleep
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            transport=transport, timeout=self.timeouts.httpx(),
            limits=httpx.Limits(max_connections=self.concurrency,
                                max_keepalive_connections=self.concurrency),
        )

    async def __aenter__(self) -> AsyncBrazeClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def trigger_send(
        self,
        campaign_id: str,
        *,
        audience: AudienceLike | None = None,
        recipients: Iterable[RecipientLike] | None = None,
        broadcast: bool | None = None,
        trigger_properties: Mapping[str, Any] | None = None,
        send_id: str | None = None,
        attachments: Sequence[Mapping[str, Any]] | None = None,
        schema: Any = None,
        dry_run: bool = False,
        journal: str | os.PathLike[str] | None = None,
        resend_unknown: bool = False,
        new_journal: bool = False,
        allow_everyone: bool = False,
        on_request: Callable[[RequestOutcome], None] | None = None,
    ) -> SendResult:
        plan = self._plan(campaign_id, dict(
            audience=audience, recipients=recipients, broadcast=broadcast,
            trigger_properties=trigger_properties, send_id=send_id, attachments=attachments,
            schema=schema, allow_everyone=allow_everyone, journal_path=journal))
        plan, store = await asyncio.to_thread(
            self._open, plan, journal, dry_run=dry_run, new=new_journal,
            resend_unknown=resend_unknown)
        if dry_run:
            return self._dry(plan)
        try:
            return await self._run(plan, store, on_request)
        finally:
            if store is not None:
                store.close()

    trigger_send.__doc__ = _SEND_DOC

    async def send_body(self, body: Mapping[str, Any]) -> SendResult:
        """Send one request body as given (checked first; at most 50 recipients)."""
        checked = check_body(body, lenient_broadcast=self.lenient_broadcast)
        return await self._run(single(checked), None, None)

    async def _run(self, plan: Plan, journal: Journal | None,
                   hook: Callable[[RequestOutcome], None] | None) -> SendResult:
        run = uuid.uuid4().hex[:12]
        if journal is not None and plan.jobs:
            await asyncio.to_thread(journal.start, run)
        done: dict[int, RequestOutcome] = {}
        posted: dict[int, Job] = {}
        cancelled: dict[int, RequestOutcome] = {}
        stop = asyncio.Event()
        why: list[str] = []
        raised: list[BaseException] = []
        queue: Iterator[Job] = iter(plan.jobs)

        async def worker() -> None:
            while not stop.is_set():
                job = next(queue, None)
                if job is None:
                    return
                outcome = await self._one(job, journal, stop, posted, cancelled)
                done[job.index] = outcome
                posted.pop(job.index, None)
                self._log(plan, outcome, run)
                if journal is not None:
                    await asyncio.to_thread(journal.outcome, outcome.recipients())
                if isinstance(outcome.error, AuthenticationError):
                    stop.set()
                    why.append(outcome.error.message)
                if hook is not None and not raised:
                    try:
                        hook(outcome)
                    except BaseException as exc:
                        stop.set()
                        raised.append(exc)

        tasks = [asyncio.ensure_future(worker()) for _ in range(self.concurrency)]
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError as exc:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            concluded = {i: o for i, o in cancelled.items() if i not in done}
            done.update(concluded)
            unsent = [job for job in plan.jobs if job.index not in done]
            result, _ = self._stopped(plan, journal, done, [], unsent, "cancelled", run)
            attach(exc, result)
            unknown = [key for o in concluded.values() if o.state is State.UNKNOWN
                       for key in o.keys]
            await asyncio.to_thread(self._journal_cancelled, journal, concluded, unknown)
            raise
        raised.extend(r for r in results if isinstance(r, BaseException))
        if raised:
            unsent = [job for job in plan.jobs if job.index not in done]
            result, unknown = self._stopped(plan, journal, done, list(posted.values()),
                                            unsent, "interrupted", run)
            attach(raised[0], result)
            await asyncio.to_thread(self._journal_stop, journal, "interrupted", unknown)
            raise raised[0]
        reason = f" ({why[0]})" if why else ""
        for job in queue:
            error = SendInterrupted(f"not sent: an earlier request failed{reason}")
            outcome = RequestOutcome(job.index, job.keys, State.NOT_SENT, message=error.message,
                                     error=error)
            done[job.index] = outcome
            self._log(plan, outcome, run)
            if journal is not None:
                await asyncio.to_thread(journal.outcome, outcome.recipients())
        return self._assemble(plan, done.values())

    async def _one(self, job: Job, journal: Journal | None, stop: asyncio.Event,
                   posted: dict[int, Job], cancelled: dict[int, RequestOutcome]
                   ) -> RequestOutcome:
        core = attempts(job, self._context())
        payload = self._payload(job.body)
        reply: Reply = None
        out = False  # the request is out: a cancellation now leaves it unknown
        try:
            while True:
                try:
                    command = core.send(reply)
                except StopIteration as end:
                    outcome: RequestOutcome = end.value
                    return outcome
                if stop.is_set():
                    reply = STOP
                elif isinstance(command, Wait):
                    reply = STOP if await self._wait(command, job, stop) else None
                else:
                    if isinstance(command, Post) and command.first:
                        if journal is not None:
                            await asyncio.to_thread(journal.attempt, job.index, job.keys)
                        posted[job.index] = job
                    out = True
                    reply = await self._post(payload)
                    out = False
        except asyncio.CancelledError:
            # Ask the core what the request comes to, as if the send had been stopped.
            cancelled[job.index] = _conclude(core, Failure(
                sent=True, what="the task was cancelled while the request was out")
                if out else STOP)
            raise

    def _journal_cancelled(self, journal: Journal | None,
                           concluded: Mapping[int, RequestOutcome], unknown: list[str]) -> None:
        if journal is None:
            return
        for outcome in concluded.values():
            if outcome.state is not State.UNKNOWN:  # an unknown one keeps its attempt line
                journal.outcome(outcome.recipients())
        self._journal_stop(journal, "cancelled", unknown)

    async def _wait(self, command: Wait, job: Job, stop: asyncio.Event) -> bool:
        if command.reason != "pacing":
            log.info("request %d: waiting %.2f s (%s)", job.index, command.seconds,
                     command.reason, extra={"request_index": job.index})
        if self.sleep is not None:
            await self.sleep(command.seconds)
            return stop.is_set()
        try:
            await asyncio.wait_for(stop.wait(), command.seconds)
        except TimeoutError:
            return False
        return True

    async def _post(self, payload: bytes) -> Answer | Failure:
        sent = False

        async def trace(name: str, info: Mapping[str, Any]) -> None:
            nonlocal sent
            if "send_request_headers" in name:
                sent = True

        options: dict[str, Any] = {"timeout": self.timeouts.httpx()} \
            if self._pass_timeouts else {}
        got: httpx.Response | None = None
        body = bytearray()
        try:
            async with asyncio.timeout(self.timeouts.total):
                async with self._http.stream("POST", self.url, content=payload,
                                             headers=self._headers(),
                                             extensions={"trace": trace},
                                             **options) as response:
                    got = response
                    if response.is_stream_consumed:  # a response made in memory (a mock)
                        body += response.content
                    async for chunk in _nothing() if body else response.aiter_raw():
                        body += chunk
                        if len(body) > self.max_response_bytes:
                            break  # the rest is discarded: closing drops the connection
                    return self._answer(response, body)
        except (TimeoutError, httpx.HTTPError) as exc:
            if got is not None:  # the status came: judge by it
                return self._answer(got, body, self._cut(exc))
            if isinstance(exc, httpx.HTTPError):
                return failure(exc, self._scrub)
            late = self._late()
            return late if sent else Failure(sent=False, what=late.what + " (before it left)")
        except (httpx.StreamError, ValueError, UnicodeError, OSError) as exc:
            return Failure(sent=True, what=self._scrub(f"{type(exc).__name__}: {exc}"))


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


def _conclude(core: Generator[Any, Reply, RequestOutcome], reply: Reply) -> RequestOutcome:
    """The outcome the core gives after ``reply`` and, if it asks for more, STOP."""
    try:
        core.send(reply)
        while True:
            core.send(STOP)
    except StopIteration as end:
        outcome: RequestOutcome = end.value
        return outcome
