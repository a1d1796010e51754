"""The command line as its users meet it: exit statuses, messages in the command line's
own words, every ``--format json`` shape (validated against the JSON Schema docs/cli.md
publishes), colour, progress on a terminal and silence in a pipe.

The table tests/cases/cli.jsonl holds one command line a row: its arguments (``{dir}`` is a
folder of sample files), the exit status, and text that must (``out``/``err``) or must not
(``not_out``/``not_err``) appear on standard output and standard error. The table runs
through ``main()`` (what the ``audience-dsl`` script calls) in this process, so that the
machine shared by the suite is not loaded with a Python start-up per row; every exit
status, the console script itself, colour and the terminal are also tested in
subprocesses below.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from audience_dsl.testing import LocalBraze

ROOT = Path(__file__).resolve().parents[2]
CASES = [json.loads(line) for line in
         (ROOT / "tests" / "cases" / "cli.jsonl").read_text(encoding="utf-8").splitlines()
         if line.strip()]

#: Python arguments, specification rule numbers without words, and tracebacks: none of
#: them may reach a command-line user.
FORBIDDEN = re.compile(
    r"\w+=True|\w+=False|params=\{|allow_everyone|allow_any_host|list_comparisons|"
    r"resend_unknown|schema_types|\bbase_url\b|\brule \d+:|Traceback|<rule>\s*$"
)

SAMPLE_FILES: dict[str, str] = {
    "vip.aud": "# Customers who spend\nspend > 100 and tier = \"gold\"\n",
    "bad.aud": "# VIPs\nspend > \n",
    "messy.aud": "spend>100 &&  tier==\"gold\"\n",
    "rules/a_good.aud": "a = 1\n",
    "rules/b_bad.aud": "a =\n",
    "rules/notes.txt": "not a rule\n",
    "empty/readme.txt": "",
    "schema.toml": "spend = \"Numeric\"\ntier = \"String\"\n",
    "bad_schema.toml": "spend = \"Nmeric\"\n",
    "audience.json": json.dumps({"AND": [
        {"custom_attribute": {"custom_attribute_name": "spend", "comparison": "greater_than",
                              "value": 100}},
        {"custom_attribute": {"custom_attribute_name": "tier", "comparison": "equals",
                              "value": "gold"}}]}),
    "audience_numeric_tier.json": json.dumps({"custom_attribute": {
        "custom_attribute_name": "tier", "comparison": "greater_than", "value": 3}}),
    "empty_and.json": '{"AND": []}',
    "not_json.json": '{"a":\n',
    "any_of.json": json.dumps({"custom_attribute": {
        "custom_attribute_name": "tier", "comparison": "is_any_of", "value": ["a", "b"]}}),
    "users.jsonl": "".join(json.dumps(u) + "\n" for u in [
        {"external_id": "u-1", "custom_attributes": {"spend": 250, "tier": "gold"}},
        {"external_id": "u-2", "custom_attributes": {"spend": 40, "tier": "gold"}},
        {"external_id": "u-3", "custom_attributes": {"spend": 900, "tier": "silver"}},
    ]),
    "users_bad.jsonl": '{"external_id": "u-1"}\nnot json\n',
    "people.jsonl": '{"external_user_id": "u-1"}\n{"external_user_id": "u-2"}\n',
    "twice.jsonl": '{"external_user_id": "u-1"}\n{"external_user_id": "u-1"}\n',
    "odd_people.jsonl": '{"external_user_id": "a"}\n\n{"external_id": "b"}\n',
    "nested.json": '{"custom_attribute": {"custom_attribute_name": "a.b", '
                   '"comparison": "exists"}}',
    "people.csv": "external_user_id,trigger_properties.first_name\nu-1,Ann\nu-2,Bo\n",
    "bad.csv": "external_user_id,colour\nu-1,red\n",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here = tmp_path_factory.mktemp("cli")
    for name, text in SAMPLE_FILES.items():
        path = here / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (here / "latin1.aud").write_bytes('name = "café"\n'.encode("latin-1"))
    return here


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("BRAZE_REST_API_KEY", "FORCE_COLOR", "NO_COLOR")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audience_dsl", *args], input=stdin if stdin is not None else "",
        capture_output=True, text=True, env=env or environment(), timeout=timeout, check=False,
    )


def here(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``main(args)`` in this process (no key, no colour variables), capturing output."""
    from audience_dsl.cli import main

    saved = {k: os.environ.pop(k) for k in ("BRAZE_REST_API_KEY", "FORCE_COLOR", "NO_COLOR")
             if k in os.environ}
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(list(args))
    finally:
        sys.stdin = old
        os.environ.update(saved)
    return subprocess.CompletedProcess(list(args), status, out.getvalue(), err.getvalue())


