"""The live display of ``send`` on standard error: requests decided, recipients accepted
and rejected so far, retries, and rate-limit waits with the time they end. Shown only on a
terminal; drawn by rich when it is installed (the ``cli`` extra), else as plain lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TextIO

__all__ = ["Progress", "watched"]


class Progress:
    """A live display on standard error while requests, retries and waits run; shown
    only on a terminal. Uses rich when it is installed, else plain lines."""

    def __init__(self, requests: int, stream: TextIO) -> None:
        import threading

        self.requests = requests
        self.stream = stream
        self.done = 0
        self.counts = {"accepted": 0, "rejected": 0, "not_sent": 0, "unknown": 0}
        self.note = ""
        self._lock = threading.Lock()
        self._rich: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        try:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        except ImportError:
            self._plain(f"sending {self.requests} request(s)")
            return self
        console = Console(file=self.stream, stderr=True)
        self._rich = Progress(
            TextColumn("[bold]sending"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
            console=console, transient=False,
        )
        self._rich.__enter__()
        self._task = self._rich.add_task("send", total=self.requests, status=self._status())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self.note = ""
            self._refresh()
            self._rich.__exit__(None, None, None)

    def _status(self) -> str:
        parts = [f"{n} {state.replace('_', ' ')}" for state, n in self.counts.items() if n]
        text = ", ".join(parts) or "nothing answered yet"
        return f"{text}  {self.note}".rstrip()

    def _plain(self, text: str) -> None:
        print(f"audience-dsl: {text}", file=self.stream, flush=True)

    def _refresh(self) -> None:
        if self._rich is not None:  # drawn at once, so that no retry or wait goes unseen
            self._rich.update(self._task, completed=self.done, status=self._status(),
                              refresh=True)

    def on_request(self, outcome: Any) -> None:
        with self._lock:
            self.done += 1
            self.counts[outcome.state.value] += len(outcome.keys)
            self.note = ""
            if self._rich is None:
                self._plain(f"request {self.done}/{self.requests}: {outcome.state.value} "
                            f"({len(outcome.keys)} recipients, {outcome.attempts} tries)")
            self._refresh()

    def waiting(self, seconds: float) -> None:
        until = datetime.now().astimezone().timestamp() + seconds
        stamp = datetime.fromtimestamp(until).strftime("%H:%M:%S")
        with self._lock:
            self.note = f"waiting {seconds:.1f} s, until {stamp}"
            if self._rich is None:
                self._plain(self.note)
            self._refresh()

    def retrying(self, text: str) -> None:
        with self._lock:
            self.note = text
            if self._rich is None:
                self._plain(text)
            self._refresh()


@contextmanager
def watched(progress: Progress | None) -> Iterator[None]:
    """Show the sender's retries and rate-limit waits (it logs them, with the reason) on
    the progress display."""
    if progress is None:
        yield
        return
    import logging

    class RetryLog(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()  # "request 1: waiting 2.00 s (429: ...)"
            if ("waiting" in message or "retrying" in message) and progress is not None:
                progress.retrying(message)

    logger = logging.getLogger("audience_dsl.sender")
    handler = RetryLog(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        with progress:
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
