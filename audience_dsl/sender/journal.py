"""The journal: a lock on one send, and the record that lets a rerun resume it.

A journal is a JSON-lines file::

    {"journal": "audience-dsl send", "version": 1, "campaign_id": ..., "digest": ...,
     "parts": {...}}                                                    the header
    {"event": "start", "pid": ..., "run": ..., "time": ...}             each run
    {"event": "attempt", "request": 3, "keys": [...]}                   before a request leaves
    {"event": "outcome", "key": ..., "state": ..., "dispatch_id": ..., "message": ...}
    {"event": "stopped", "why": "cancelled", "unknown": [...], "time": ...}

The header says what the send *is*: a digest of the campaign, audience, trigger
properties, broadcast flag, send ID, attachments and every recipient's body, in order.
A rerun of a different send is refused (``new_journal=True`` moves the old journal aside
and starts a new one), and so is a file whose first line is not a header. Every line is
written, flushed and fsynced before the send goes on; a key with an ``attempt`` and no
later ``outcome`` is ``unknown`` (the process died while the request was out).

While a send runs, its process holds an exclusive lock on the file (``flock``): a second
writer is refused with the holder's PID. A torn last line (a crash while writing it) is
cut off; any other line that is not a journal line is a :class:`JournalError` naming its
line number.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from audience_dsl.sender.errors import JournalError
from audience_dsl.sender.results import RecipientOutcome, State

__all__ = ["Contract", "Journal"]

_MAGIC = "audience-dsl send"
_VERSION = 1
_PARTS = ("campaign_id", "send_id", "trigger_properties", "broadcast", "audience",
          "attachments", "recipients")
_EVENTS = frozenset({"start", "attempt", "outcome", "stopped"})


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Contract:
    """What a send is, as digests: one per part and one of the whole."""

    campaign_id: str
    parts: Mapping[str, str]

    @classmethod
    def of(cls, top: Mapping[str, Any], recipients: Sequence[Mapping[str, Any]] | None
           ) -> Contract:
        whole = {**{k: top.get(k) for k in _PARTS if k != "recipients"},
                 "recipients": None if recipients is None else list(recipients)}
        return cls(str(top.get("campaign_id")), {k: _digest(whole[k]) for k in _PARTS})

    @property
    def digest(self) -> str:
        return "sha256:" + _digest(dict(self.parts))

    def header(self) -> dict[str, Any]:
        return {"journal": _MAGIC, "version": _VERSION, "campaign_id": self.campaign_id,
                "digest": self.digest, "parts": dict(self.parts), "created": time.time()}


def _lock(handle: IO[bytes]) -> bool:
    """Take the exclusive lock without waiting; False if another holds it."""
    if sys.platform == "win32":  # pragma: no cover - lock a byte far past the end
        import msvcrt

        try:
            handle.seek(1 << 30)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@dataclass
class _Read:
    previous: dict[str, RecipientOutcome]
    header: dict[str, Any] | None
    holder: int | None  # the PID of the last run that started
    keep: int  # bytes up to the end of the last complete line
    size: int


class Journal:
    """One send's journal (see the module docstring). Use :meth:`open`, then
    :meth:`start`, :meth:`attempt`, :meth:`outcome`, :meth:`stopped`, :meth:`close`."""

    def __init__(self, path: Path, contract: Contract, read: _Read,
                 handle: IO[bytes] | None) -> None:
        self.path = path
        self.contract = contract
        self.previous = read.previous
        self._handle = handle
        self._lock = threading.Lock()
        self.closed = handle is None

    # ---- opening ----

    @classmethod
    def open(cls, path: str | os.PathLike[str], contract: Contract, *,
             write: bool = True, new: bool = False) -> Journal:
        """Lock (``write``) and read the journal at ``path``; check it is this send's.

        ``new=True`` moves a journal of another (or the same) send aside to
        ``<name>.<time>`` and starts an empty one; a file that is not a journal is never
        moved. Without ``write`` (a dry run) nothing is locked or written.
        """
        path = Path(path)
        if not write:  # a dry run: what a new journal, or this one, would let through
            read = _read(path, _bytes(path))
            if new and read.header is not None:
                read = _read(path, b"")
            return cls(path, contract, cls._check(path, read, contract), None)
        try:
            handle = path.open("a+b")
        except (OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or exc
            raise JournalError(f"cannot open the journal {path}: {why}") from None
        try:
            if not _lock(handle):
                holder = _read(path, _bytes(path), lenient=True).holder
                who = f"process {holder}" if holder else "another process"
                raise JournalError(
                    f"the journal {path} is in use by {who}, which is sending now; wait for "
                    "it to finish (a second writer could send twice), or name another journal"
                )
            handle.seek(0)
            data = handle.read()
            read = _read(path, data)
            if new and read.header is not None:
                aside = path.with_name(f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}")
                os.replace(path, aside)
                replaced = path.open("a+b")
                if not _lock(replaced):  # pragma: no cover - someone raced us to it
                    replaced.close()
                    raise JournalError(f"the journal {path} was taken by another process")
                handle.close()
                handle = replaced
                read = _read(path, b"")
            read = cls._check(path, read, contract)
            if read.keep < read.size:  # a torn last line: cut it off
                handle.truncate(read.keep)
            if read.header is None:
                _append(handle, [contract.header()])
            return cls(path, contract, read, handle)
        except BaseException:
            handle.close()
            raise

    @staticmethod
    def _check(path: Path, read: _Read, contract: Contract) -> _Read:
        header = read.header
        if header is None:
            return read
        if header.get("digest") == contract.digest:
            return read
        parts = header.get("parts")
        theirs: dict[str, Any] = parts if isinstance(parts, dict) else {}
        differ = [k for k in _PARTS if theirs.get(k) != contract.parts.get(k)]
        if header.get("campaign_id") != contract.campaign_id:
            what = f"campaign {header.get('campaign_id')!r}, not {contract.campaign_id!r}"
        else:
            names = [k.replace("_", " ") for k in differ] or ["send"]
            what = "the same campaign, but its " + " and ".join(names) + \
                (" differ" if len(names) > 1 or names[0].endswith("s") else " differs")
        raise JournalError(
            f"{path} is the journal of another send ({what}); a rerun must send exactly "
            "what the journal's send was. Pass new_journal=True to move it aside and start "
            "a new journal, or name another file"
        )

    # ---- writing ----

    def _write(self, records: Iterable[Mapping[str, Any]]) -> None:
        with self._lock:
            if self._handle is None:
                return  # closed (a send given up on): the attempt lines already say unknown
            try:
                _append(self._handle, records)
            except (OSError, ValueError) as exc:
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from None

    def start(self, run: str) -> None:
        self._write([{"event": "start", "pid": os.getpid(), "run": run, "time": time.time()}])

    def attempt(self, index: int, keys: Sequence[str]) -> None:
        self._write([{"event": "attempt", "request": index, "keys": list(keys)}])

    def outcome(self, outcomes: Iterable[RecipientOutcome]) -> None:
        self._write([
            {"event": "outcome", "key": o.key, "state": o.state.value,
             "dispatch_id": o.dispatch_id, "message": o.message}
            for o in outcomes
        ])

    def stopped(self, why: str, unknown: Sequence[str]) -> None:
        """Record that the send was stopped (``cancelled``, ``interrupted``) and which
        keys it left unknown."""
        self._write([{"event": "stopped", "why": why, "unknown": list(unknown),
                      "time": time.time()}])

    def close(self) -> None:
        with self._lock:
            handle, self._handle = self._handle, None
            self.closed = True
        if handle is not None:
            handle.close()  # releases the lock


def _append(handle: IO[bytes], records: Iterable[Mapping[str, Any]]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=True) + "\n" for r in records)
    if not text:
        return
    handle.seek(0, os.SEEK_END)
    handle.write(text.encode("ascii"))
    handle.flush()
    os.fsync(handle.fileno())


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise JournalError(f"cannot read the journal {path}: {why}") from None


def _fail(path: Path, number: int, problem: str) -> JournalError:
    return JournalError(f"{path}:{number}: {problem}; the journal is damaged: move it aside "
                        "and look at it before sending again")


def _read(path: Path, data: bytes, *, lenient: bool = False) -> _Read:
    """Parse a journal; ``lenient`` (only to name a lock's holder) never raises."""
    read = _Read({}, None, None, len(data), len(data))
    if not data:
        return read
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the data ends with a newline
    offset = 0
    records: list[tuple[int, Any]] = []
    for number, line in enumerate(lines, 1):
        offset += len(line) + 1
        record = _parse(line)
        if record is _TORN:
            if lenient:
                continue
            raise _fail(path, number, "not a JSON line")
        records.append((number, record))
    if tail:
        record = _parse(tail)
        if record is _TORN:  # a crash while writing it: the request it announced never left
            read.keep = offset
        else:
            records.append((len(lines) + 1, record))
            read.keep = len(data)
    if not records and tail.startswith(_HEADER_START[:len(tail)]):
        read.keep = 0  # a crash while writing the header: nothing was sent
        return read
    if not records:
        if lenient:
            return read
        raise JournalError(f"{path} is not a send journal (it has no header line); "
                           "refusing to write to it: name a new file for the journal")
    number, header = records[0]
    if not (isinstance(header, dict) and header.get("journal") == _MAGIC):
        if lenient:
            return read
        older = isinstance(header, dict) and header.get("event") == "start"
        why = ("it was written by an earlier version of audience-dsl, which recorded less "
               "about the send" if older else "its first line is not a journal header")
        raise JournalError(
            f"{path} is not a send journal ({why}); refusing to write to it: name a new "
            "file for the journal")
    if header.get("version") != _VERSION and not lenient:
        raise _fail(path, number, f"journal version {header.get('version')!r}, this "
                                  f"client writes version {_VERSION}")
    read.header = header
    for number, record in records[1:]:
        try:
            _apply(record, read)
        except (KeyError, TypeError, ValueError) as exc:
            if not lenient:
                raise _fail(path, number, f"not a journal line ({exc})") from None
    return read


_TORN = object()
_HEADER_START = json.dumps({"journal": _MAGIC}, ensure_ascii=True)[:-1].encode("ascii")


def _parse(line: bytes) -> Any:
    try:
        return json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _TORN


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{what} must be a list of strings")
    return value


def _apply(record: Any, read: _Read) -> None:
    if not isinstance(record, dict):
        raise ValueError("a journal line is a JSON object")
    event = record.get("event")
    if event not in _EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if event == "start":
        pid = record.get("pid")
        read.holder = pid if isinstance(pid, int) else None
    elif event == "attempt":
        for key in _strings(record["keys"], "keys"):
            read.previous[key] = RecipientOutcome(
                key, State.UNKNOWN, message="the process stopped while the request was out",
                from_journal=True)
    elif event == "outcome":
        key = record["key"]
        dispatch = record.get("dispatch_id")
        message = record.get("message", "")
        if not isinstance(key, str) or not isinstance(message, str) or \
                not (dispatch is None or isinstance(dispatch, str)):
            raise ValueError("key, message and dispatch_id must be strings")
        read.previous[key] = RecipientOutcome(key, State(record["state"]), dispatch, message,
                                              from_journal=True)
    else:
        _strings(record["unknown"], "unknown")
