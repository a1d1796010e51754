"""Send an API-triggered campaign: ``POST /campaigns/trigger/send``, exactly once.

:class:`BrazeClient` (threads) and :class:`AsyncBrazeClient` (asyncio) share everything
but the waiting: the request bodies are built and checked (:mod:`audience_dsl.request`)
before anything leaves the process, long recipient lists are split into requests of at
most 50, the requests go out with bounded concurrency, paced by one
:class:`Pacer` per client, and every recipient ends in one of four states:

``accepted``   Braze answered 2xx; the recipient's ``dispatch_id`` is known.
``rejected``   Braze answered 4xx: the request was refused and nothing was sent.
``not_sent``   the request certainly did not reach Braze's processing (a connection that
               never opened, 5xx after the last retry, a rate-limit wait longer than
               allowed, a send stopped early).
``unknown``    the request left, but no answer came back (a read timeout, a dropped
               connection): Braze may or may not have sent the message. Never retried
               unless asked for (``RetryPolicy(retry_unknown=True)``), since Braze has no
               idempotency key.

The error tree (all are :class:`audience_dsl.errors.SendError`)::

    SendError
    ├── ConnectionFailed        the request never reached Braze
    ├── OutcomeUnknown          sent, but no answer: it may have been processed
    ├── BrazeHTTPError          Braze answered with an error status
    │   ├── AuthenticationError     401 or 403: key, permission or host is wrong
    │   ├── RateLimitError          429 and the reset is further away than allowed
    │   ├── ServerError             5xx on every try
    │   └── RequestRejected         another 4xx (invalid campaign, ...)
    ├── SendInterrupted         the send stopped before every request was made
    └── JournalError            the journal belongs to another send, or is unreadable

Each keeps the request (:class:`RequestInfo`, API key redacted) and, if there was one,
the response (:class:`ResponseInfo`). httpx's exceptions never escape.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
import random
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias

import httpx
from pydantic import BaseModel

from audience_dsl.braze import request
from audience_dsl.braze import validate as braze
from audience_dsl.braze.body import check_body, recipient_key
from audience_dsl.braze.limits import Limits
from audience_dsl.braze.request import (
    InvalidRequestError,
    check_api_key,
    check_base_url,
)
from audience_dsl.errors import AudienceWarning, ValidationError
from audience_dsl.errors import SendError as _SendError
from audience_dsl.language.ast import Comparison as C
from audience_dsl.semantics import COMPLEMENT, DEFAULT_SEMANTICS
from audience_dsl.vocabulary import GROUPS

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

log = logging.getLogger("audience_dsl.sender")

#: The longest single sleep while waiting for the pacer, so a stopped send notices soon.
_SLICE = 5.0

#: The pseudo-recipient of a broadcast, in results and the journal.
BROADCAST = "broadcast"
_REDACTED = "Bearer [redacted]"


# ---- errors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestInfo:
    """What was sent: method, URL, headers (the key redacted) and the JSON body."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]


@dataclass(frozen=True)
class ResponseInfo:
    """What came back: status, headers and the body (parsed JSON, or text)."""

    status_code: int
    headers: Mapping[str, str]
    body: Any


