"""How the client waits and retries: :class:`Timeouts`, :class:`RetryPolicy`, and Braze's
:class:`~audience_dsl.braze.limits.Limits` (re-exported; the local endpoint reads the
same table)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import httpx

from audience_dsl.braze.limits import Limits

__all__ = ["MAX_RESPONSE_BYTES", "Limits", "RetryPolicy", "Timeouts"]

#: How much of a response body is read. Braze's answers are a few hundred bytes; the
#: rest of a longer body is discarded (the connection is closed) and the response is
#: judged by its status and the part read.
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: to open a connection, for each read, for each write, for a
    connection from the pool, and ``total``: a deadline for one whole request (sending
    it and reading the answer), however slowly a server trickles its bytes.

    A request cut by ``total`` after it left is ``unknown``, like a read timeout.
    """

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 30.0
    total: float = 60.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "write", "pool", "total"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"Timeouts.{name} must be a positive number of seconds, "
                                 f"not {value!r}")

    def httpx(self) -> httpx.Timeout:
        """The per-operation timeouts, as httpx takes them (none above ``total``)."""
        cap = self.total
        return httpx.Timeout(connect=min(self.connect, cap), read=min(self.read, cap),
                             write=min(self.write, cap), pool=min(self.pool, cap))


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a request again (§6.3).

    ``attempts`` bounds the tries for 5xx, for connections that never opened, and for
    429s that come without a usable ``X-RateLimit-Reset``; backoff is exponential from
    ``backoff`` seconds up to ``max_backoff``, with jitter. A 429 with a usable reset
    waits until then (at most ``rate_limit_retries`` times). ``max_rate_limit_wait``
    bounds all the waiting for rate limits one request does — the pacer's waits for a
    window, the waits for a 429's reset, and the backoff after a 429 without one —
    beyond it the recipients are ``not_sent``. Statuses in ``unknown_statuses`` (say,
    ``{504}`` if you distrust a gateway's word that nothing was processed) make the
    recipients ``unknown`` instead of being retried. ``retry_unknown`` retries even
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
        cap: float = min(self.max_backoff, self.backoff * 2.0 ** min(attempt - 1, 60))
        return cap / 2 + rng.uniform(0, cap / 2)
