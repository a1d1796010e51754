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
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from audience_dsl.braze import validate as _braze
from audience_dsl.braze.body import recipient_key as _recipient_key
from audience_dsl.braze.limits import Limits
from audience_dsl.errors import ValidationError
from audience_dsl.testing.wire import (
    ATTRIBUTES_PERMISSION,
    PERMISSION,
    STATUSES,
    Received,
    Server,
    make_handler,
)

__all__ = [
    "ATTRIBUTES_PERMISSION",
    "PERMISSION",
    "Accepted",
    "Delivery",
    "LocalBraze",
    "Received",
]

_FAULTS = (*STATUSES, "drop_after", "close_before")
# Our types as ``GET /custom_attributes`` names them (``data_type``).
_WIRE_TYPES = {"String": "String", "Numeric": "Number", "Boolean": "Boolean", "Time": "Date",
               "Array": "Array"}


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
    errors: list[str] = field(default_factory=list)


class LocalBraze:
    """A local stand-in for Braze's ``/campaigns/trigger/send`` (see the module docstring).

    ``campaigns``: the campaign IDs that exist. ``keys``: API keys, each mapped to its
    permissions (a plain list of keys gets ``campaigns.trigger.send`` and
    ``custom_attributes.get``). ``limits``: the
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
            self.keys = {k: frozenset({PERMISSION, ATTRIBUTES_PERMISSION}) for k in keys}
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
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # ---- life cycle ----

    def start(self) -> LocalBraze:
        self._server = Server((self._host, self._port), make_handler(self))
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

    @contextlib.contextmanager
    def example(
        self,
        *,
        profiles: Iterable[Mapping[str, Any]] | None = None,
        now: datetime | None = None,
        limits: Limits | None = None,
    ) -> Iterator[LocalBraze]:
        """This endpoint, clean, for one test or one Hypothesis example.

        Every request, acceptance, fault (queued or by rate) and rate-limit count is
        forgotten, and ``profiles``, ``now`` and ``limits`` (when given) replace the
        endpoint's; afterwards the settings it had before are restored, whatever the
        test changed. So one endpoint started for a whole session serves every example
        of a ``@given`` test:

        >>> with LocalBraze() as braze:
        ...     for rule in ("vip", "not vip"):
        ...         with braze.example(profiles=[{"external_id": "u1",
        ...                                       "custom_attributes": {"vip": True}}]):
        ...             with braze.client() as client:
        ...                 _ = client.trigger_send("c1", audience=rule, broadcast=True)
        ...             print(rule, [d.user for d in braze.deliveries])
        vip ['external_id:u1']
        not vip []
        """
        saved = (self.profiles, self.now, self.limits, self.attribute_types)
        with self._lock:
            saved_rates = self._rates
            self._rates = {}
            self._state = _State()
        if profiles is not None:
            self.profiles = [dict(p) for p in profiles]
        if now is not None:
            self.now = now
        if limits is not None:
            self.limits = limits
        try:
            yield self
        finally:
            self.profiles, self.now, self.limits, self.attribute_types = saved
            with self._lock:
                self._rates = saved_rates
                self._state = _State()

    def client(self, api_key: str | None = None, **options: Any) -> Any:
        """A :class:`~audience_dsl.sender.BrazeClient` for this endpoint: its URL, its
        first key (or ``api_key``) and its rate limits, so the client paces itself by the
        limits the endpoint enforces. ``options`` go to the client."""
        from audience_dsl.sender import BrazeClient

        options.setdefault("limits", self.limits)
        return BrazeClient(api_key or next(iter(self.keys)), self.url, **options)

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
        try:
            deliveries = self._deliver(body, dispatch_id)
            notes = self._check_types(body, dispatch_id)
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            deliveries, notes = [], [f"{dispatch_id}: could not evaluate the audience: {exc}"]
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
            # Warnings are the sender's business; collected here and dropped, per call.
            _braze.validate(audience, schema_types=self.attribute_types, warnings=[])
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

    def _attribute_list(self) -> list[dict[str, Any]]:
        """The workspace's custom attributes as ``GET /custom_attributes`` lists them:
        ``attribute_types`` if given, else the types the profiles imply, by name."""
        from audience_dsl.check.schema import Schema

        types = dict(Schema(self.attribute_types) if self.attribute_types is not None
                     else Schema.infer(self.profiles))
        return [
            {"name": name, "description": None,
             "data_type": _WIRE_TYPES.get(str(getattr(kind, "value", kind)), "String"),
             "array_length": 100 if str(getattr(kind, "value", kind)) == "Array" else None,
             "status": "Active", "tag_names": []}
            for name, kind in sorted(types.items())
        ]

    def _note_error(self, error: BaseException) -> None:
        with self._lock:
            self._state.errors.append(f"{type(error).__name__}: {error}")

    @property
    def errors(self) -> list[str]:
        """Unexpected errors met while answering (each answered 500); empty normally."""
        with self._lock:
            return list(self._state.errors)

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