class SendError(_SendError):
    """Sending failed; ``request`` and ``response`` say what was sent and what came back."""

    def __init__(
        self,
        message: str,
        *,
        request: RequestInfo | None = None,
        response: ResponseInfo | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.response = response

    @property
    def status_code(self) -> int | None:
        return self.response.status_code if self.response is not None else None


class ConnectionFailed(SendError):
    """The request never reached Braze (after every allowed try)."""


class OutcomeUnknown(SendError):
    """The request was sent but no answer came: Braze may have processed it."""


class BrazeHTTPError(SendError):
    """Braze answered with an error status."""


class AuthenticationError(BrazeHTTPError):
    """401 or 403: a wrong key, a key without ``campaigns.trigger.send``, or the wrong host."""


class RateLimitError(BrazeHTTPError):
    """429, and the rate-limit window resets later than the client may wait."""


class ServerError(BrazeHTTPError):
    """5xx on every try (Braze documents that nothing was sent)."""


class RequestRejected(BrazeHTTPError):
    """Another 4xx: Braze refused the request (nothing was sent)."""


class SendInterrupted(SendError):
    """The send stopped before every request was made (an earlier fatal error, a hook)."""


class JournalError(SendError):
    """The journal file belongs to another send or cannot be read."""


# ---- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: to open a connection, for each read, for each write, for the pool."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 30.0

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write,
                             pool=self.pool)


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a request again (§6.3).

    ``attempts`` bounds the tries for 5xx and for connections that never opened;
    backoff is exponential from ``backoff`` seconds up to ``max_backoff``, with jitter.
    A 429 waits until ``X-RateLimit-Reset`` however often it comes (at most
    ``rate_limit_retries`` times), unless the reset is more than ``max_rate_limit_wait``
    seconds away: then the recipients are ``not_sent``. Statuses in ``unknown_statuses``
    (say, ``{504}`` if you distrust a gateway's word that nothing was processed) make
    the recipients ``unknown`` instead of being retried. ``retry_unknown`` retries even
    after failures where the request may have been processed (a read timeout, a dropped
    connection), which can send a message twice.
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_rate_limit_wait: float = 3600.0
    rate_limit_retries: int = 100
    retry_statuses: frozenset[int] = frozenset({500, 502, 503, 504})
    unknown_statuses: frozenset[int] = frozenset()
    retry_unknown: bool = False

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The backoff before try ``attempt + 1``: half fixed, half random ("equal jitter")."""
        cap: float = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return cap / 2 + rng.uniform(0, cap / 2)


# ---- pacing -------------------------------------------------------------------------------


@dataclass
class _Window:
    """One fixed rate-limit window. A request taken just before the window ends may reach
    the server just after it, so it counts against the next window too (``carry``)."""

    length: float
    capacity: int
    end: float = 0.0
    used: int = 0
    carry: int = 0
    blocked_until: float = 0.0

    def roll(self, now: float) -> None:
        if self.end == 0.0:
            self.end = (math.floor(now / self.length) + 1) * self.length
        elif now >= self.end:
            skipped = math.floor((now - self.end) / self.length)
            self.end += self.length * (skipped + 1)
            self.used = self.carry if skipped == 0 else 0
            self.carry = 0

    def take(self, now: float) -> None:
        self.used += 1
        if self.end - now < min(1.0, self.length / 4):
            self.carry += 1

    def wait(self, now: float) -> float:
        self.roll(now)
        if self.blocked_until > now:
            return self.blocked_until - now
        if self.used >= self.capacity:
            return self.end - now
        return 0.0


class Pacer:
    """Counts requests per rate-limit window, shared by every request of one client.

    Thread- and task-safe (its lock is held for bookkeeping only, never while waiting).
    :meth:`reserve` takes a slot in every bucket a request counts against, or says how
    long to wait; :meth:`observe` folds in the ``X-RateLimit-*`` headers of a response,
    so the client follows the server's count (and, after a 429, its reset) too.
    """

    def __init__(self, limits: Limits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    def _window(self, bucket: str) -> _Window:
        window = self._windows.get(bucket)
        if window is None:
            window = _Window(*self.limits.window(bucket))
            self._windows[bucket] = window
        return window

    def reserve(self, buckets: Sequence[str]) -> float:
        """0 after taking a slot in each bucket; else the seconds to wait (nothing taken)."""
        with self._lock:
            now = self.clock()
            windows = [self._window(b) for b in buckets]
            longest = max((w.wait(now) for w in windows), default=0.0)
            if longest > 0:
                return longest
            for window in windows:
                window.take(now)
            return 0.0

    def observe(self, buckets: Sequence[str], status: int, headers: Mapping[str, str]) -> float:
        """Fold a response's rate-limit headers in; the reset instant after a 429, else 0."""
        limit = _number(headers.get("x-ratelimit-limit"))
        remaining = _number(headers.get("x-ratelimit-remaining"))
        reset = _number(headers.get("x-ratelimit-reset"))
        if not buckets:
            return 0.0
        with self._lock:
            now = self.clock()
            # The headers describe the tightest bucket: a broadcast's audience bucket when
            # the limit says so, else the request kind's main bucket.
            target = buckets[-1] if (limit is not None and len(buckets) > 1 and
                                     limit <= self.limits.per_audience_per_minute) else buckets[0]
            window = self._window(target)
            window.roll(now)
            if reset is None or reset <= now:
                return 0.0
            if status == 429 or (remaining is not None and remaining <= 0):
                window.blocked_until = max(window.blocked_until, reset)
            elif limit is not None and remaining is not None and limit > 0 \
                    and abs(reset - window.end) <= 1.0:
                # The same window as ours: count what others (other processes using the
                # key) spent too; never count less than we did ourselves.
                window.capacity = int(limit)
                window.used = max(window.used, int(limit - remaining))
            return reset if status == 429 and reset is not None else 0.0


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# ---- results ------------------------------------------------------------------------------


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
    """One request: its recipients' keys, state, status, tries and error if any."""

    index: int
    keys: tuple[str, ...]
    state: State
    status_code: int | None = None
    dispatch_id: str | None = None
    message: str = ""
    attempts: int = 0
    error: SendError | None = None
    response: ResponseInfo | None = None


@dataclass
class SendResult:
    """The outcome of :meth:`BrazeClient.trigger_send`, recipient by recipient.

    For a broadcast there is one pseudo-recipient, ``"broadcast"``. A dry run has no
    outcomes, only ``bodies``: exactly what would have been sent.
    """

    campaign_id: str
    outcomes: dict[str, RecipientOutcome] = field(default_factory=dict)
    requests: list[RequestOutcome] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False

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
        return not self.dry_run and all(o.state is State.ACCEPTED for o in self.outcomes.values())

    @property
    def errors(self) -> list[SendError]:
        return [r.error for r in self.requests if r.error is not None]

    def counts(self) -> dict[str, int]:
        return {state.value: len(self._in(state)) for state in State}

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary: counts, each recipient's outcome, each request's."""
        if self.dry_run:
            return {"campaign_id": self.campaign_id, "dry_run": True, "bodies": self.bodies}
        return {
            "campaign_id": self.campaign_id,
            "ok": self.ok,
            "counts": self.counts(),
            "recipients": [
                {"key": o.key, "state": o.state.value, "dispatch_id": o.dispatch_id,
                 "message": o.message, "from_journal": o.from_journal}
                for o in self.outcomes.values()
            ],
            "requests": [
                {"index": r.index, "state": r.state.value, "status_code": r.status_code,
                 "attempts": r.attempts, "recipients": len(r.keys), "message": r.message}
                for r in self.requests
            ],
        }

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
        return f"SendResult(campaign_id={self.campaign_id!r}, {counts})"


# ---- the journal ------------------------------------------------------------------------


class _Journal:
    """Append-only JSON lines, each flushed and fsynced before the send goes on.

    ``{"event": "start", ...}`` once per run; ``{"event": "attempt", "keys": [...]}``
    before a request first leaves; ``{"event": "outcome", "key": ..., "state": ...}``
    for each recipient when its request is decided. A key with an attempt and no later
    outcome is ``unknown`` (the process died while the request was out).
    """

    def __init__(self, path: str | os.PathLike[str], campaign_id: str) -> None:
        self.path = Path(path)
        self.campaign_id = campaign_id
        self._lock = threading.Lock()
        self.previous: dict[str, RecipientOutcome] = self._read()

    def _read(self) -> dict[str, RecipientOutcome]:
        states: dict[str, RecipientOutcome] = {}
        if not self.path.exists():
            return states
        try:
            lines = self.path.read_text(encoding="utf-8").split("\n")
        except OSError as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc}") from exc
        records: list[tuple[int, Any]] = []
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    records.append((number, json.loads(line)))
                except json.JSONDecodeError:
                    records.append((number, None))
        for position, (number, record) in enumerate(records):
            if not isinstance(record, dict):
                # A torn line (the process died while writing it) is the last one, or is
                # followed by the next run's start; anything else is not our journal.
                last = position + 1 == len(records)
                following = None if last else records[position + 1][1]
                restarted = isinstance(following, dict) and following.get("event") == "start"
                if record is None and (last or restarted):
                    continue
                raise JournalError(f"{self.path}:{number}: not a journal line")
            event = record.get("event")
            if event == "start" and record.get("campaign_id") != self.campaign_id:
                raise JournalError(
                    f"{self.path} is the journal of campaign {record.get('campaign_id')!r}, "
                    f"not {self.campaign_id!r}"
                )
            if event == "attempt":
                for key in record.get("keys", ()):
                    states[key] = RecipientOutcome(
                        key, State.UNKNOWN, message="the process stopped while the request "
                        "was out", from_journal=True)
            elif event == "outcome":
                key = record["key"]
                states[key] = RecipientOutcome(
                    key, State(record["state"]), record.get("dispatch_id"),
                    record.get("message", ""), from_journal=True)
        return states

    def _write(self, records: Iterable[Mapping[str, Any]]) -> None:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records) or "\n"
        with self._lock:
            try:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as exc:
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

    def start(self) -> None:
        # A torn last line (the process died while writing it) must not swallow ours.
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    self._write([])
        self._write([{"event": "start", "campaign_id": self.campaign_id, "time": time.time()}])

    def attempt(self, index: int, keys: Sequence[str]) -> None:
        self._write([{"event": "attempt", "request": index, "keys": list(keys)}])

    def outcome(self, outcomes: Iterable[RecipientOutcome]) -> None:
        self._write([
            {"event": "outcome", "key": o.key, "state": o.state.value,
             "dispatch_id": o.dispatch_id, "message": o.message}
            for o in outcomes
        ])


# ---- the plan: everything decided before the first byte leaves ------------------------------


@dataclass(frozen=True)
class _Job:
    index: int
    body: dict[str, Any]
    keys: tuple[str, ...]
    buckets: tuple[str, ...]


@dataclass
class _Plan:
    campaign_id: str
    jobs: list[_Job]
    order: list[str]
    skipped: dict[str, RecipientOutcome]
    journal: _Journal | None


RecipientLike: TypeAlias = "Mapping[str, Any] | request.Recipient"
AudienceLike: TypeAlias = "str | Mapping[str, Any] | Any"


def _audience_json(audience: AudienceLike, schema: Any) -> dict[str, Any]:
    # Imported here: the package's front door imports this module's neighbours.
    from audience_dsl.language import ast as _ast
    from audience_dsl.pipeline import compile as _compile
    from audience_dsl.pipeline import to_audience

    if isinstance(audience, str):
        return _compile(audience, schema=schema)
    if isinstance(audience, _ast.Node):
        return to_audience(audience, schema=schema)
    if isinstance(audience, Mapping):
        from audience_dsl.check.schema import Schema

        types = Schema.coerce(schema) if schema is not None else None
        try:
            braze.validate(dict(audience), schema_types=types)
        except ValidationError as exc:
            raise InvalidRequestError(
                [("$.audience" + path[1:], f"rule 12: {message}") for path, message in exc.problems]
            ) from None
        try:
            value = json.loads(json.dumps(audience, allow_nan=False))  # a plain JSON copy
        except (TypeError, ValueError, RecursionError) as exc:
            problem = "nests too deeply to send" if isinstance(exc, RecursionError) else str(exc)
            raise InvalidRequestError([("$.audience", f"rule 3: {problem}")]) from None
        return dict(value)
    raise InvalidRequestError(
        [("$.audience", f"rule 12: an audience is rule text, an AST or a dict, not "
                        f"{type(audience).__name__}")]
    )


def _audience_key(campaign_id: str, audience: Mapping[str, Any] | None) -> str:
    text = json.dumps([campaign_id, audience], sort_keys=True, separators=(",", ":"))
    return "audience:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _shift(path: str, offset: int) -> str:
    prefix = "$.recipients["
    if not offset or not path.startswith(prefix):
        return path
    index, _, rest = path[len(prefix):].partition("]")
    return f"{prefix}{int(index) + offset}]{rest}" if index.isdigit() else path


def _plan(
    campaign_id: str,
    *,
    audience: AudienceLike | None,
    recipients: Iterable[RecipientLike] | None,
    broadcast: bool | None,
    trigger_properties: Mapping[str, Any] | None,
    send_id: str | None,
    attachments: Sequence[Mapping[str, Any]] | None,
    schema: Any,
    allow_everyone: bool,
    lenient_broadcast: bool,
    journal: str | os.PathLike[str] | None,
    resend_unknown: bool,
    dry_run: bool,
) -> _Plan:
    if recipients is not None and (
        isinstance(recipients, str | bytes | Mapping) or not isinstance(recipients, Iterable)
    ):
        raise InvalidRequestError([(
            "$.recipients",
            f"rule 9: recipients are a list of recipient objects, not {type(recipients).__name__}",
        )])
    if journal is not None and not isinstance(journal, str | os.PathLike):
        raise JournalError(f"journal is the path of a file, not {type(journal).__name__}")
    if recipients is None and broadcast is None:
        raise InvalidRequestError([(
            "$.broadcast",
            "rule 11: without recipients, say broadcast=True to send to the campaign's "
            "whole dashboard audience (narrowed by `audience` if given)",
        )])
    audience_json = _audience_json(audience, schema) if audience is not None else None
    if audience_json is not None and always_true(audience_json) and not allow_everyone:
        raise InvalidRequestError([(
            "$.audience",
            "rule 12: this audience matches every user; pass allow_everyone=True if that "
            "is really meant",
        )])
    top: dict[str, Any] = {"campaign_id": campaign_id}
    if send_id is not None:
        top["send_id"] = send_id
    if trigger_properties is not None:
        top["trigger_properties"] = trigger_properties
    if broadcast is not None:
        top["broadcast"] = broadcast
    if audience_json is not None:
        top["audience"] = audience_json
    if attachments is not None:
        top["attachments"] = [dict(a) if isinstance(a, Mapping) else a for a in attachments]

    problems: list[tuple[str, str]] = []
    found: list[warnings.WarningMessage] = []
    bodies: list[tuple[dict[str, Any], tuple[str, ...]]] = []

    def check(body: dict[str, Any], offset: int) -> dict[str, Any] | None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return check_body(body, lenient_broadcast=lenient_broadcast,
                                  audience_checked=True)
            except InvalidRequestError as exc:
                problems.extend((_shift(p, offset), m) for p, m in exc.problems)
                return None
            finally:
                for w in caught:
                    text = str(w.message)
                    path, _, rest = text.partition(": ")
                    w.message = AudienceWarning(f"{_shift(path, offset)}: {rest}")
                    found.append(w)

    if recipients is None:
        checked = check(top, 0)
        if checked is not None:
            bodies.append((checked, (BROADCAST,)))
    else:
        plain = [r.to_json() if isinstance(r, BaseModel) else r for r in recipients]
        if not plain:
            problems.append(("$.recipients", "rule 9: the recipient list is empty"))
        keys = [recipient_key(r) if isinstance(r, Mapping) else "?" for r in plain]
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key in first and key != "?":
                problems.append((
                    f"$.recipients[{index}]",
                    f"rule 23: repeats recipients[{first[key]}] ({key}); the client refuses "
                    "duplicates (split into several requests, they could get two messages): "
                    "merge them",
                ))
            first.setdefault(key, index)
        size = request.MAX_RECIPIENTS
        for offset in range(0, len(plain), size):
            body = dict(top)
            body["recipients"] = list(plain[offset:offset + size])
            checked = check(body, offset)
            if checked is not None:
                bodies.append((checked, tuple(keys[offset:offset + size])))
    if problems:
        raise InvalidRequestError(problems)
    for w in found:  # shown at the caller of trigger_send
        warnings.warn(w.message, w.category, stacklevel=4)

    store = None if dry_run or journal is None else _Journal(journal, campaign_id)
    skipped: dict[str, RecipientOutcome] = {}
    jobs: list[_Job] = []
    order: list[str] = []
    for index, (body, keys_) in enumerate(bodies):
        order.extend(keys_)
        if store is not None:
            todo = []
            for key in keys_:
                before = store.previous.get(key)
                done = before is not None and (
                    before.state is State.ACCEPTED
                    or (before.state is State.UNKNOWN and not resend_unknown)
                )
                if before is not None and done:
                    skipped[key] = before
                else:
                    todo.append(key)
            if len(todo) != len(keys_):
                if not todo:
                    continue
                if "recipients" in body:
                    wanted = set(todo)
                    body = dict(body)
                    body["recipients"] = [r for r in body["recipients"]
                                          if recipient_key(r) in wanted]
                keys_ = tuple(todo)
        if "recipients" in body:
            buckets: tuple[str, ...] = ("hour",)
        else:
            buckets = ("minute", _audience_key(campaign_id, body.get("audience")))
        jobs.append(_Job(index, body, keys_, buckets))
    return _Plan(campaign_id, jobs, order, skipped, store)


# ---- deciding what a response means -------------------------------------------------------

# Raised before the request left: safe to retry.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
                    httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.ProxyError)


@dataclass(frozen=True)
class _Final:
    outcome: RequestOutcome


@dataclass(frozen=True)
class _Retry:
    delay: float  # seconds from now (0 = as soon as the pacer allows)
    reason: str


_Step: TypeAlias = "_Final | _Retry"


class _Attempts:
    """The decision logic of one request's tries; the sync and async loops share it."""

    def __init__(self, client: _Base, job: _Job) -> None:
        self.client = client
        self.job = job
        self.tries = 0  # requests made
        self.failures = 0  # 5xx answers and connections that never opened
        self.rate_limited = 0  # 429 answers
        self.info = RequestInfo("POST", client.url, client._redacted_headers(), job.body)

    def final(self, state: State, *, error: SendError | None = None,
              response: ResponseInfo | None = None, dispatch_id: str | None = None,
              message: str = "") -> _Final:
        return _Final(RequestOutcome(
            self.job.index, self.job.keys, state,
            status_code=response.status_code if response is not None else None,
            dispatch_id=dispatch_id, message=message or (error.message if error else ""),
            attempts=self.tries, error=error, response=response,
        ))

    def on_exception(self, exc: httpx.HTTPError) -> _Step:
        policy = self.client.retry
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self.failures += 1
        if isinstance(exc, _NOT_SENT_ERRORS):
            if self.failures < policy.attempts:
                return _Retry(policy.delay(self.failures, self.client._rng), what)
            return self.final(State.NOT_SENT, error=ConnectionFailed(
                f"could not reach Braze after {self.tries} tries: {what}", request=self.info))
        if policy.retry_unknown and self.failures < policy.attempts:
            return _Retry(policy.delay(self.failures, self.client._rng), what)
        return self.final(State.UNKNOWN, error=OutcomeUnknown(
            f"the request was sent but no answer came ({what}); Braze may have processed it",
            request=self.info))

    def on_response(self, status: int, headers: Mapping[str, str], raw: bytes) -> _Step:
        client = self.client
        policy = client.retry
        body = _decode(raw)
        response = ResponseInfo(status, dict(headers), body)
        reset = client.pacer.observe(self.job.buckets, status, headers)
        message = _braze_message(body)
        if 200 <= status < 300:
            dispatch = body.get("dispatch_id") if isinstance(body, dict) else None
            return self.final(State.ACCEPTED, response=response,
                              dispatch_id=dispatch if isinstance(dispatch, str) else None,
                              message=message or "success")
        if status == 429:
            self.rate_limited += 1
            wait_for = reset - client.clock() if reset else policy.delay(self.rate_limited,
                                                                         client._rng)
            too_long = wait_for > policy.max_rate_limit_wait
            if too_long or self.rate_limited > policy.rate_limit_retries:
                return self.final(State.NOT_SENT, response=response, error=RateLimitError(
                    f"rate limited (429); the window resets in {wait_for:.0f} s, more than the "
                    f"allowed {policy.max_rate_limit_wait:.0f} s", request=self.info,
                    response=response))
            return _Retry(0.0 if reset else wait_for, "429")
        if status in policy.unknown_statuses:
            self.failures += 1
            if policy.retry_unknown and self.failures < policy.attempts:
                return _Retry(policy.delay(self.failures, client._rng), str(status))
            return self.final(State.UNKNOWN, response=response, message=message,
                              error=OutcomeUnknown(
                                  f"Braze answered {status}, which you chose to treat as "
                                  f"ambiguous: {message}", request=self.info,
                                  response=response))
        if status in policy.retry_statuses:
            self.failures += 1
            if self.failures < policy.attempts:
                return _Retry(policy.delay(self.failures, client._rng), str(status))
            return self.final(State.NOT_SENT, response=response, message=message,
                              error=ServerError(
                f"Braze answered {status} on all {self.tries} tries: {message}",
                request=self.info, response=response))
        cls: type[BrazeHTTPError]
        cls = AuthenticationError if status in (401, 403) else RequestRejected
        if status >= 500:
            cls = ServerError
        state = State.NOT_SENT if status >= 500 else State.REJECTED
        return self.final(state, response=response, message=message, error=cls(
            f"Braze answered {status}: {message}", request=self.info, response=response))


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


def _braze_message(body: Any) -> str:
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("message", "error") if body.get(k)]
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            parts.append("; ".join(str(e) for e in errors))
        return " - ".join(parts)
    return str(body)[:200]


