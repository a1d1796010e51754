"""Faults at scale: 10,000 recipients through the local endpoint, nothing lost, nothing twice.

The server's record of processed bodies is the ground truth. Rate-limit windows are
shortened so the soak takes seconds, not an hour.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from audience_dsl.sender import (
    AsyncBrazeClient,
    BrazeClient,
    Limits,
    Pacer,
    RetryPolicy,
    SendResult,
    State,
    Timeouts,
)
from audience_dsl.testing import LocalBraze

N = 10_000
RECIPIENTS = [{"external_user_id": f"user-{i:05d}"} for i in range(N)]
RETRY = RetryPolicy(attempts=10, backoff=0.005, max_backoff=0.05)
SERVER_LIMITS = Limits(requests_per_hour=100, hour=0.5)  # 200+ requests: paced over 3+ windows


class Wire(Pacer):
    """A pacer that also records, in its own order, each slot granted and each 429 seen."""

    def __init__(self) -> None:
        super().__init__(Limits(), time.time)
        self.record_lock = threading.Lock()
        self.sent: list[float] = []
        self.limited: list[tuple[float, float]] = []  # (learnt at, reset)

    def reserve(self, buckets: Sequence[str]) -> float:
        with self.record_lock:
            wait = super().reserve(buckets)
            if wait == 0:
                self.sent.append(time.time())
            return wait

    def observe(self, buckets: Sequence[str], status: int, headers: Mapping[str, str]) -> float:
        with self.record_lock:
            reset = super().observe(buckets, status, headers)
            if status == 429:
                self.limited.append((time.time(), reset))
            return reset

    def early(self) -> list[float]:
        """Requests that left after the client learnt of a 429 and before its reset."""
        return [t for t in self.sent for got, reset in self.limited if got < t < reset]


def send(mode: str, url: str, wire: Wire, **options: Any) -> SendResult:
    timeouts = Timeouts(read=options.pop("read_timeout", 5.0))
    if mode == "sync":
        with BrazeClient("k1", url, retry=RETRY, concurrency=4, timeouts=timeouts) as client:
            client.pacer = wire
            return client.trigger_send("c1", recipients=RECIPIENTS, **options)

    async def go() -> SendResult:
        async with AsyncBrazeClient("k1", url, retry=RETRY, concurrency=4,
                                    timeouts=timeouts) as client:
            client.pacer = wire
            return await client.trigger_send("c1", recipients=RECIPIENTS, **options)

    return asyncio.run(go())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_soak_429_and_5xx_every_recipient_exactly_once(mode: str) -> None:
    with LocalBraze(limits=SERVER_LIMITS, fault_reset_after=0.05) as braze:
        braze.set_fault_rates({"429": 0.1, "500": 0.04, "502": 0.02, "503": 0.02, "504": 0.02},
                              seed=7)
        wire = Wire()
        started = time.monotonic()
        result = send(mode, braze.url, wire)
        took = time.monotonic() - started
        print(f"soak ({mode}): {len(braze.requests)} requests in {took:.2f} s")
        assert result.ok, result
        counts = braze.recipient_counts()
        assert len(counts) == N and set(counts.values()) == {1}
        faults = Counter(r.fault for r in braze.requests if r.fault)
        assert sum(faults.values()) >= 30  # the faults did happen
        assert wire.limited and wire.early() == []  # nothing left before a reset


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_soak_lost_answers_nothing_twice_every_unknown_reported(mode: str) -> None:
    with LocalBraze(limits=SERVER_LIMITS, fault_reset_after=0.05) as braze:
        braze.set_fault_rates({"429": 0.05, "503": 0.05, "drop_after": 0.05,
                               "close_before": 0.03, "delay:0.4": 0.02}, seed=11)
        wire = Wire()
        result = send(mode, braze.url, wire, read_timeout=0.25)
        time.sleep(0.5)  # let delayed answers finish on the server
        counts = braze.recipient_counts()
        assert max(counts.values()) == 1  # nobody processed twice
        states = {key: o.state for key, o in result.outcomes.items()}
        assert len(states) == N
        for key, state in states.items():
            if state is State.ACCEPTED:
                assert counts[key] == 1
            elif state is not State.UNKNOWN:
                assert counts[key] == 0
        unknown = {k for k, s in states.items() if s is State.UNKNOWN}
        processed_unseen = {k for k in counts if states[k] is not State.ACCEPTED}
        assert processed_unseen <= unknown  # every processed-but-unanswered one is reported
        assert unknown and len(unknown) % 50 == 0
        assert wire.early() == []


def test_journal_survives_a_killed_process(tmp_path: Path) -> None:
    journal = tmp_path / "send.jsonl"
    with LocalBraze(fault_reset_after=0.05) as braze:
        script = textwrap.dedent(f"""
            import os, signal
            from audience_dsl.sender import BrazeClient
            seen = []
            def hook(outcome):
                seen.append(outcome)
                if len(seen) == 7:
                    os.kill(os.getpid(), signal.SIGKILL)
            recipients = [{{"external_user_id": f"user-{{i:05d}}"}} for i in range(1000)]
            with BrazeClient("k1", {braze.url!r}, concurrency=3) as client:
                client.trigger_send("c1", recipients=recipients, journal={str(journal)!r},
                                    on_request=hook)
        """)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert done.returncode == -signal.SIGKILL, done.stderr.decode()
        before = braze.recipient_counts()
        assert 7 * 50 <= sum(before.values()) < 1000
        with BrazeClient("k1", braze.url) as client:
            result = client.trigger_send("c1", recipients=RECIPIENTS[:1000], journal=journal)
        counts = braze.recipient_counts()
        assert max(counts.values()) == 1  # no double sends
        # Requests in flight when the process died are unknown, never re-sent.
        in_flight = {o.key for o in result.unknown}
        assert len(in_flight) + len(counts) >= 1000
        assert all(o.from_journal for o in result.unknown)
        assert len(result.accepted) + len(result.unknown) == 1000
        assert {o.state for o in result.outcomes.values()} <= {State.ACCEPTED, State.UNKNOWN}
