"""Braze's rate limits for ``/campaigns/trigger/send`` (§7 of the specification): the one
table read by the client, which paces itself by it, and by the local endpoint, which
enforces it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """Braze's rate limits for this endpoint (§7), as the client paces itself.

    Broadcasts: ``broadcast_per_minute`` over all audiences and ``per_audience_per_minute``
    for each unique audience; recipient calls: ``requests_per_hour`` from the pool shared
    with other endpoints. ``minute``/``hour`` are the window lengths in seconds (windows
    start on the clock's multiples of their length, as Braze's hourly window does).
    """

    broadcast_per_minute: int = 250
    per_audience_per_minute: int = 10
    requests_per_hour: int = 250_000
    minute: float = 60.0
    hour: float = 3600.0

    def window(self, bucket: str) -> tuple[float, int]:
        """(length in seconds, requests allowed) of a bucket: ``"hour"`` (recipient calls),
        ``"minute"`` (all broadcasts), or any other name (one unique audience)."""
        if bucket == "hour":
            return self.hour, self.requests_per_hour
        if bucket == "minute":
            return self.minute, self.broadcast_per_minute
        return self.minute, self.per_audience_per_minute