def _recipient_outcomes(outcome: RequestOutcome) -> list[RecipientOutcome]:
    return [RecipientOutcome(key, outcome.state, outcome.dispatch_id, outcome.message,
                             outcome.index) for key in outcome.keys]


def _not_sent(job: _Job, error: SendError) -> RequestOutcome:
    return RequestOutcome(job.index, job.keys, State.NOT_SENT, message=error.message,
                          error=error)


# ---- the clients ----------------------------------------------------------------------------


class _Base:
    """What the two clients share: configuration, headers, planning, results."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        timeouts: Timeouts,
        retry: RetryPolicy,
        limits: Limits,
        concurrency: int,
        clock: Callable[[], float],
        rng: random.Random | None,
        lenient_broadcast: bool,
        allow_any_host: bool,
    ) -> None:
        self.__key = check_api_key(api_key)
        self.base_url = check_base_url(base_url, allow_any_host=allow_any_host)
        self.url = self.base_url + request.PATH
        self.timeouts = timeouts
        self.retry = retry
        self.concurrency = max(1, int(concurrency))
        self.clock = clock
        self.pacer = Pacer(limits, clock)
        self.lenient_broadcast = lenient_broadcast
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=[redacted])"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.__key}", "Content-Type": "application/json",
                "Accept": "application/json"}

    def _redacted_headers(self) -> dict[str, str]:
        return {**self._headers(), "Authorization": _REDACTED}

    def _plan(self, campaign_id: str, kwargs: dict[str, Any]) -> _Plan:
        return _plan(campaign_id, lenient_broadcast=self.lenient_broadcast, **kwargs)

    @staticmethod
    def _payload(body: Mapping[str, Any]) -> bytes:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode()

    @staticmethod
    def _dry(plan: _Plan) -> SendResult:
        return SendResult(plan.campaign_id, bodies=[job.body for job in plan.jobs],
                          dry_run=True)

    @staticmethod
    def _assemble(plan: _Plan, outcomes: list[RequestOutcome]) -> SendResult:
        result = SendResult(plan.campaign_id)
        by_key: dict[str, RecipientOutcome] = dict(plan.skipped)
        for outcome in sorted(outcomes, key=lambda o: o.index):
            result.requests.append(outcome)
            for recipient in _recipient_outcomes(outcome):
                by_key[recipient.key] = recipient
        result.outcomes = {key: by_key[key] for key in plan.order if key in by_key}
        return result

    def _record(self, plan: _Plan, outcome: RequestOutcome) -> None:
        log.info("request %d: %s (%d recipients, status %s, %d tries)", outcome.index,
                 outcome.state.value, len(outcome.keys), outcome.status_code, outcome.attempts)
        if plan.journal is not None:
            plan.journal.outcome(_recipient_outcomes(outcome))


_SEND_DOC = """Send one API-triggered campaign to recipients, an audience, or both.

        ``audience`` is rule text (compiled with ``schema``), an AST or a Connected
        Audience dict (validated); ``recipients`` are Braze recipient objects (dicts or
        :class:`audience_dsl.braze.request.Recipient`), split into requests of at most 50.
        Without recipients, ``broadcast=True`` must be said explicitly, and an audience
        that matches everyone is refused unless ``allow_everyone=True``.

        Everything is checked before the first request leaves
        (:class:`~audience_dsl.braze.request.InvalidRequestError`). ``dry_run=True`` sends nothing
        and returns the bodies. ``journal`` names a JSON-lines file recording every outcome
        as it happens; run again with the same journal and only what was not accepted is
        sent (``unknown`` recipients only with ``resend_unknown=True``). ``on_request`` is
        called with each :class:`RequestOutcome` as it is decided; if it raises, no
        further request starts and the exception propagates.

        Returns a :class:`SendResult`; call ``raise_for_status()`` to turn failures into
        an exception.
        """


class BrazeClient(_Base):
    """A Braze REST client for ``/campaigns/trigger/send``, safe to share between threads.

    ``base_url`` is an instance name (``"US-01"``, ``"EU-01"``, ...) or a URL. Pass
    ``http`` (an :class:`httpx.Client`, not closed by this client) or ``transport`` to
    control the connection; ``clock`` (epoch seconds) and ``sleep`` make time testable.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
        limits: Limits = Limits(),
        concurrency: int = 4,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        lenient_broadcast: bool = False,
        allow_any_host: bool = False,
    ) -> None:
        super().__init__(api_key, base_url, timeouts=timeouts, retry=retry, limits=limits,
                         concurrency=concurrency, clock=clock, rng=rng,
                         lenient_broadcast=lenient_broadcast, allow_any_host=allow_any_host)
        self.sleep = sleep
        self._owns_http = http is None
        self._http = http or httpx.Client(
            transport=transport, timeout=timeouts.httpx(),
            limits=httpx.Limits(max_connections=self.concurrency,
                                max_keepalive_connections=self.concurrency),
        )

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
        allow_everyone: bool = False,
        on_request: Callable[[RequestOutcome], None] | None = None,
    ) -> SendResult:
        plan = self._plan(campaign_id, dict(
            audience=audience, recipients=recipients, broadcast=broadcast,
            trigger_properties=trigger_properties, send_id=send_id, attachments=attachments,
            schema=schema, allow_everyone=allow_everyone, journal=journal,
            resend_unknown=resend_unknown, dry_run=dry_run))
        if dry_run:
            return self._dry(plan)
        return self._run(plan, on_request)

    trigger_send.__doc__ = _SEND_DOC

    def _run(self, plan: _Plan, hook: Callable[[RequestOutcome], None] | None) -> SendResult:
        if plan.journal is not None and plan.jobs:
            plan.journal.start()
        outcomes: list[RequestOutcome] = []
        stop = threading.Event()
        stop_error: list[SendError] = []
        raised: list[BaseException] = []
        pending_jobs: Iterator[_Job] = iter(plan.jobs)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="braze-send") as pool:
            running: dict[Future[RequestOutcome], _Job] = {}

            def fill() -> None:
                while len(running) < self.concurrency and not stop.is_set():
                    job = next(pending_jobs, None)
                    if job is None:
                        return
                    running[pool.submit(self._recorded, plan, job, stop)] = job

            try:
                fill()
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        running.pop(future)
                        try:
                            outcome = future.result()
                        except BaseException as exc:  # a bug or a journal failure: stop
                            stop.set()
                            raised.append(exc)
                            continue
                        outcomes.append(outcome)
                        if isinstance(outcome.error, AuthenticationError):
                            stop.set()
                            stop_error.append(outcome.error)
                        if hook is not None and not raised:
                            try:
                                hook(outcome)
                            except BaseException as exc:
                                stop.set()
                                raised.append(exc)
                    fill()
            except BaseException:
                # Ctrl-C: start nothing new; requests in flight finish and are journaled
                # by their workers while the pool shuts down.
                stop.set()
                raise
        if raised:
            raise raised[0]
        why = stop_error[0] if stop_error else None
        for job in pending_jobs:
            error = SendInterrupted(f"not sent: an earlier request failed ({why})")
            outcomes.append(_not_sent(job, error))
            self._record(plan, outcomes[-1])
        return self._assemble(plan, outcomes)

    def _recorded(self, plan: _Plan, job: _Job, stop: threading.Event) -> RequestOutcome:
        outcome = self._one(plan, job, stop)
        self._record(plan, outcome)
        return outcome

    def _one(self, plan: _Plan, job: _Job, stop: threading.Event) -> RequestOutcome:
        attempts = _Attempts(self, job)
        payload = self._payload(job.body)
        announced = False
        while True:
            while (delay := self.pacer.reserve(job.buckets)) > 0:
                if stop.is_set():
                    return _not_sent(job, SendInterrupted("not sent: the send was stopped"))
                self.sleep(min(delay, _SLICE))
            if not announced and plan.journal is not None:
                plan.journal.attempt(job.index, job.keys)
            announced = True
            attempts.tries += 1
            try:
                response = self._http.post(self.url, content=payload, headers=self._headers(),
                                           timeout=self.timeouts.httpx())
                step = attempts.on_response(response.status_code, response.headers,
                                            response.content)
            except httpx.HTTPError as exc:
                step = attempts.on_exception(exc)
            if isinstance(step, _Final):
                return step.outcome
            log.info("request %d: retrying after %s", job.index, step.reason)
            if step.delay > 0:
                self.sleep(step.delay)

    def send_body(self, body: Mapping[str, Any]) -> SendResult:
        """Send one request body as given (checked first; at most 50 recipients)."""
        checked = check_body(body, lenient_broadcast=self.lenient_broadcast)
        return self._run(_single(checked), None)


