"""A Braze-compatible ``POST /campaigns/trigger/send`` on 127.0.0.1, for tests and demos.

:class:`LocalBraze` runs an :class:`http.server.ThreadingHTTPServer` in a thread and
answers like Braze does (§11 of the specification): the same status codes and bodies
for bad paths, content types, keys, permissions, JSON, sizes, campaign IDs and bodies;
rate limits with real ``X-RateLimit-*`` headers (windows configurable, so tests need
not wait a minute); ``201`` with a dispatch ID for what it accepts, keeping every
accepted body. Faults can be injected per request (:meth:`LocalBraze.inject`) or by
probability with a seeded generator (:meth:`LocalBraze.set_fault_rates`):

``"429"``, ``"500"``, ``"502"``, ``"503"``, ``"504"``   answered instead of processing
``"delay:<seconds>"``   process, then wait that long before answering
``"drop_after"``        process, then close the connection without an answer
``"close_before"``      close the connection without reading the request

Given user profiles (Braze export shape), it evaluates each accepted request's audience
and records who would have received the message (:attr:`LocalBraze.deliveries`).

From the command line (runs until Ctrl-C)::

    python -m audience_dsl.testing --port 8765 --campaign c1 --key k1
    python -m audience_dsl.testing --demo      # compile a rule, send it here, print

>>> with LocalBraze(campaigns=["c1"], keys=["k1"]) as braze:
...     braze.url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from audience_dsl.braze import validate as _braze
from audience_dsl.braze.body import check_body
from audience_dsl.braze.body import recipient_key as _recipient_key
from audience_dsl.braze.limits import Limits
from audience_dsl.braze.request import (
    MAX_BODY_BYTES,
    MAX_RECIPIENTS,
    PATH,
    InvalidRequestError,
)
from audience_dsl.errors import ValidationError

__all__ = [
    "PERMISSION",
    "Accepted",
    "Delivery",
    "LocalBraze",
    "Received",
]

#: The permission a key needs for this endpoint.
PERMISSION = "campaigns.trigger.send"
_STATUSES = ("429", "500", "502", "503", "504")
_FAULTS = (*_STATUSES, "drop_after", "close_before")


@dataclass(frozen=True)
class Received:
    """One request as it arrived: when, where, the body (if read), the answer's status.

    ``status`` is ``None`` when no answer was given (a dropped connection);
    ``fault`` names the injected fault, if any; ``reset`` the ``X-RateLimit-Reset`` sent.
    """

    time: float
    path: str
    body: Any
    status: int | None
    fault: str | None = None
    reset: float | None = None


@dataclass(frozen=True)
class Accepted:
    """One accepted (processed) request: its body and the dispatch ID given."""

    time: float
    body: dict[str, Any]
    dispatch_id: str
    send_id: str | None = None


@dataclass(frozen=True)
class Delivery:
    """A user who would have received the message of a dispatch."""

    dispatch_id: str
    user: str


@dataclass
class _Bucket:
    length: float
    capacity: int
    end: float = 0.0
    used: int = 0

    def roll(self, now: float) -> None:
        if now >= self.end:
            self.end = (int(now // self.length) + 1) * self.length
            self.used = 0


@dataclass
class _State:
    requests: list[Received] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    activity_log: list[str] = field(default_factory=list)
    queue: list[str] = field(default_factory=list)
    buckets: dict[str, _Bucket] = field(default_factory=dict)


class LocalBraze:
    """A local stand-in for Braze's ``/campaigns/trigger/send`` (see the module docstring).

    ``campaigns``: the campaign IDs that exist. ``keys``: API keys, each mapped to its
    permissions (a plain list of keys gets ``campaigns.trigger.send``). ``limits``: the
    rate limits and window lengths. ``profiles`` and ``now``: users to evaluate audiences
    against. ``attribute_types``: the workspace's attribute types, so an audience that
    compares an attribute as the wrong type is accepted but logged in
    :attr:`activity_log`, as Braze does. ``lenient_broadcast``: accept an audience-only
    request without ``broadcast: true`` (§12 Q1). ``trailing_slash_status``: 403 (as
    Braze documents) or 404. ``fault_reset_after``: seconds until the reset of an
    injected 429.
    """

    def __init__(
        self,
        *,
        campaigns: Iterable[str] = ("c1",),
        keys: Mapping[str, Iterable[str]] | Iterable[str] = ("k1",),
        host: str = "127.0.0.1",
        port: int = 0,
        limits: Limits | None = None,
        profiles: Iterable[Mapping[str, Any]] = (),
        now: datetime | None = None,
        attribute_types: Mapping[str, Any] | None = None,
        lenient_broadcast: bool = True,
        trailing_slash_status: int = 403,
        fault_reset_after: float = 1.0,
        seed: int = 0,
        clock: Any = time.time,
    ) -> None:
        self.campaigns = set(campaigns)
        if isinstance(keys, Mapping):
            self.keys = {k: frozenset(v) for k, v in keys.items()}
        else:
            self.keys = {k: frozenset({PERMISSION}) for k in keys}
        self.limits = limits or Limits()
        self.profiles = [dict(p) for p in profiles]
        self.now = now
        self.attribute_types = attribute_types
        self.lenient_broadcast = lenient_broadcast
        self.trailing_slash_status = trailing_slash_status
        self.fault_reset_after = fault_reset_after
        self.clock = clock
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._state = _State()
        self._rates: dict[str, float] = {}
        self._rng = random.Random(seed)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- life cycle ----

    def start(self) -> LocalBraze:
        handler = type("Handler", (_Handler,), {"braze": self})
        self._server = _Server((self._host, self._port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="local-braze")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalBraze:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8765`` (give it to the client)."""
        if self._server is None:
            raise RuntimeError("the local endpoint is not running; call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # ---- what happened ----

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._state.requests)

    @property
    def accepted(self) -> list[Accepted]:
        with self._lock:
            return list(self._state.accepted)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._state.deliveries)

    @property
    def activity_log(self) -> list[str]:
        with self._lock:
            return list(self._state.activity_log)

    def accepted_bodies(self) -> list[dict[str, Any]]:
        """Every accepted body, in the order processed."""
        return [a.body for a in self.accepted]

    def recipient_counts(self) -> Counter[str]:
        """How often each recipient (``external_user_id:u-1``, ...) was processed."""
        counts: Counter[str] = Counter()
        for body in self.accepted_bodies():
            for recipient in body.get("recipients", ()):
                counts[_recipient_key(recipient)] += 1
        return counts

    def reset(self) -> None:
        """Forget every request, acceptance, fault and rate-limit count."""
        with self._lock:
            self._state = _State()

    # ---- faults ----

    def inject(self, *faults: str) -> None:
        """Queue faults for the next requests, one each, in order (see the module docstring)."""
        for fault in faults:
            _check_fault(fault)
        with self._lock:
            self._state.queue.extend(faults)

    def set_fault_rates(self, rates: Mapping[str, float], *, seed: int | None = None) -> None:
        """Inject each fault with its probability per request (a seeded generator)."""
        for fault, rate in rates.items():
            _check_fault(fault)
            if not 0 <= rate <= 1:
                raise ValueError(f"the rate of {fault!r} must be between 0 and 1")
        if sum(rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        with self._lock:
            self._rates = dict(rates)
            if seed is not None:
                self._rng = random.Random(seed)

    def _next_fault(self) -> str | None:
        with self._lock:
            if self._state.queue:
                return self._state.queue.pop(0)
            if self._rates:
                draw = self._rng.random()
                for fault, rate in self._rates.items():
                    if draw < rate:
                        return fault
                    draw -= rate
        return None

    # ---- rate limits ----

    def _bucket(self, name: str) -> _Bucket:
        bucket = self._state.buckets.get(name)
        if bucket is None:
            bucket = _Bucket(*self.limits.window(name))
            self._state.buckets[name] = bucket
        return bucket

    def _take(self, names: Sequence[str], *, count: bool = True
              ) -> tuple[bool, dict[str, str], float]:
        """Count a request against its buckets; (allowed, headers, reset)."""
        with self._lock:
            now = self.clock()
            buckets = [self._bucket(n) for n in names]
            for bucket in buckets:
                bucket.roll(now)
            allowed = all(b.used < b.capacity for b in buckets)
            if allowed and count:
                for bucket in buckets:
                    bucket.used += 1
            tight = min(buckets, key=lambda b: (b.capacity - b.used, -b.end))
            return allowed, _limit_headers(tight.capacity, tight.capacity - tight.used,
                                           tight.end, tight.length), tight.end

    # ---- processing ----

    def _accept(self, body: dict[str, Any]) -> Accepted:
        dispatch_id = uuid.UUID(int=self._rng.getrandbits(128)).hex
        broadcast = body.get("broadcast") is True
        send_id = body.get("send_id") or (f"send-{dispatch_id[:12]}" if broadcast else None)
        accepted = Accepted(self.clock(), body, dispatch_id, send_id)
        deliveries = self._deliver(body, dispatch_id)
        notes = self._check_types(body, dispatch_id)
        with self._lock:
            self._state.accepted.append(accepted)
            self._state.deliveries.extend(deliveries)
            self._state.activity_log.extend(notes)
        return accepted

    def _check_types(self, body: Mapping[str, Any], dispatch_id: str) -> list[str]:
        audience = body.get("audience")
        if self.attribute_types is None or audience is None:
            return []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _braze.validate(audience, schema_types=self.attribute_types)
        except ValidationError as exc:
            return [f"{dispatch_id}: Error sending to invalid audience: {path}: {message}"
                    for path, message in exc.problems]
        return []

    def _deliver(self, body: Mapping[str, Any], dispatch_id: str) -> list[Delivery]:
        if not self.profiles:
            return []
        try:
            from audience_dsl.evaluator import evaluate
        except ImportError:  # the evaluator is optional here
            return []
        now = self.now or datetime.now(UTC)
        audience = body.get("audience")
        recipients = body.get("recipients")
        if recipients:
            candidates = []
            for recipient in recipients:
                profile = self._find(recipient)
                if profile is not None:
                    candidates.append(profile)
        else:
            candidates = list(self.profiles)
        out = []
        for profile in dict((id(p), p) for p in candidates).values():
            if audience is None or evaluate(audience, profile, now=now):
                out.append(Delivery(dispatch_id, _user(profile)))
        return out

    def _find(self, recipient: Mapping[str, Any]) -> dict[str, Any] | None:
        for profile in self.profiles:
            if "external_user_id" in recipient:
                if profile.get("external_id") == recipient["external_user_id"]:
                    return profile
            elif "braze_id" in recipient:
                if profile.get("braze_id") == recipient["braze_id"]:
                    return profile
            elif "email" in recipient:
                if str(profile.get("email", "")).lower() == str(recipient["email"]).lower():
                    return profile
            elif "user_alias" in recipient:
                alias = recipient["user_alias"]
                if any(a.get("alias_name") == alias.get("alias_name")
                       and a.get("alias_label") == alias.get("alias_label")
                       for a in profile.get("user_aliases", ())):
                    return profile
        return None

    def _log(self, received: Received) -> None:
        with self._lock:
            self._state.requests.append(received)


def _check_fault(fault: str) -> None:
    if fault in _FAULTS:
        return
    if fault.startswith("delay:"):
        try:
            float(fault[6:])
            return
        except ValueError:
            pass
    raise ValueError(f"unknown fault {fault!r}; use one of {', '.join(_FAULTS)} or delay:<s>")


def _user(profile: Mapping[str, Any]) -> str:
    for key in ("external_id", "braze_id", "email"):
        if profile.get(key):
            return f"{key}:{profile[key]}"
    return "?"


def _limit_headers(limit: int, remaining: int, reset: float, length: float) -> dict[str, str]:
    whole = length >= 1 and float(length).is_integer()
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(max(0, remaining)),
        "x-ratelimit-reset": str(int(reset)) if whole else f"{reset:.3f}",
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout, a dropped connection) is expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """One connection; :attr:`braze` is set on the subclass :meth:`LocalBraze.start` makes."""

    braze: LocalBraze
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes; no 40 ms stalls
    server_version = "LocalBraze/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read the record instead

    def do_GET(self) -> None:
        self._read_body()
        self._answer(404, {"message": "Not Found"})

    def do_POST(self) -> None:
        braze = self.braze
        arrived = braze.clock()
        fault = braze._next_fault()
        if fault == "close_before":
            braze._log(Received(arrived, self.path, None, None, fault))
            self._drop()
            return
        raw = self._read_body()
        path = self.path
        body: Any = None

        def answer(status: int, payload: Mapping[str, Any],
                   headers: Mapping[str, str] | None = None, reset: float | None = None,
                   why: str | None = None) -> None:
            braze._log(Received(arrived, path, body, status, why, reset))
            self._answer(status, payload, headers)

        if path != PATH:
            if path.rstrip("/") == PATH:
                answer(braze.trailing_slash_status, {"message": "Access Denied"})
            else:
                answer(404, {"message": "Not Found"})
            return
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            answer(415, {"message": "Unsupported Media Type: send application/json"})
            return
        auth = self.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else None
        if not key or key not in braze.keys:
            answer(401, {"message": "Invalid API key"})
            return
        if PERMISSION not in braze.keys[key]:
            answer(403, {"message": "Access Denied"})
            return
        if raw is None:
            answer(413, {"message": "Request Entity Too Large"})
            return
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            answer(400, {"error": "Error while parsing request body. Please check your syntax."})
            return
        if not isinstance(body, dict):
            answer(400, {"message": "Bad Request", "errors": ["the body must be a JSON object"]})
            return
        recipients = body.get("recipients")
        if recipients is not None and body.get("broadcast") is not True:
            names: tuple[str, ...] = ("hour",)
        else:
            text = json.dumps([body.get("campaign_id"), body.get("audience")], sort_keys=True)
            names = ("minute", "audience:" + text)
        allowed, headers, reset = braze._take(names, count=fault != "429")
        if fault == "429":
            reset = braze.clock() + braze.fault_reset_after
            headers = {**headers, "x-ratelimit-remaining": "0",
                       "x-ratelimit-reset": f"{reset:.3f}"}
            answer(429, {"message": "Rate Limited"}, headers, reset, fault)
            return
        if not allowed:
            answer(429, {"message": "Rate Limited"}, headers, reset)
            return
        if fault in _STATUSES:
            answer(int(fault), {"message": "Internal Server Error"}, headers, None, fault)
            return
        if body.get("campaign_id") not in braze.campaigns:
            answer(400, {"message": "Invalid Campaign ID"}, headers)
            return
        if isinstance(recipients, list) and len(recipients) > MAX_RECIPIENTS:
            answer(400, {"message": "The max number of external_ids and aliases per request "
                                    "was exceeded"}, headers)
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check_body(body, lenient_broadcast=braze.lenient_broadcast)
        except InvalidRequestError as exc:
            answer(400, {"message": "Bad Request",
                         "errors": [f"{p}: {m}" for p, m in exc.problems]}, headers)
            return
        accepted = braze._accept(body)
        if fault == "drop_after":
            braze._log(Received(arrived, path, body, None, fault))
            self._drop()
            return
        if fault is not None and fault.startswith("delay:"):
            time.sleep(float(fault[6:]))
        payload: dict[str, Any] = {"dispatch_id": accepted.dispatch_id, "message": "success"}
        if accepted.send_id is not None and body.get("broadcast") is True:
            payload["send_id"] = accepted.send_id
        answer(201, payload, headers, None, fault)

    def _read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
            return None
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, payload: Mapping[str, Any],
                headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
