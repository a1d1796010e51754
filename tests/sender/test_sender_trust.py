"""The sender attacked on 127.0.0.1: the journal as a lock and a contract, keys and URLs,
deadlines, rate-limit waits, Ctrl-C, memory, odd answers (issue: sending you can trust).

Each test runs against a real server: :class:`LocalBraze` or a hostile one from
tests/sender/servers.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from audience_dsl.braze.request import InvalidRequestError
from audience_dsl.errors import SendError as PackageSendError
from audience_dsl.sender import (
    AsyncBrazeClient,
    BrazeClient,
    JournalError,
    RateLimitError,
    RetryPolicy,
    SendError,
    State,
    Timeouts,
    partial_result,
)
from audience_dsl.sender.attempts import failure
from audience_dsl.sender.errors import Scrubber
from audience_dsl.sender.journal import Journal
from audience_dsl.testing import LocalBraze, local_braze
from audience_dsl.version import __version__
from tests.sender.scenarios import FAST, Runner, users
from tests.sender.servers import Scripted, answer, endless, trickle

__all__ = ["local_braze"]

MODES = pytest.mark.parametrize("mode", ["sync", "async"])
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


# ---- one error class ----


def test_one_send_error_class() -> None:
    assert SendError is PackageSendError
    assert issubclass(JournalError, PackageSendError)


# ---- the journal is a lock ----


def test_a_second_process_on_the_same_journal_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "send.jsonl"
    with LocalBraze() as braze:
        braze.inject("delay:3")  # the first process's first request takes 3 s
        script = textwrap.dedent(f"""
            from audience_dsl.sender import BrazeClient
            recipients = [{{"external_user_id": f"u{{i}}"}} for i in range(120)]
            with BrazeClient("k1", {braze.url!r}, concurrency=1) as client:
                result = client.trigger_send("c1", recipients=recipients,
                                             journal={str(journal)!r})
            print(result.counts()["accepted"])
        """)
        first = subprocess.Popen([sys.executable, "-c", script], env=ENV,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 20
            while b'"attempt"' not in (journal.read_bytes() if journal.exists() else b""):
                assert time.monotonic() < deadline and first.poll() is None
                time.sleep(0.02)
            with BrazeClient("k1", braze.url) as client, \
                    pytest.raises(JournalError) as caught:
                client.trigger_send("c1", recipients=users(120), journal=journal)
            assert str(journal) in str(caught.value)
            assert f"process {first.pid}" in str(caught.value)
            out, err = first.communicate(timeout=30)
        finally:
            first.kill()
        assert first.returncode == 0, err
        assert out.strip() == "120"
        counts = braze.recipient_counts()
        assert len(counts) == 120 and set(counts.values()) == {1}  # nobody twice


# ---- the journal is a contract ----


@MODES
def test_a_rerun_of_another_send_is_refused(mode: str, local_braze: LocalBraze,
                                            tmp_path: Path) -> None:
    runner = Runner(mode, local_braze.url)
    journal = tmp_path / "send.jsonl"
    runner.send(audience='team = "Lions"', broadcast=True, journal=journal).raise_for_status()
    with pytest.raises(JournalError, match="audience differs"):
        runner.send(audience='team = "Bears"', broadcast=True, journal=journal)
    with pytest.raises(JournalError, match="trigger properties differ"):
        runner.send(audience='team = "Lions"', broadcast=True, journal=journal,
                    trigger_properties={"score": "2-1"})
    assert len(local_braze.requests) == 1  # neither rerun sent anything
    moved = runner.send(audience='team = "Bears"', broadcast=True, journal=journal,
                        new_journal=True)
    assert moved.ok and not moved.outcomes["broadcast"].from_journal
    assert len(local_braze.accepted) == 2
    assert len(list(tmp_path.glob("send.jsonl.*"))) == 1  # the old journal, moved aside


@MODES
def test_recipients_differ(mode: str, local_braze: LocalBraze, tmp_path: Path) -> None:
    runner = Runner(mode, local_braze.url)
    journal = tmp_path / "send.jsonl"
    runner.send(recipients=users(3), journal=journal).raise_for_status()
    with pytest.raises(JournalError, match="recipients differ"):
        runner.send(recipients=[*users(3), {"external_user_id": "new"}], journal=journal)
    with pytest.raises(JournalError, match="recipients differ"):  # a body changed
        runner.send(recipients=[{"external_user_id": "u0", "trigger_properties": {"a": 1}},
                                *users(3)[1:]], journal=journal)


def test_a_file_that_is_not_a_journal_is_refused(local_braze: LocalBraze,
                                                 tmp_path: Path) -> None:
    recipients_file = tmp_path / "recipients.jsonl"
    text = "".join(json.dumps(r) + "\n" for r in users(3))
    recipients_file.write_text(text)
    runner = Runner("sync", local_braze.url)
    for new in (False, True):
        with pytest.raises(JournalError, match="not a send journal"):
            runner.send(recipients=users(3), journal=recipients_file, new_journal=new)
    assert recipients_file.read_text() == text  # untouched
    assert local_braze.requests == []


def test_aliases_that_look_alike_are_two_recipients(local_braze: LocalBraze,
                                                    tmp_path: Path) -> None:
    journal = tmp_path / "send.jsonl"
    aliases = [{"user_alias": {"alias_label": "crm/x", "alias_name": "y"}},
               {"user_alias": {"alias_label": "crm", "alias_name": "x/y"}}]
    runner = Runner("sync", local_braze.url, concurrency=1)
    local_braze.inject("503")
    first = runner.send(recipients=aliases, journal=journal,
                        client_options={"retry": RetryPolicy(attempts=1)})
    assert len(first.outcomes) == 2 and len(first.not_sent) == 2
    again = runner.send(recipients=aliases, journal=journal)
    assert again.ok and len(again.accepted) == 2
    assert len(local_braze.accepted_bodies()[0]["recipients"]) == 2  # both were sent


@pytest.mark.parametrize("tail", [
    b'{"event": "outcome", "key": "external_us',
    '{"event": "outcome", "key": "é'.encode()[:-1],  # cut inside a UTF-8 character
])
def test_a_torn_last_line_is_recovered(local_braze: LocalBraze, tmp_path: Path,
                                       tail: bytes) -> None:
    journal = tmp_path / "send.jsonl"
    runner = Runner("sync", local_braze.url)
    runner.send(recipients=users(3), journal=journal).raise_for_status()
    with journal.open("ab") as handle:
        handle.write(tail)
    again = runner.send(recipients=users(3), journal=journal)
    assert again.ok and all(o.from_journal for o in again.outcomes.values())
    assert len(local_braze.requests) == 1
    data = journal.read_bytes()
    assert data.endswith(b"\n")
    assert all(isinstance(json.loads(line), dict) for line in data.splitlines())


@pytest.mark.parametrize(("bad", "problem"), [
    (b'{"event": "outcome", "state": "accepted"}', "key"),
    (b'{"event": "outcome", "key": "x", "state": "sent"}', "sent"),
    (b'{"event": "attempt", "keys": "external_user_id:u0"}', "list of strings"),
    (b'{"event": "party"}', "unknown event"),
    (b"[1, 2]", "JSON object"),
    (b"not json", "not a JSON line"),
    ('{"event": "start", "pid": 1, "note": "é"}'.encode()[:-3] + b'"}', "not a JSON line"),
])
def test_a_damaged_line_is_a_journal_error_with_its_number(
    local_braze: LocalBraze, tmp_path: Path, bad: bytes, problem: str
) -> None:
    journal = tmp_path / "send.jsonl"
    runner = Runner("sync", local_braze.url)
    runner.send(recipients=users(3), journal=journal).raise_for_status()
    lines = journal.read_bytes().split(b"\n")
    lines.insert(2, bad)
    journal.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalError, match=rf"send\.jsonl:3: .*{problem}"):
        runner.send(recipients=users(3), journal=journal)
    with pytest.raises(JournalError):  # a dry run reads it too
        runner.send(recipients=users(3), journal=journal, dry_run=True)


def test_dry_run_reads_the_journal(local_braze: LocalBraze, tmp_path: Path) -> None:
    journal = tmp_path / "send.jsonl"
    runner = Runner("sync", local_braze.url, concurrency=1)
    local_braze.inject("delay:0", "503")  # the second of three requests fails
    first = runner.send(recipients=users(120), journal=journal,
                        client_options={"retry": RetryPolicy(attempts=1)})
    assert len(first.accepted) == 70 and len(first.not_sent) == 50
    dry = runner.send(recipients=users(120), journal=journal, dry_run=True)
    assert [len(b["recipients"]) for b in dry.bodies] == [50]
    sent_again = {r["external_user_id"] for r in dry.bodies[0]["recipients"]}
    assert sent_again == {o.key.split(":", 1)[1] for o in first.not_sent}
    assert len(dry.accepted) == 70 and all(o.from_journal for o in dry.accepted)
    assert dry.to_json()["journal"][0]["state"] in ("accepted", "not_sent")


# ---- keys and URLs ----


@pytest.mark.parametrize(("key", "shown"), [
    ("sk-live-\u200babcdef123", "U+200B (ZERO WIDTH SPACE) at position 9"),
    ("sk-live-abc\x00def123", "U+0000 (NULL) at position 12"),
    ("sk-live-abcdef123\n", "U+000A"),
])
def test_a_key_with_an_invisible_character_is_refused_where_it_enters(
    local_braze: LocalBraze, key: str, shown: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        BrazeClient(key, local_braze.url)
    text = str(caught.value) + repr(caught.value)
    assert shown in text
    assert "abcdef123" not in text and "abc" not in text.replace("abcd", "")
    assert local_braze.requests == []


def test_a_url_with_user_info_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="user name or password") as caught:
        BrazeClient("k1", "http://admin:hunter2@127.0.0.1:8080")
    assert "hunter2" not in str(caught.value)


def test_foreign_messages_are_scrubbed() -> None:
    secret = "sk-abc-123456"
    request = httpx.Request("POST", "http://127.0.0.1/x")
    exc = httpx.LocalProtocolError(f"Illegal header value b'Bearer {secret}'",
                                   request=request)
    found = failure(exc, Scrubber(secret))
    assert secret not in found.what and "[redacted]" in found.what and not found.sent


# ---- bounded time ----


@MODES
def test_a_server_trickling_its_headers_cannot_hold_a_request(mode: str) -> None:
    with Scripted(trickle(0.05)) as server:
        started = time.monotonic()
        result = Runner(mode, server.url).send(
            recipients=users(2), client_options={"timeouts": Timeouts(read=5, total=0.6)})
        took = time.monotonic() - started
    assert took < 2.5
    assert {o.state for o in result.outcomes.values()} == {State.UNKNOWN}
    assert "Timeouts.total" in result.requests[0].message
    assert len(server.seen) == 1  # not retried


@MODES
def test_a_server_trickling_its_body_cannot_hold_a_request(mode: str) -> None:
    # The status (201) came: the request is judged by it, with a warning.
    with Scripted(trickle(0.05, body=True)) as server:
        started = time.monotonic()
        result = Runner(mode, server.url).send(
            recipients=users(2), client_options={"timeouts": Timeouts(read=5, total=0.6)})
        took = time.monotonic() - started
    assert took < 2.5
    assert result.ok and len(server.seen) == 1
    assert "cut short" in result.requests[0].warning
    assert "Timeouts.total" in result.requests[0].warning


@MODES
def test_an_answer_cut_after_its_status_is_judged_by_the_status(mode: str) -> None:
    def cut(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 503 X\r\nContent-Length: 500\r\n\r\n{\"message\":")
        conn.shutdown(socket.SHUT_RDWR)

    with Scripted(cut, answer(201)) as server:
        result = Runner(mode, server.url).send(recipients=users(1))
    assert result.ok and len(server.seen) == 2  # a 503 is retried, even cut short


@MODES
def test_a_key_echoed_by_the_server_is_scrubbed(mode: str) -> None:
    secret = "sk-echoed-4242"
    with Scripted(answer(401, json.dumps({"message": f"Invalid API key {secret}"}),
                         {"X-Echo": f"Bearer {secret}"})) as server:
        result = Runner(mode, server.url).send(key=secret, recipients=users(1))
    [error] = result.errors
    shown = str(error) + repr(error.response) + json.dumps(result.to_json())
    assert secret not in shown and "[redacted]" in shown


def test_the_deadline_holds_with_a_callers_client() -> None:
    with Scripted(trickle(0.05)) as server, httpx.Client(timeout=5) as http:
        started = time.monotonic()
        result = BrazeClient("k1", server.url, http=http,
                             timeouts=Timeouts(total=0.6)).trigger_send("c1",
                                                                        recipients=users(1))
        assert time.monotonic() - started < 2.5
    assert result.unknown and "Timeouts.total" in result.requests[0].message


def test_the_key_stays_out_of_the_journal_and_logs(
    local_braze: LocalBraze, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-very-secret-987"
    local_braze.keys[secret] = frozenset({"campaigns.trigger.send"})
    caplog.set_level(logging.DEBUG)
    journal = tmp_path / "send.jsonl"
    local_braze.inject("500", "drop_after", "close_before")
    result = Runner("sync", local_braze.url, concurrency=1).send(
        key=secret, recipients=users(150), journal=journal,
        client_options={"retry": RetryPolicy(attempts=2, backoff=0.001)})
    assert result.unknown
    shown = [journal.read_text(), caplog.text, json.dumps(result.to_json()), repr(result)]
    shown += [str(e) + repr(e.request) + repr(e.response) for e in result.errors]
    assert secret not in "\n".join(shown)


@MODES
def test_a_far_reset_does_not_hold_the_other_requests(mode: str) -> None:
    # One 429 whose reset is two hours away; the rest of the send must not sleep.
    reset = str(int(time.time()) + 7200)
    with Scripted(answer(429, '{"message": "Rate Limited"}', {"X-RateLimit-Reset": reset}),
                  answer(201)) as server:
        started = time.monotonic()
        result = Runner(mode, server.url).send(
            recipients=users(300), client_options={
                "concurrency": 1, "retry": RetryPolicy(max_rate_limit_wait=60)})
        took = time.monotonic() - started
    assert took < 5
    assert len(result.not_sent) == 300 and len(server.seen) == 1
    assert all(isinstance(e, RateLimitError) for e in result.errors)
    assert "more than the allowed 60 s" in result.errors[1].message


@MODES
@pytest.mark.parametrize(("reset", "why"), [
    (None, "no X-RateLimit-Reset header"),
    ("soon", "not a number"),
    ("1000", "in the past"),
    (str(int(time.time() * 1000)), "too far ahead"),  # milliseconds
])
def test_a_429_without_a_usable_reset_backs_off_boundedly(mode: str, reset: str | None,
                                                          why: str) -> None:
    headers = {} if reset is None else {"X-RateLimit-Reset": reset}
    with Scripted(answer(429, '{"message": "Rate Limited"}', headers)) as server:
        started = time.monotonic()
        result = Runner(mode, server.url).send(recipients=users(1), client_options={
            "retry": RetryPolicy(attempts=3, backoff=0.02)})
        took = time.monotonic() - started
    assert took < 3 and len(server.seen) == 3
    [error] = result.errors
    assert isinstance(error, RateLimitError) and why in error.message
    assert "3 times" in error.message


@MODES
def test_a_429_with_a_millisecond_reset_then_success(mode: str) -> None:
    with Scripted(answer(429, '{"message": "Rate Limited"}',
                         {"X-RateLimit-Reset": str(int(time.time() * 1000)),
                          "X-RateLimit-Remaining": "0"}),
                  answer(201)) as server:
        started = time.monotonic()
        result = Runner(mode, server.url).send(recipients=users(60))
        assert time.monotonic() - started < 5
    assert result.ok


def ctrl_c() -> None:
    """What the terminal does on Ctrl-C: SIGINT, handled by the main thread."""
    main = threading.main_thread().ident
    assert main is not None
    signal.pthread_kill(main, signal.SIGINT)


def test_ctrl_c_stops_waiting_at_once(local_braze: LocalBraze, tmp_path: Path) -> None:
    local_braze.inject(*["503"] * 10)
    journal = tmp_path / "send.jsonl"
    timer = threading.Timer(0.5, ctrl_c)
    timer.start()
    started = time.monotonic()
    with BrazeClient("k1", local_braze.url, concurrency=2, retry=RetryPolicy(
            backoff=60, max_backoff=60)) as client, pytest.raises(KeyboardInterrupt) as caught:
        client.trigger_send("c1", recipients=users(500), journal=journal)
    assert time.monotonic() - started < 3  # not the 60 s backoff
    result = partial_result(caught.value)
    assert result is not None and result.interrupted and not result.ok
    assert len(result.outcomes) == 500
    assert {o.state for o in result.outcomes.values()} == {State.NOT_SENT}
    last = json.loads(journal.read_text().splitlines()[-1])
    assert last["event"] == "stopped" and last["why"] == "interrupted"


def test_ctrl_c_reports_what_is_unknown(tmp_path: Path) -> None:
    journal = tmp_path / "send.jsonl"
    with Scripted(trickle(0.2)) as server:  # no status ever comes: the requests out are unknown
        timer = threading.Timer(0.5, ctrl_c)
        timer.start()
        started = time.monotonic()
        with BrazeClient("k1", server.url, concurrency=2,
                         timeouts=Timeouts(total=2)) as client, \
                pytest.raises(KeyboardInterrupt) as caught:
            client.trigger_send("c1", recipients=users(200), journal=journal)
        assert time.monotonic() - started < 4  # the requests out end by their deadline
    result = partial_result(caught.value)
    assert result is not None
    assert result.counts() == {"accepted": 0, "rejected": 0, "not_sent": 100, "unknown": 100}


# ---- bounded memory, odd answers ----


def test_a_100_mb_answer_is_not_kept(tmp_path: Path) -> None:
    size = 100 * 1024 * 1024
    with Scripted(endless(size)) as server:
        script = textwrap.dedent(f"""
            import json, resource
            from audience_dsl.sender import BrazeClient
            client = BrazeClient("k1", {server.url!r})
            client.trigger_send("c1", recipients=[{{"external_user_id": "warm-up"}}],
                                dry_run=True)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            result = client.trigger_send("c1", recipients=[{{"external_user_id": "u"}}])
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            request = result.requests[0]
            print(json.dumps({{"grew_kib": after - before, "state": request.state.value,
                              "truncated": request.response.truncated,
                              "kept": len(request.response.body),
                              "warning": request.warning}}))
        """)
        done = subprocess.run([sys.executable, "-c", script], env=ENV, capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    print(f"peak RSS grew by {report['grew_kib'] / 1024:.1f} MiB for a 100 MiB answer")
    assert report["grew_kib"] < 20 * 1024
    assert report["state"] == "accepted" and report["truncated"]
    assert report["kept"] <= 64 * 1024
    assert "dispatch_id" in report["warning"]


@MODES
def test_a_2xx_without_a_dispatch_id_is_accepted_with_a_warning(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "audience_dsl.sender")
    with Scripted(answer(200, "<html>Please log in</html>")) as server:
        result = Runner(mode, server.url).send(recipients=users(2))
    assert result.ok and result.accepted[0].dispatch_id is None
    [warning] = result.warnings
    assert "without a dispatch_id" in warning and "Please log in" in warning
    assert result.to_json()["requests"][0]["warning"] == warning
    assert any(r.levelno == logging.WARNING and "dispatch_id" in r.getMessage()
               for r in caplog.records)


@MODES
def test_user_agent_names_the_package(mode: str) -> None:
    with Scripted(answer(201)) as server:
        Runner(mode, server.url).send(recipients=users(1)).raise_for_status()
    assert server.seen[0].headers["user-agent"] == f"audience-dsl/{__version__}"


def test_a_callers_client_keeps_its_timeouts(local_braze: LocalBraze) -> None:
    with httpx.Client(timeout=0.2) as http:
        local_braze.inject("delay:0.6")
        kept = BrazeClient("k1", local_braze.url, http=http, retry=FAST).trigger_send(
            "c1", recipients=users(1))
        assert kept.unknown  # the caller's 0.2 s read timeout held
        time.sleep(0.5)
        local_braze.inject("delay:0.6")
        ours = BrazeClient("k1", local_braze.url, http=http, retry=FAST,
                           timeouts=Timeouts(read=5)).trigger_send("c1",
                                                                   recipients=users(1, "v"))
        assert ours.ok  # explicit timeouts win


def test_a_lone_surrogate_is_refused_before_sending(local_braze: LocalBraze) -> None:
    with pytest.raises(InvalidRequestError, match="lone surrogate"):
        Runner("sync", local_braze.url).send(recipients=[{"external_user_id": "u\ud800"}])
    assert local_braze.requests == []


# ---- logs ----


@MODES
def test_log_records_carry_the_send(mode: str, local_braze: LocalBraze,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "audience_dsl.sender")
    runner = Runner(mode, local_braze.url, concurrency=1)
    local_braze.inject("drop_after")
    runner.send(recipients=users(60), send_id="wave-1")
    runner.send("nope", recipients=users(1))
    records = [r for r in caplog.records if hasattr(r, "request_index")
               and hasattr(r, "state")]
    states = {(r.campaign_id, r.request_index, r.state, r.levelno)  # type: ignore[attr-defined]
              for r in records}
    assert ("c1", 0, "unknown", logging.WARNING) in states
    assert ("c1", 1, "accepted", logging.INFO) in states
    assert ("nope", 0, "rejected", logging.WARNING) in states
    assert {r.send_id for r in records if r.campaign_id == "c1"} == {"wave-1"}  # type: ignore[attr-defined]


def test_timeouts_are_checked() -> None:
    with pytest.raises(ValueError, match=r"Timeouts\.total"):
        Timeouts(total=0)


def test_deadline_backend_is_installed() -> None:
    from audience_dsl.sender.base import install_deadline

    with httpx.Client() as http:
        assert install_deadline(http)


# ---- asyncio: cancellation, the journal off the loop ----


def test_a_cancelled_task_is_journaled_and_leaves_a_partial_result(
    local_braze: LocalBraze, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "send.jsonl"
    writers: set[int] = set()
    write = Journal._write

    def spy(self: Journal, records: Any) -> None:
        writers.add(threading.get_ident())
        write(self, records)

    monkeypatch.setattr(Journal, "_write", spy)
    local_braze.inject("delay:0", "delay:3", "delay:3")

    async def go() -> tuple[BaseException, int]:
        async with AsyncBrazeClient("k1", local_braze.url, concurrency=2) as client:
            task = asyncio.ensure_future(
                client.trigger_send("c1", recipients=users(250), journal=journal))
            while len(local_braze.requests) < 1 or len(writers) == 0:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # two requests out, waiting for their 3 s answers
            task.cancel()
            try:
                await task
            except asyncio.CancelledError as exc:
                return exc, threading.get_ident()
            raise AssertionError("the task was not cancelled")

    started = time.monotonic()
    cancelled, loop_thread = asyncio.run(go())
    assert time.monotonic() - started < 2.5  # did not wait for the 3 s answers
    result = partial_result(cancelled)
    assert result is not None and result.interrupted
    assert result.counts() == {"accepted": 50, "rejected": 0, "not_sent": 100, "unknown": 100}
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    [stopped] = [r for r in records if r.get("event") == "stopped"]
    assert stopped["why"] == "cancelled"
    assert set(stopped["unknown"]) == {o.key for o in result.unknown}
    assert loop_thread not in writers  # every journal write ran off the event loop
    # A rerun sends only what was not sent; the unknown ones stay unknown.
    time.sleep(3)
    again = Runner("async", local_braze.url).send(recipients=users(250), journal=journal)
    assert again.counts() == {"accepted": 150, "rejected": 0, "not_sent": 0, "unknown": 100}
    assert max(local_braze.recipient_counts().values()) == 1


def test_a_task_cancelled_during_a_backoff_is_not_sent(local_braze: LocalBraze,
                                                       tmp_path: Path) -> None:
    journal = tmp_path / "send.jsonl"
    local_braze.inject(*["503"] * 10)

    async def go() -> BaseException:
        async with AsyncBrazeClient("k1", local_braze.url, retry=RetryPolicy(
                backoff=60, max_backoff=60)) as client:
            task = asyncio.ensure_future(
                client.trigger_send("c1", recipients=users(300), journal=journal))
            while len(local_braze.requests) < 4:
                await asyncio.sleep(0.02)
            # The endpoint records a request before it answers: give the answers time to
            # arrive, so that every worker is in its backoff when the task is cancelled.
            await asyncio.sleep(0.5)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError as exc:
                return exc
            raise AssertionError("the task was not cancelled")

    started = time.monotonic()
    cancelled = asyncio.run(go())
    assert time.monotonic() - started < 3  # not the 60 s backoff
    result = partial_result(cancelled)
    assert result is not None
    assert result.counts() == {"accepted": 0, "rejected": 0, "not_sent": 300, "unknown": 0}
    assert any("300 not_sent" in note for note in
               getattr(cancelled.__context__, "__notes__", []) + getattr(
                   cancelled, "__notes__", []))
    # The journal says they were not sent: a rerun sends them all.
    again = Runner("async", local_braze.url).send(recipients=users(300), journal=journal)
    assert again.ok and not any(o.from_journal for o in again.outcomes.values())


def test_ctrl_c_during_a_lone_requests_backoff(local_braze: LocalBraze) -> None:
    local_braze.inject(*["503"] * 10)
    timer = threading.Timer(0.5, ctrl_c)
    timer.start()
    started = time.monotonic()
    with BrazeClient("k1", local_braze.url, retry=RetryPolicy(
            backoff=60, max_backoff=60)) as client, pytest.raises(KeyboardInterrupt) as caught:
        client.trigger_send("c1", recipients=users(3))
    assert time.monotonic() - started < 3
    result = partial_result(caught.value)
    assert result is not None and result.counts()["not_sent"] == 3
