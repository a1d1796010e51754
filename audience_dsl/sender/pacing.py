"""Pacing: one :class:`Pacer` per client counts requests against Braze's rate-limit
windows and follows the ``X-RateLimit-*`` headers of every answer.

The pacer only keeps books and says how long to wait; the waiting itself is done by the
client's driver, and bounded by ``RetryPolicy.max_rate_limit_wait``
(:mod:`audience_dsl.sender.attempts`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from audience_dsl.braze.limits import Limits

__all__ = ["MAX_RESET_AHEAD", "Pacer", "read_reset"]

#: A reset further away than this is not believed (a reset in milliseconds, a date in
#: another century): Braze's windows are a minute or an hour long.
MAX_RESET_AHEAD = 24 * 3600.0


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_reset(headers: Mapping[str, str], now: float) -> tuple[float | None, str]:
    """The ``X-RateLimit-Reset`` instant if it can be believed, else ``None`` and why not.

    >>> read_reset({"x-ratelimit-reset": "100"}, 50.0)
    (100.0, '')
    >>> read_reset({}, 50.0)
    (None, 'no X-RateLimit-Reset header')
    >>> read_reset({"x-ratelimit-reset": "soon"}, 50.0)[1]
    "an X-RateLimit-Reset that is not a number ('soon')"
    """
    text = headers.get("x-ratelimit-reset")
    if text is None:
        return None, "no X-RateLimit-Reset header"
    value = _number(text)
    shown = text[:40]
    if value is None:
        return None, f"an X-RateLimit-Reset that is not a number ({shown!r})"
    if value <= now:
        return None, f"an X-RateLimit-Reset in the past ({shown})"
    if value - now > MAX_RESET_AHEAD:
        return None, (f"an X-RateLimit-Reset too far ahead to believe ({shown}, "
                      f"{value - now:.0f} s away; milliseconds instead of seconds?)")
    return value, ""


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
    so the client follows the server's count (and, after a 429, its reset) too. A reset
    that cannot be believed (:func:`read_reset`) blocks nothing.
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
        """Fold a response's rate-limit headers in; the reset instant after a 429 (if it
        can be believed), else 0."""
        if not buckets:
            return 0.0
        limit = _number(headers.get("x-ratelimit-limit"))
        remaining = _number(headers.get("x-ratelimit-remaining"))
        with self._lock:
            now = self.clock()
            reset, _ = read_reset(headers, now)
            # The headers describe the tightest bucket: a broadcast's audience bucket when
            # the limit says so, else the request kind's main bucket.
            target = buckets[-1] if (limit is not None and len(buckets) > 1 and
                                     limit <= self.limits.per_audience_per_minute) else buckets[0]
            window = self._window(target)
            window.roll(now)
            if reset is None:
                return 0.0
            if status == 429 or (remaining is not None and remaining <= 0):
                window.blocked_until = max(window.blocked_until, reset)
            elif limit is not None and remaining is not None and limit > 0 \
                    and abs(reset - window.end) <= 1.0:
                # The same window as ours: count what others (other processes using the
                # key) spent too; never count less than we did ourselves.
                window.capacity = int(limit)
                window.used = max(window.used, int(limit - remaining))
            return reset if status == 429 else 0.0
