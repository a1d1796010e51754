"""The local Braze-compatible endpoint answers as §11 of the specification says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from audience_dsl.errors import AudienceWarning
from audience_dsl.sender import BrazeClient, Limits
from audience_dsl.testing import LocalBraze, local_braze, main

__all__ = ["local_braze"]

PATH = "/campaigns/trigger/send"
GOOD = {"campaign_id": "c1", "recipients": [{"external_user_id": "u1"}]}
AUDIENCE = {"custom_attribute": {"custom_attribute_name": "team", "comparison": "equals",
                                 "value": "Lions"}}


def post(braze: LocalBraze, body: Any = GOOD, *, path: str = PATH, key: str | None = "k1",
         content_type: str = "application/json", raw: bytes | None = None) -> httpx.Response:
    headers = {"Content-Type": content_type}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = raw if raw is not None else json.dumps(body).encode()
    return HTTP.post(braze.url + path, content=data, headers=headers)


HTTP = httpx.Client()  # one client for the module: a new one per request costs ~40 ms


def test_accepts_with_201_a_dispatch_id_and_lower_case_headers(local_braze: LocalBraze) -> None:
    response = post(local_braze)
    assert response.status_code == 201
    assert response.json() == {"dispatch_id": local_braze.accepted[0].dispatch_id,
                               "message": "success"}
    raw_names = [name for name, _ in response.headers.raw]
    assert b"x-ratelimit-limit" in raw_names and b"x-ratelimit-reset" in raw_names
    assert response.headers["x-ratelimit-remaining"] == "249999"
    assert local_braze.accepted_bodies() == [GOOD]


def test_broadcast_gets_a_send_id(local_braze: LocalBraze) -> None:
    body = {"campaign_id": "c1", "broadcast": True, "audience": AUDIENCE}
    answer = post(local_braze, body).json()
    assert answer["send_id"].startswith("send-")
    given = post(local_braze, {**body, "send_id": "wave-1"}).json()
    assert given["send_id"] == "wave-1"


@pytest.mark.parametrize(
    ("change", "status", "field", "text"),
    [
        ({"path": "/campaigns/trigger/send/"}, 403, "message", "Access Denied"),
        ({"path": "/campaigns/trigger/sned"}, 404, "message", "Not Found"),
        ({"content_type": "text/plain"}, 415, "message", "Unsupported"),
        ({"key": None}, 401, "message", "Invalid API key"),
        ({"key": "nope"}, 401, "message", "Invalid API key"),
        ({"key": "readonly"}, 403, "message", "Access Denied"),
        ({"raw": b'{"campaign_id": "c1",}'}, 400, "error", "Error while parsing"),
        ({"raw": b"[1]"}, 400, "message", "Bad Request"),
        ({"body": {"campaign_id": "c9", "recipients": [{"external_user_id": "u"}]}}, 400,
         "message", "Invalid Campaign ID"),
        ({"body": {"campaign_id": "c1",
                   "recipients": [{"external_user_id": f"u{i}"} for i in range(51)]}}, 400,
         "message", "The max number of external_ids and aliases per request was exceeded"),
        ({"body": {"campaign_id": "c1", "broadcast": True,
                   "recipients": [{"external_user_id": "u"}]}}, 400, "errors", "rule 10"),
        ({"body": {"campaign_id": "c1"}}, 400, "errors", "rule 11"),
    ],
)
def test_errors_as_braze_answers_them(change: dict[str, Any], status: int, field: str,
                                      text: str) -> None:
    with LocalBraze(keys={"k1": ["campaigns.trigger.send"], "readonly": ["users.export"]}) as b:
        response = post(b, **change)
        assert response.status_code == status
        assert text in str(response.json()[field])
        assert b.accepted == []


def test_body_over_4_mb_is_413(local_braze: LocalBraze) -> None:
    response = post(local_braze, raw=b'{"x": "' + b"a" * (4 * 1024 * 1024) + b'"}')
    assert response.status_code == 413


def test_rate_limits_with_real_headers() -> None:
    with LocalBraze(limits=Limits(requests_per_hour=2, hour=600)) as braze:
        statuses = [post(braze).status_code for _ in range(3)]
        assert statuses == [201, 201, 429]
        limited = post(braze)
        assert limited.headers["x-ratelimit-limit"] == "2"
        assert limited.headers["x-ratelimit-remaining"] == "0"
        reset = int(limited.headers["x-ratelimit-reset"])
        assert time.time() < reset <= time.time() + 600 and reset % 600 == 0


def test_broadcasts_have_a_budget_per_unique_audience() -> None:
    with LocalBraze(limits=Limits(per_audience_per_minute=2)) as braze:
        one = {"campaign_id": "c1", "broadcast": True, "audience": AUDIENCE}
        other = {**one, "audience": {"OR": [AUDIENCE, {"push_subscription_status": {
            "comparison": "is", "value": "opted_in"}}]}}
        statuses = [post(braze, one).status_code for _ in range(3)]
        assert statuses == [201, 201, 429]
        assert post(braze, other).status_code == 201  # its own budget


def test_injected_faults_in_order(local_braze: LocalBraze) -> None:
    local_braze.inject("503", "429", "delay:0.2")
    assert post(local_braze).status_code == 503
    assert post(local_braze).status_code == 429
    started = time.monotonic()
    assert post(local_braze).status_code == 201
    assert time.monotonic() - started >= 0.2
    assert [r.fault for r in local_braze.requests] == ["503", "429", "delay:0.2"]
    assert len(local_braze.accepted) == 1


@pytest.mark.parametrize("fault", ["drop_after", "close_before"])
def test_connections_dropped(local_braze: LocalBraze, fault: str) -> None:
    local_braze.inject(fault)
    with pytest.raises(httpx.TransportError):
        post(local_braze)
    assert len(local_braze.accepted) == (1 if fault == "drop_after" else 0)
    assert post(local_braze).status_code == 201  # the server carries on


def test_fault_rates_are_reproducible() -> None:
    def run() -> list[int | None]:
        with LocalBraze(seed=3) as braze:
            braze.set_fault_rates({"500": 0.3, "429": 0.2}, seed=42)
            for _ in range(30):
                post(braze)
            return [r.status for r in braze.requests]

    first = run()
    assert first == run()
    assert 5 < sum(s != 201 for s in first) < 25


def test_bad_faults_are_refused(local_braze: LocalBraze) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        local_braze.inject("418")
    with pytest.raises(ValueError):
        local_braze.set_fault_rates({"500": 0.7, "429": 0.6})


def test_type_mismatch_is_accepted_but_logged() -> None:
    with LocalBraze(attribute_types={"is_vip": "Boolean"}) as braze:
        body = {"campaign_id": "c1", "broadcast": True, "audience": {"custom_attribute": {
            "custom_attribute_name": "is_vip", "comparison": "greater_than", "value": 3}}}
        response = post(braze, body)
        assert response.status_code == 201
        [entry] = braze.activity_log
        assert entry.startswith(response.json()["dispatch_id"])
        assert "invalid audience" in entry


PROFILES: list[dict[str, Any]] = [
    {"external_id": "u1", "custom_attributes": {"team": "Lions"}, "push_subscribe": "opted_in"},
    {"external_id": "u2", "custom_attributes": {"team": "Bears"}, "push_subscribe": "opted_in"},
    {"external_id": "u3", "email": "c@x.org", "custom_attributes": {"team": "Lions"},
     "user_aliases": [{"alias_name": "crm-3", "alias_label": "crm"}]},
]


def test_who_would_have_received_it() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    with LocalBraze(profiles=PROFILES, now=now) as braze, BrazeClient("k1", braze.url) as c:
        c.trigger_send("c1", audience='team = "Lions"', broadcast=True).raise_for_status()
        c.trigger_send("c1", audience='team = "Lions"', recipients=[
            {"external_user_id": "u2"},
            {"user_alias": {"alias_name": "crm-3", "alias_label": "crm"}},
        ]).raise_for_status()
        with pytest.warns(AudienceWarning, match="braze_id"):
            result = c.trigger_send("c1", recipients=[
                {"email": "C@x.org", "prioritization": ["identified"]}, {"braze_id": "nobody"},
            ])
        result.raise_for_status()
        first, second, third = (a.dispatch_id for a in braze.accepted)
        got = [(d.dispatch_id, d.user) for d in braze.deliveries]
        assert got == [(first, "external_id:u1"), (first, "external_id:u3"),
                       (second, "external_id:u3"), (third, "external_id:u3")]


def test_reset_forgets_everything(local_braze: LocalBraze) -> None:
    post(local_braze)
    local_braze.reset()
    assert local_braze.requests == [] and local_braze.accepted == []


def test_url_needs_a_running_server() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = LocalBraze().url


def test_demo_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo"]) == 0
    out = capsys.readouterr().out
    assert "broadcast: accepted" in out and "received: external_id:u-1" in out


def test_serves_from_the_command_line_until_interrupted() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "audience_dsl.testing", "--port", "0", "--campaign", "c7",
         "--key", "kk"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Local Braze listening on http://127.0.0.1:")
        url = line.split()[4]
        response = httpx.post(url, json={"campaign_id": "c7", "recipients": [
            {"external_user_id": "u"}]}, headers={"Authorization": "Bearer kk"})
        assert response.status_code == 201
    finally:
        process.send_signal(2)  # Ctrl-C
        assert process.wait(timeout=10) == 0


@pytest.fixture(autouse=True, scope="module")
def _close_http() -> Any:
    yield
    HTTP.close()


def test_demo_refuses_a_bad_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo", "--rule", "age >"]) == 1
    assert "error" in capsys.readouterr().err


def test_result_as_json(local_braze: LocalBraze) -> None:
    with BrazeClient("k1", local_braze.url) as client:
        local_braze.inject("503")
        result = client.trigger_send("c1", recipients=[{"external_user_id": "a"}])
        dry = client.trigger_send("c1", recipients=[{"external_user_id": "a"}], dry_run=True)
    summary = result.to_json()
    assert summary["ok"] and summary["counts"]["accepted"] == 1
    assert summary["recipients"][0]["key"] == "external_user_id:a"
    assert summary["requests"][0]["attempts"] == 2
    assert json.loads(json.dumps(summary)) == summary
    assert dry.to_json()["bodies"] == [{"campaign_id": "c1",
                                        "recipients": [{"external_user_id": "a"}]}]


def test_the_fixture_is_a_registered_pytest_plugin() -> None:
    from importlib.metadata import entry_points

    plugins = {entry.name: entry.value for entry in entry_points(group="pytest11")}
    assert plugins.get("audience_dsl") == "audience_dsl.testing.plugin"


# ---- malformed requests: answered like Braze, never a dropped connection or a traceback ----


def raw_exchange(braze: LocalBraze, data: bytes) -> tuple[int, dict[str, Any]]:
    """Send raw bytes; the status and JSON body of the answer."""
    import socket

    host, port = braze.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            assert chunk, "the endpoint closed the connection without an answer"
            reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            chunk = sock.recv(65536)
            assert chunk
            body += chunk
    status = int(head.split(b" ")[1])
    return status, json.loads(body)


DEEP = b'{"campaign_id": "c1", "audience": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(("raw", "status", "text"), [
    (json.dumps({"campaign_id": ["c1"], "recipients": [{"external_user_id": "u"}]}).encode(),
     400, "Invalid Campaign ID"),
    (json.dumps({"campaign_id": {"a": 1}, "broadcast": True}).encode(), 400,
     "Invalid Campaign ID"),
    (DEEP, 400, "Error while parsing"),
    (b'{"campaign_id": "c1", "recipients": [{"external_user_id": "\\ud800"}]}', 400,
     "Error while parsing"),
    (b'{"campaign_id": "c1", "recipients": "everyone"}', 400, "Bad Request"),
    (b'{"campaign_id": "c1", "recipients": [1, null]}', 400, "Bad Request"),
    (b'{"campaign_id": "c1", "broadcast": true, "audience": {"AND": 5}}', 400, "Bad Request"),
    (b"\xff\xfe", 400, "Error while parsing"),
])
def test_malformed_bodies_get_brazes_answers(raw: bytes, status: int, text: str,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    with LocalBraze() as braze:
        response = post(braze, raw=raw)
        assert response.status_code == status
        assert text in json.dumps(response.json())
        assert post(braze).status_code == 201  # still serving
        assert braze.errors == [] and braze.accepted_bodies() == [GOOD]
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(("raw", "status"), [
    (b"POST /campaigns/trigger/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Authorization: Bearer k1\r\nContent-Length: abc\r\n\r\n{}", 400),
    (b"POST /campaigns/trigger/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Authorization: Bearer k1\r\nContent-Length: -5\r\n\r\n", 400),
    (b"POST /campaigns/trigger/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Authorization: Bearer k1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 411),
    (b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501),
    (b"this is not http\r\n\r\n", 400),
])
def test_malformed_requests_get_json_answers(raw: bytes, status: int,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    with LocalBraze() as braze:
        got, body = raw_exchange(braze, raw)
        assert got == status and "message" in body
        assert post(braze).status_code == 201
        assert braze.errors == []
    assert "Traceback" not in capfd.readouterr().err


def test_a_body_announced_huge_is_413_without_reading_it_all() -> None:
    with LocalBraze() as braze:
        got, body = raw_exchange(
            braze, b"POST /campaigns/trigger/send HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Type: application/json\r\nAuthorization: Bearer k1\r\n"
                   b"Content-Length: 99999999999\r\n\r\n" + b"x" * 1000)
        assert got == 413 and body["message"] == "Request Entity Too Large"