class AsyncBrazeClient(_Base):
    """The asyncio twin of :class:`BrazeClient`; safe to share between tasks."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
        limits: Limits = Limits(),
        concurrency: int = 4,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        lenient_broadcast: bool = False,
        allow_any_host: bool = False,
    ) -> None:
        super().__init__(api_key, base_url, timeouts=timeouts, retry=retry, limits=limits,
                         concurrency=concurrency, clock=clock, rng=rng,
                         lenient_broadcast=lenient_broadcast, allow_any_host=allow_any_host)
        self.sleep = sleep
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            transport=transport, timeout=timeouts.httpx(),
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
        allow_everyone: bool = False,
        on_request: Callable[[RequestOutcome], None] | None = None,
    ) -> SendResult:
        plan = self._plan(campaign_id, dict(
            audience=audience, recipients=recipients, broadcast=broadcast,
            trigger_properties=trigger_properties, send_id=send_id, attachments=attachments,
            schema=schema, allow_everyone=allow_everyone, journal=journal,
            resend_unknown=resend_unknown, dry_run=dry_run))
        if dry_run:
            return self._dry(plan)
        return await self._run(plan, on_request)

    trigger_send.__doc__ = _SEND_DOC

    async def _run(self, plan: _Plan,
                   hook: Callable[[RequestOutcome], None] | None) -> SendResult:
        if plan.journal is not None and plan.jobs:
            plan.journal.start()
        outcomes: list[RequestOutcome] = []
        stop = asyncio.Event()
        stop_error: list[SendError] = []
        raised: list[BaseException] = []
        queue: Iterator[_Job] = iter(plan.jobs)

        async def worker() -> None:
            while not stop.is_set():
                job = next(queue, None)
                if job is None:
                    return
                outcome = await self._one(plan, job, stop)
                outcomes.append(outcome)
                self._record(plan, outcome)
                if isinstance(outcome.error, AuthenticationError):
                    stop.set()
                    stop_error.append(outcome.error)
                if hook is not None and not raised:
                    try:
                        hook(outcome)
                    except BaseException as exc:
                        stop.set()
                        raised.append(exc)

        results = await asyncio.gather(*(worker() for _ in range(self.concurrency)),
                                       return_exceptions=True)
        raised.extend(r for r in results if isinstance(r, BaseException))
        if raised:
            raise raised[0]
        why = stop_error[0] if stop_error else None
        for job in queue:
            error = SendInterrupted(f"not sent: an earlier request failed ({why})")
            outcomes.append(_not_sent(job, error))
            self._record(plan, outcomes[-1])
        return self._assemble(plan, outcomes)

    async def _one(self, plan: _Plan, job: _Job, stop: asyncio.Event) -> RequestOutcome:
        attempts = _Attempts(self, job)
        payload = self._payload(job.body)
        announced = False
        while True:
            while (delay := self.pacer.reserve(job.buckets)) > 0:
                if stop.is_set():
                    return _not_sent(job, SendInterrupted("not sent: the send was stopped"))
                await self.sleep(min(delay, _SLICE))
            if not announced and plan.journal is not None:
                plan.journal.attempt(job.index, job.keys)
            announced = True
            attempts.tries += 1
            try:
                response = await self._http.post(self.url, content=payload,
                                                 headers=self._headers(),
                                                 timeout=self.timeouts.httpx())
                step = attempts.on_response(response.status_code, response.headers,
                                            response.content)
            except httpx.HTTPError as exc:
                step = attempts.on_exception(exc)
            if isinstance(step, _Final):
                return step.outcome
            log.info("request %d: retrying after %s", job.index, step.reason)
            if step.delay > 0:
                await self.sleep(step.delay)

    async def send_body(self, body: Mapping[str, Any]) -> SendResult:
        """Send one request body as given (checked first; at most 50 recipients)."""
        checked = check_body(body, lenient_broadcast=self.lenient_broadcast)
        return await self._run(_single(checked), None)


def _single(body: dict[str, Any]) -> _Plan:
    recipients = body.get("recipients")
    keys = tuple(recipient_key(r) for r in recipients) if recipients else (BROADCAST,)
    keys = tuple(dict.fromkeys(keys))
    if recipients:
        buckets: tuple[str, ...] = ("hour",)
    else:
        buckets = ("minute", _audience_key(str(body["campaign_id"]), body.get("audience")))
    return _Plan(str(body["campaign_id"]), [_Job(0, body, keys, buckets)], list(keys), {}, None)


# ---- audiences that match everyone ------------------------------------------------------------


def always_true(audience: Mapping[str, Any]) -> bool:
    """Whether the audience provably matches every user (a trivial tautology).

    Found: an ``OR`` holding a filter and its exact complement on the same value, when
    one of the two also matches users without the attribute (``x exists or x does not
    exist``, ``plan = "a" or plan != "a"``, ``push is opted_in or push is not opted_in``);
    an ``OR`` with such a member; an ``AND`` whose members all are. Not found: anything
    subtler (this is a guard against mistakes, not a decision procedure).
    """
    known: dict[int, bool] = {}
    stack: list[tuple[Any, bool]] = [(audience, False)]
    while stack:
        node, expanded = stack.pop()
        group, members = _group(node)
        if group is None:
            known[id(node)] = False
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((m, False) for m in members)
            continue
        if group == "AND":
            known[id(node)] = all(known.get(id(m), False) for m in members)
        else:
            known[id(node)] = any(known.get(id(m), False) for m in members) or \
                _complementary(_or_leaves(members))
    return known.get(id(audience), False)


def _group(node: Any) -> tuple[str | None, list[Any]]:
    if isinstance(node, Mapping) and len(node) == 1:
        key = next(iter(node))
        if key in GROUPS and isinstance(node[key], list):
            return key, node[key]
    return None, []


def _or_leaves(members: list[Any]) -> list[Mapping[str, Any]]:
    leaves: list[Mapping[str, Any]] = []
    stack = list(members)
    while stack:
        node = stack.pop()
        group, inner = _group(node)
        if group == "OR":
            stack.extend(inner)
        elif group is None and isinstance(node, Mapping):
            leaves.append(node)
    return leaves


_COMPARISONS = frozenset(c.value for c in C)


def _matches_missing(comparison: C, value: object) -> bool:
    try:
        return DEFAULT_SEMANTICS.missing_matches(comparison, value)
    except KeyError:  # not an attribute comparison: prove nothing
        return False


def _complementary(leaves: list[Mapping[str, Any]]) -> bool:
    seen: set[tuple[str, str, str]] = set()
    covers_missing: set[str] = set()
    for leaf in leaves:
        key = next(iter(leaf), "")
        body = leaf.get(key)
        if not isinstance(body, Mapping):
            continue
        comparison = str(body.get("comparison", ""))
        value = json.dumps(body.get("value"), sort_keys=True)
        if key == "custom_attribute":
            target = f"attr:{body.get('custom_attribute_name')}"
            if comparison in _COMPARISONS and _matches_missing(C(comparison), body.get("value")):
                covers_missing.add(target)
        elif key in ("push_subscription_status", "email_subscription_status"):
            target = key
            covers_missing.add(target)  # every user has a subscription state
        else:
            continue
        seen.add((target, comparison, value))
    for target, comparison, value in seen:
        other = COMPLEMENT.get(C(comparison)) if comparison in _COMPARISONS else None
        if other is not None and (target, str(other.value), value) in seen \
                and target in covers_missing:
            return True
    return False
