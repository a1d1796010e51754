"""The HTTP side of the local endpoint: reading a request as Braze's front end would,
refusing what cannot be read with Braze's JSON answers, and handing the rest to
:class:`~audience_dsl.testing.endpoint.LocalBraze`.

Every request gets an answer as JSON: a ``Content-Length`` that is not a number, a
chunked body, a body over 4 MB, JSON nested deeper than :data:`MAX_NESTING`, a lone
surrogate, a request line http.server cannot parse. Nothing prints a traceback; an
unexpected error is answered 500 and kept in :attr:`LocalBraze.errors`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from audience_dsl.braze.body import check_body
from audience_dsl.braze.request import MAX_BODY_BYTES, MAX_RECIPIENTS, PATH, InvalidRequestError

if TYPE_CHECKING:
    from audience_dsl.testing.endpoint import LocalBraze

__all__ = ["ATTRIBUTES_PAGE", "ATTRIBUTES_PATH", "ATTRIBUTES_PERMISSION", "MAX_NESTING",
           "PERMISSION", "STATUSES", "Handler", "Received", "Server", "make_handler"]

#: The permission a key needs for this endpoint.
PERMISSION = "campaigns.trigger.send"
#: The permission a key needs for ``GET /custom_attributes``.
ATTRIBUTES_PERMISSION = "custom_attributes.get"
#: The route of the attribute list, and how many attributes it answers a page (as Braze).
ATTRIBUTES_PATH = "/custom_attributes"
ATTRIBUTES_PAGE = 50
STATUSES = ("429", "500", "502", "503", "504")


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


#: The deepest JSON nesting the endpoint reads (an audience of 200 nested groups is
#: about 400 deep); deeper bodies are answered 400, never parsed recursively.
MAX_NESTING = 512
#: How much of an oversized body is read (and thrown away) before the connection is
#: closed, so that the client can read the 413 before it sees the connection close.
_DRAIN_LIMIT = 4 * MAX_BODY_BYTES


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Never a traceback on the console: a client that gave up (a timeout, a dropped
        # connection) is expected, and anything else was already answered with a 500.
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError | TimeoutError):
            braze = getattr(self.RequestHandlerClass, "braze", None)
            if braze is not None:
                braze._note_error(error)


class _Malformed(Exception):
    """A request that cannot be read: answered with ``status`` and ``payload``."""

    def __init__(self, status: int, payload: Mapping[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload


def _nesting(text: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text, counted without parsing."""
    if text.count(b"[") + text.count(b"{") <= MAX_NESTING:
        return 0  # cannot be deeper: skip the walk
    depth = deepest = 0
    in_string = escaped = False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


