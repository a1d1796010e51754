"""Hostile servers on 127.0.0.1 for the sender's tests: each answers as it is told.

:class:`Scripted` reads each request whole (headers and ``Content-Length`` body), records
it, and answers with the next of its scripted behaviours (the last one repeats):

``answer(status, body, headers)``   a complete response
``trickle(interval, head=...)``     the status line and headers, one byte per ``interval``
``endless(size)``                   ``201`` with a ``Content-Length`` of ``size`` bytes,
                                    then zeros until the client hangs up
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

Behaviour = Callable[[socket.socket], None]


@dataclass
class Seen:
    """One request as the server read it."""

    line: str
    headers: dict[str, str]
    body: bytes
    time: float = field(default_factory=time.time)


def answer(status: int, body: bytes | str = b'{"dispatch_id": "d1", "message": "success"}',
           headers: Mapping[str, str] | None = None) -> Behaviour:
    data = body.encode() if isinstance(body, str) else body

    def act(conn: socket.socket) -> None:
        head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(data)}",
                "Content-Type: application/json"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)

    return act


def trickle(interval: float, *, body: bool = False) -> Behaviour:
    """Headers (or, with ``body``, a body announced as 10,000 bytes) one byte at a time."""

    def act(conn: socket.socket) -> None:
        if body:
            conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 10000\r\n\r\n")
            data = b"x" * 10_000
        else:
            data = b"HTTP/1.1 201 Created\r\n" + b"X-Slow: " + b"a" * 10_000 + b"\r\n\r\n"
        for byte in data:
            conn.sendall(bytes([byte]))
            time.sleep(interval)

    return act


def endless(size: int) -> Behaviour:
    def act(conn: socket.socket) -> None:
        conn.sendall(f"HTTP/1.1 201 Created\r\nContent-Length: {size}\r\n"
                     "Content-Type: application/json\r\n\r\n".encode())
        chunk = b"0" * 65536
        sent = 0
        while sent < size:
            conn.sendall(chunk[: size - sent])
            sent += len(chunk)

    return act


class Scripted:
    """A server on 127.0.0.1 that answers each request with the next behaviour."""

    def __init__(self, *behaviours: Behaviour) -> None:
        self.behaviours = list(behaviours)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                reader = conn.makefile("rb")
                try:
                    while True:
                        line = reader.readline()
                        if not line:
                            return
                        headers: dict[str, str] = {}
                        while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
                            name, _, value = header.decode("latin-1").partition(":")
                            headers[name.strip().lower()] = value.strip()
                        body = reader.read(int(headers.get("content-length", "0")))
                        with owner._lock:
                            owner.seen.append(Seen(line.decode("latin-1").strip(), headers,
                                                   body))
                            act = owner.behaviours.pop(0) if len(owner.behaviours) > 1 \
                                else owner.behaviours[0]
                        act(conn)
                except OSError:  # the client hung up: expected here
                    return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Scripted:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