def in_process(args: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture[str]) -> subprocess.CompletedProcess[str]:
    from audience_dsl.cli import main

    for name in ("BRAZE_REST_API_KEY", "FORCE_COLOR", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    status = main(args)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out, err)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_command_line(case: dict[str, Any], files: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    def fill(text: str) -> str:
        return text.replace("{dir}", str(files))

    done = in_process([fill(a) for a in case["args"]], case.get("stdin", ""), monkeypatch,
                      capsys)
    where = f"{case['id']}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.returncode == case["exit"], where
    for text in case.get("out", []):
        assert fill(text) in done.stdout, where
    for text in case.get("err", []):
        assert fill(text) in done.stderr, where
    for text in case.get("not_out", []):
        assert fill(text) not in done.stdout, where
    for text in case.get("not_err", []):
        assert fill(text) not in done.stderr, where
    if "out_is" in case:
        assert done.stdout == case["out_is"], where
    if "err_is" in case:
        assert done.stderr == case["err_is"], where
    if case["id"] not in ("completion-bash", "completion-zsh", "completion-fish"):
        assert not FORBIDDEN.search(done.stdout + done.stderr), where
    if case["exit"] == 2:
        assert "audience-dsl:" in done.stderr, where


def test_the_table_covers_every_subcommand_and_exit_status() -> None:
    commands = {c["args"][0] for c in CASES if c["args"]}
    assert commands >= {"compile", "check", "fmt", "decompile", "validate", "send", "preview",
                        "explain", "schema", "completion"}
    assert {c["exit"] for c in CASES} >= {0, 1, 2}


# ---- send: the exit statuses that need a server -------------------------------------------


def test_nothing_sent_is_exit_4_not_3(files: Path) -> None:
    done = cli("send", "--url", "http://127.0.0.1:1", "--campaign", "c1", "--broadcast",
               "a = 1", env=environment(BRAZE_REST_API_KEY="k1"))
    assert done.returncode == 4, done.stderr
    assert "audience-dsl: nothing was sent: could not reach Braze" in done.stderr
    assert "not sent        1" in done.stdout


def test_not_every_recipient_accepted_is_exit_3(files: Path) -> None:
    with LocalBraze(campaigns=["other"], keys=["k1"]) as braze:
        done = cli("send", "--url", braze.url, "--campaign", "c1", "--recipients",
                   str(files / "people.jsonl"), env=environment(BRAZE_REST_API_KEY="k1"))
    assert done.returncode == 3, done.stderr
    assert "audience-dsl: not every recipient was accepted (2 rejected)" in done.stderr
    assert "Invalid Campaign ID" in done.stdout


def test_the_key_is_never_shown(files: Path) -> None:
    with LocalBraze(campaigns=["c1"], keys=["secret-key-123"]) as braze:
        done = cli("send", "--url", braze.url, "--campaign", "c1", "--broadcast", "a = 1",
                   env=environment(BRAZE_REST_API_KEY="secret-key-123"))
    assert done.returncode == 0, done.stderr
    assert "secret-key-123" not in done.stdout + done.stderr
    assert "accepted        1" in done.stdout


# ---- the main job ---------------------------------------------------------------------------

MISSION = 'eye_color = "blue" and (last_purchase < 2 days or push is opted_in)'


def test_the_main_job_reads_in_order() -> None:
    first = cli("send", "--local", "--campaign", "c1", "--broadcast", MISSION)
    second = cli("send", "--local", "--campaign", "c1", "--broadcast", MISSION)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    headings = ["Rule\n", "Compiled audience\n", "Request 1 of 1 as sent: POST http://127.0.0.1:",
                "Outcome per recipient\n", "Summary\n", "Who would get the message"]
    places = [out.index(h) for h in headings]
    assert places == sorted(places)
    assert f"  {MISSION}\n" in out
    assert "Authorization: Bearer [redacted]" in out
    compiled = json.loads(out[out.index("{"):out.index("\n\nRequest")])
    from audience_dsl.pipeline import compile as compile_rule

    assert compiled == compile_rule(MISSION)
    sent = out.split("Content-Type: application/json\n", 1)[1].split("\n", 1)[0]
    assert json.loads(sent) == {"campaign_id": "c1", "broadcast": True, "audience": compiled}
    assert re.search(r"gets it  u-1  .*eye_color=\"blue\"", out)
    assert re.search(r"gets it  u-2  ", out)
    assert re.search(r"not      u-3  .*eye_color=\"green\".*push=unsubscribed", out)
    assert 'because: eye_color = "blue" -- eye_color is "green"' in out

    def dispatch(text: str) -> str:
        found = re.search(r"broadcast\s+accepted\s+([0-9a-f]{32})", text)
        assert found, text
        return found.group(1)

    assert dispatch(first.stdout) != dispatch(second.stdout)


# ---- JSON outputs against the published schema ----------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    block = re.search(r"```json schema\n(.*?)```", page, re.S)
    assert block, "docs/cli.md publishes the JSON Schema in a ```json schema block"
    value: dict[str, Any] = json.loads(block.group(1))
    jsonschema.Draft202012Validator.check_schema(value)
    return value


def _valid(schema: dict[str, Any], part: str, value: Any) -> None:
    checker = jsonschema.Draft202012Validator({**schema, "$ref": f"#/$defs/{part}"})
    checker.validate(value)


def test_json_diagnostics_match_the_schema(files: Path, schema: dict[str, Any]) -> None:
    runs = [
        (("check", "--format", "json", "--file", str(files / "rules")), 1),
        (("check", "--format", "json", "address.city = 1"), 0),
        (("check", "--format", "json", "a = 1"), 0),
        (("compile", "--format", "json", 'eye_color = blue and x = "日本" and y ='), 1),
        (("validate", "--format", "json", str(files / "empty_and.json")), 1),
        (("validate", "--format", "json", str(files / "audience.json")), 0),
        (("preview", "--format", "json", "a = ", "--users", str(files / "users.jsonl")), 1),
        (("check", "--format", "json", "--schema", str(files / "bad_schema.toml"), "a = 1"), 1),
        (("fmt", "--format", "json", "--check", "--file", str(files / "messy.aud")), 1),
    ]
    seen = 0
    for args, status in runs:
        done = here(*args)
        assert done.returncode == status, (args, done.stderr)
        value = json.loads(done.stdout)
        _valid(schema, "diagnostics", value)
        seen += len(value)
        if status == 1:
            assert value and all(d["severity"] in ("error", "warning") for d in value)
            assert not FORBIDDEN.search(done.stdout)
    assert seen >= 7
    done = here("check", "--format", "json", "address.city = 1")
    (warning,) = json.loads(done.stdout)
    assert warning["severity"] == "warning"
    done = here("compile", "--format", "json", "eye_color = blue")
    (error,) = json.loads(done.stdout)
    place = (error["line"], error["column"], error["end_line"], error["end_column"])
    assert place == (1, 13, 1, 17)
    assert error["hint"] == 'strings are quoted: `eye_color = "blue"`'
    assert error["file"] == "<rule>"


def test_json_results_match_the_schema(files: Path, schema: dict[str, Any]) -> None:
    users = str(files / "users.jsonl")
    done = here("preview", "--format", "json", "spend > 100", "--users", users, "--now",
               "2024-06-01")
    result = json.loads(done.stdout)
    _valid(schema, "preview", result)
    assert (result["matched"], result["total"], result["sample"]) == (2, 3, ["u-1", "u-3"])
    done = here("explain", "--format", "json", "spend > 100", "--users", users, "--user", "u-2")
    result = json.loads(done.stdout)
    _valid(schema, "explain", result)
    assert result["matched"] is False
    done = here("compile", "--format", "json", "a = 1")
    assert json.loads(done.stdout)["custom_attribute"]["value"] == 1


def test_send_json_lines_match_the_schema(files: Path, schema: dict[str, Any]) -> None:
    people = files / "many.jsonl"
    people.write_text("".join(f'{{"external_user_id": "u{i}"}}\n' for i in range(120)))
    done = cli("send", "--local", "--campaign", "c1", "--recipients", str(people),
               "--format", "json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    for line in lines:
        _valid(schema, "send_line", line)
    kinds = [line["type"] for line in lines]
    assert kinds.count("request") == 3 and kinds.count("recipient") == 120
    assert kinds[-1] == "summary" and lines[-1]["counts"]["accepted"] == 120
    assert done.stderr == ""
    done = cli("send", "--dry-run", "--instance", "US-01", "--campaign", "c1", "--broadcast",
               "a = 1", "--format", "json")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    for line in lines:
        _valid(schema, "send_line", line)
    assert [line["type"] for line in lines] == ["body", "summary"]
    assert lines[0]["body"]["audience"]["custom_attribute"]["custom_attribute_name"] == "a"
    done = cli("send", "--url", "http://127.0.0.1:1", "--campaign", "c1", "--broadcast",
               "a = 1", "--format", "json", env=environment(BRAZE_REST_API_KEY="k"))
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    for line in lines:
        _valid(schema, "send_line", line)
    assert lines[-1]["exit"] == 4 == done.returncode


# ---- colour ---------------------------------------------------------------------------------


def test_colour_on_request_and_never_in_a_pipe() -> None:
    plain = cli("check", "eye_color = blue")
    assert "\x1b[" not in plain.stderr
    forced = cli("check", "eye_color = blue", env=environment(FORCE_COLOR="1"))
    assert "\x1b[1;31merror:\x1b[0m" in forced.stderr
    assert "\x1b[1;31m^^^^\x1b[0m" in forced.stderr
    assert "\x1b[36m= hint:" in forced.stderr
    both = cli("check", "eye_color = blue", env=environment(FORCE_COLOR="1", NO_COLOR="1"))
    assert "\x1b[" not in both.stderr
    stripped = re.sub(r"\x1b\[[0-9;]*m", "", forced.stderr)
    assert stripped == plain.stderr


# ---- a terminal: progress and colour --------------------------------------------------------


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run with standard error on a pseudo-terminal; (status, stdout, what the tty got)."""
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "audience_dsl", *args],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=follower, env=env, text=True)
        os.close(follower)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        out = process.stdout.read() if process.stdout else ""
        status = process.wait(timeout=60)
    finally:
        os.close(leader)
    return status, out, b"".join(chunks).decode("utf-8", "replace")


def test_progress_on_a_terminal_and_silence_in_a_pipe(files: Path) -> None:
    people = files / "progress.jsonl"
    people.write_text("".join(f'{{"external_user_id": "p{i}"}}\n' for i in range(120)))
    args = ["send", "--local", "--campaign", "c1", "--recipients", str(people)]
    env = environment(TERM="xterm", COLUMNS="100")
    status, out, tty = _on_a_terminal(args, env)
    assert status == 0
    assert "sending" in tty and "3/3" in tty and "120 accepted" in tty
    assert "accepted      120" in out
    status, _, tty = _on_a_terminal([*args, "--quiet"], env)
    assert status == 0 and "sending" not in tty
    piped = cli(*args)
    assert piped.returncode == 0 and piped.stderr == ""
    status, _, tty = _on_a_terminal(["check", "eye_color = blue"], env)
    assert status == 1 and "\x1b[1;31m^^^^" in tty


# ---- fmt agrees with itself ----------------------------------------------------------------

FMT_TEXTS = [
    "x = 1\n", "x = 1", "x = 1\n\n\n", "x = 1\r\n", "x = 1 and\r\ny = 2\r\n", "x=1\n",
    "# c\nx = 1  # d\n", "x = 1\n# trailing comment\n", "\n\nx = 1\n", "x = 1\r\n\r\n",
    "", "  x = 1\n",
    "x = 1 and y = 2 and z = 3 and w = 4 and v = 5 and u = 6 and t = 7 and s = 8 and r = 9 and q\n",
]


def test_fmt_check_fails_exactly_when_write_changes(tmp_path: Path) -> None:
    for number, text in enumerate(FMT_TEXTS):
        path = tmp_path / f"r{number}.aud"
        path.write_bytes(text.encode())
        checked = here("fmt", "--check", "--file", str(path))
        written = here("fmt", "--write", "--file", str(path))
        changed = path.read_bytes() != text.encode()
        if written.returncode:  # not a rule: both fail, nothing is written
            assert (checked.returncode, written.returncode, changed) == (1, 1, False), text
            continue
        assert checked.returncode == (1 if changed else 0), (text, checked.stderr)
        again = here("fmt", "--check", "--file", str(path))
        assert again.returncode == 0, (text, path.read_bytes())
        if "\r\n" in text.split("\n", 1)[0] + "\n" and text.strip():
            assert b"\r\n" in path.read_bytes() and b"\n\n" not in path.read_bytes()


# ---- schema pull ----------------------------------------------------------------------------


def test_schema_pull_follows_pages_and_waits_for_the_rate_limit() -> None:
    import httpx

    from audience_dsl.braze.limits import Limits
    from audience_dsl.sender.attributes import custom_attribute_types as pull

    types = {f"attr_{i:03d}": ("Numeric" if i % 2 else "String") for i in range(120)}
    limits = Limits(custom_attributes_per_hour=2, hour=0.5)
    waits: list[float] = []
    with LocalBraze(keys=["k1"], attribute_types=types, limits=limits) as braze, \
            httpx.Client() as http:
        def sleep(seconds: float) -> None:
            waits.append(seconds)
            import time

            time.sleep(seconds)

        found, notes = pull(braze.url, "k1", http=http, sleep=sleep)
        pages = [r for r in braze.requests if r.path.startswith("/custom_attributes")]
    assert found == types and notes == []
    assert [r.status for r in pages].count(200) == 3  # 50 + 50 + 20
    assert waits, "the third page waited for the window"
    assert any("cursor=" in r.path for r in pages)


def test_schema_pull_refuses_a_next_page_elsewhere_and_leaves_out_objects() -> None:
    import httpx

    from audience_dsl.sender.attributes import AttributeListError as PullError
    from audience_dsl.sender.attributes import custom_attribute_types as pull
    from audience_dsl.sender.attributes import wire_type

    assert wire_type("Number") == "Numeric"
    assert wire_type("String (Automatically Detected)") == "String"
    assert wire_type("Date") == "Time"
    assert wire_type("Object Array") is None and wire_type("Object") is None

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"message": "success", "attributes": [
            {"name": "a", "data_type": "Number", "status": "Active"},
            {"name": "b", "data_type": "Object", "status": "Active"},
            {"name": "c", "data_type": "String", "status": "Blocklisted"},
        ]}, headers={"Link": '<https://evil.example/custom_attributes?cursor=x>; rel="next"'})

    with httpx.Client(transport=httpx.MockTransport(answer)) as http, \
            pytest.raises(PullError, match="another host"):
        pull("https://rest.iad-01.braze.com", "k", http=http)

    def last(request: httpx.Request) -> httpx.Response:
        response = answer(request)
        del response.headers["Link"]
        return response

    with httpx.Client(transport=httpx.MockTransport(last)) as http:
        found, notes = pull("https://rest.iad-01.braze.com", "k", http=http)
    assert found == {"a": "Numeric"}
    assert notes == ["b: left out, Connected Audience cannot filter Object attributes",
                     "c: left out, its status is Blocklisted"]


# ---- pieces ---------------------------------------------------------------------------------


def test_words_name_flags_and_rules() -> None:
    from audience_dsl.cli.output import RULES, words

    assert words("pass params={'min': ...}") == """pass --params '{"min": ...}'"""
    assert words("rule 12: this audience matches every user; pass allow_everyone=True if "
                 "that is really meant") == (
        "rule 12 (the audience): this audience matches every user; pass --allow-everyone "
        "if that is really meant")
    assert words("compile with list_comparisons=True, so") == "compile with --list-comparisons, so"
    assert words("base_url: rule 1: x") == "--instance / --url: rule 1 (the base URL): x"
    assert words("rule 99: x") == "rule 99: x"
    assert sorted(RULES) == list(range(1, 40))


def test_recipients_from_csv(tmp_path: Path) -> None:
    from audience_dsl.cli.common import InputError
    from audience_dsl.cli.send import read_recipients

    path = tmp_path / "r.csv"
    path.write_text("external_user_id,email,prioritization,alias_name,alias_label,"
                    "trigger_properties.name,attributes.city,send_to_existing_only\n"
                    "u1,,,,,Ann,Paris,true\n"
                    ",a@b.c,identified;most_recently_updated,,,,,\n"
                    ",,,n1,l1,,,false\n", encoding="utf-8")
    assert read_recipients(str(path)) == [
        {"external_user_id": "u1", "trigger_properties": {"name": "Ann"},
         "attributes": {"city": "Paris"}, "send_to_existing_only": True},
        {"email": "a@b.c", "prioritization": ["identified", "most_recently_updated"]},
        {"user_alias": {"alias_name": "n1", "alias_label": "l1"},
         "send_to_existing_only": False},
    ]
    path.write_text("external_user_id\nu1,extra\n", encoding="utf-8")
    with pytest.raises(InputError, match="more cells than columns"):
        read_recipients(str(path))


def test_in_process_main_returns_the_status(capsys: pytest.CaptureFixture[str]) -> None:
    from audience_dsl.cli import main

    assert main(["check", "a = 1"]) == 0
    assert main(["check", "a ="]) == 1
    assert main(["check", "--strict", "a = 1"]) == 2
    _, err = capsys.readouterr()
    assert "audience-dsl: --strict needs --schema" in err




def test_a_bug_is_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from audience_dsl.cli import rules

    def broken(args: Any) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(rules, "run_check", broken)
    done = here("check", "a = 1")
    assert done.returncode == 70
    assert done.stderr.startswith("audience-dsl: internal error, a bug in audience-dsl")
    assert "Traceback" not in done.stderr


def test_progress_shows_rate_limit_waits(files: Path) -> None:
    from audience_dsl.braze.limits import Limits

    people = files / "limited.jsonl"
    people.write_text("".join(f'{{"external_user_id": "r{i}"}}\n' for i in range(120)))
    with LocalBraze(campaigns=["c1"], keys=["k1"],
                    limits=Limits(requests_per_hour=1, hour=1.5)) as braze:
        status, out, tty = _on_a_terminal(
            ["send", "--url", braze.url, "--campaign", "c1", "--recipients", str(people)],
            environment(TERM="xterm", COLUMNS="120", BRAZE_REST_API_KEY="k1"))
    assert status == 0, tty
    assert re.search(r"waiting \d+\.\d s, until \d\d:\d\d:\d\d", tty), tty
    assert "accepted      120" in out


@pytest.mark.parametrize(("text", "carets"), [
    ('name = "日本語テキスト" and b = blue', " " * 32 + "^^^^"),   # wide: two columns each
    ('x = "é" and b = blue', " " * 16 + "^^^^"),                 # é as one code point
    ('x = "e\u0301" and b = blue', " " * 16 + "^^^^"),           # e + combining accent
    ("x = 1 and\tb = blue", " " * 9 + "\t    ^^^^"),              # tabs kept
])
def test_carets_stand_under_the_characters(text: str, carets: str) -> None:
    done = here("check", text)
    lines = done.stderr.split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith(" 1 | "))
    marks = lines[index + 1]
    assert marks.startswith("   | ")
    assert marks[5:].split(" found")[0] == carets, done.stderr


def test_placeholders_say_what_the_subcommands_say() -> None:
    """Start-up builds one group's parsers; the others' one-line help must not drift."""
    import argparse

    main_module = sys.modules["audience_dsl.cli.main"]
    full = main_module.build_parser()
    lean = main_module.build_parser("")

    def summaries(parser: argparse.ArgumentParser) -> dict[str, str]:
        (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return {a.dest: a.help or "" for a in sub._choices_actions}

    assert summaries(full) == summaries(lean)
    assert list(summaries(full)) == list(main_module.COMMANDS)


def test_compiling_loads_one_group_of_subcommands() -> None:
    probe = ("import contextlib, io, sys\nfrom audience_dsl.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    assert main(['compile', 'a = 1']) == 0\n"
             "print(sorted(m for m in sys.modules if m.startswith('audience_dsl.cli.')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=environment(), check=True)
    assert done.stdout.strip() == str(["audience_dsl.cli.common", "audience_dsl.cli.main",
                                       "audience_dsl.cli.output", "audience_dsl.cli.rules"])