class Handler(BaseHTTPRequestHandler):
    """One connection; :attr:`braze` is set on the subclass :meth:`LocalBraze.start` makes."""

    braze: LocalBraze
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a connection may sit idle or trickle before it is closed
    disable_nagle_algorithm = True  # headers and body go in two writes; no 40 ms stalls
    server_version = "LocalBraze/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read the record instead

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        # http.server's own errors (a bad request line, an unknown method, headers too
        # long) as Braze's JSON instead of an HTML page.
        self.close_connection = True
        self.request_version = "HTTP/1.1"  # never answer in HTTP/0.9 (no status line)
        with contextlib.suppress(OSError):
            self._answer(code, {"message": message or "Bad Request"})

    def _other(self) -> None:
        with contextlib.suppress(_Malformed):
            self._read_body()
        self._answer(404, {"message": "Not Found"})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    def do_GET(self) -> None:
        if self.path.partition("?")[0] != ATTRIBUTES_PATH:
            self._other()
            return
        self._serve(self._get_attributes, (ConnectionError, TimeoutError, _Malformed))

    def _get_attributes(self) -> None:
        """``GET /custom_attributes``: 50 attributes a page, the next page in ``Link``."""
        braze = self.braze
        arrived = braze.clock()
        self._read_body()

        def answer(status: int, payload: Mapping[str, Any],
                   headers: Mapping[str, str] | None = None) -> None:
            braze._log(Received(arrived, self.path, None, status))
            self._answer(status, payload, headers)

        auth = self.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else None
        if not key or key not in braze.keys:
            answer(401, {"message": "Invalid API key"})
            return
        if ATTRIBUTES_PERMISSION not in braze.keys[key]:
            answer(403, {"message": "Access Denied"})
            return
        allowed, headers, _reset = braze._take(("custom_attributes",))
        if not allowed:
            answer(429, {"message": "Rate Limited"}, headers)
            return
        query = self.path.partition("?")[2]
        cursor = dict(part.partition("=")[::2] for part in query.split("&") if part)
        start = int(cursor["cursor"]) if cursor.get("cursor", "").isdigit() else 0
        names = braze._attribute_list()
        page = names[start:start + ATTRIBUTES_PAGE]
        if start + ATTRIBUTES_PAGE < len(names):
            following = f'<{ATTRIBUTES_PATH}?cursor={start + ATTRIBUTES_PAGE}>; rel="next"'
            headers = {**headers, "Link": following}
        answer(200, {"message": "success", "attributes": page}, headers)

    def do_HEAD(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    _unread = 0

    def _drain(self) -> None:
        remaining, self._unread = min(self._unread, _DRAIN_LIMIT), 0
        until = time.monotonic() + 2.0
        with contextlib.suppress(OSError):
            self.connection.settimeout(0.5)
            while remaining > 0 and time.monotonic() < until:
                chunk = self.rfile.read1(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)

    def do_POST(self) -> None:
        def post() -> None:
            self._post()
            if self._unread:
                self._drain()

        self._serve(post, (ConnectionError, TimeoutError))

    def _serve(
        self, work: Callable[[], None], dropped: tuple[type[BaseException], ...]
    ) -> None:
        """Run one request's ``work``: a connection lost (``dropped``) is closed; a bug is
        answered as a server would (500) and the endpoint keeps serving."""
        try:
            work()
        except dropped:
            self.close_connection = True
        except Exception as exc:
            self.braze._note_error(exc)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._answer(500, {"message": "Internal Server Error"})

    def _post(self) -> None:
        braze = self.braze
        arrived = braze.clock()
        fault = braze._next_fault()
        if fault == "close_before":
            braze._log(Received(arrived, self.path, None, None, fault))
            self._drop()
            return
        path = self.path
        try:
            raw = self._read_body()
        except _Malformed as malformed:
            braze._log(Received(arrived, path, None, malformed.status))
            self.close_connection = True
            self._answer(malformed.status, malformed.payload)
            return
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
        unreadable = {"error": "Error while parsing request body. Please check your syntax."}
        if _nesting(raw) > MAX_NESTING:
            answer(400, {**unreadable, "errors": [f"the JSON nests deeper than {MAX_NESTING}"]})
            return
        try:
            body = json.loads(raw)
            # A "\ud800" escape parses to a lone surrogate, which is not text.
            json.dumps(body, ensure_ascii=False).encode()
        except (ValueError, UnicodeError, RecursionError):
            body = None
            answer(400, unreadable)
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
        if fault in STATUSES:
            answer(int(fault), {"message": "Internal Server Error"}, headers, None, fault)
            return
        campaign = body.get("campaign_id")
        if not isinstance(campaign, str) or campaign not in braze.campaigns:
            answer(400, {"message": "Invalid Campaign ID"}, headers)
            return
        if isinstance(recipients, list) and len(recipients) > MAX_RECIPIENTS:
            answer(400, {"message": "The max number of external_ids and aliases per request "
                                    "was exceeded"}, headers)
            return
        try:
            # Warnings are the sender's business; collected here and dropped, per call.
            check_body(body, lenient_broadcast=braze.lenient_broadcast, warnings=[])
        except InvalidRequestError as exc:
            answer(400, {"message": "Bad Request",
                         "errors": [f"{p}: {m}" for p, m in exc.problems]}, headers)
            return
        except RecursionError:
            answer(400, {"message": "Bad Request", "errors": ["the body nests too deeply"]},
                   headers)
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
        """The body (``None`` if it is over 4 MB); raises :class:`_Malformed` for a
        length that cannot be read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise _Malformed(411, {"message": "Length Required"})
        text = (self.headers.get("Content-Length") or "0").strip()
        if not text.isdigit() or not text.isascii():
            raise _Malformed(400, {"message": "Bad Request",
                                   "errors": ["Content-Length is not a number of bytes"]})
        length = int(text)
        if length > MAX_BODY_BYTES:
            # Answered 413 first; what the client still sends is read (and thrown away)
            # afterwards, boundedly, so that it can read the answer before the close.
            self.close_connection = True
            self._unread = length
            return None
        data = self.rfile.read(length) if length else b""
        if len(data) < length:
            raise ConnectionError("the client closed the connection inside the body")
        return data

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


def make_handler(braze: LocalBraze) -> type[Handler]:
    """A handler class bound to one endpoint."""
    return type("BoundHandler", (Handler,), {"braze": braze})
