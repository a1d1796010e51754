"""The command line: JSON on stdout, diagrams on stderr, exit 0 / 1 / 2."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from audience_dsl.cli.main import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_compile_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["compile", "push is opted_in"], capsys)
    assert status == 0
    assert json.loads(out) == {
        "push_subscription_status": {"comparison": "is", "value": "opted_in"}
    }
    assert err == ""


def test_a_mistake_is_exit_1_with_the_diagram(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["compile", "eye_color = blue"], capsys)
    assert status == 1
    assert out == ""
    assert "^^^^ found the name `blue`" in err
    assert 'hint: strings are quoted: `eye_color = "blue"`' in err


def test_usage_errors_are_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(["frobnicate"], capsys)[0] == 2
    status, _, err = run(["compile", "--file", str(tmp_path / "missing.aud")], capsys)
    assert status == 2
    assert "cannot read" in err
    assert run(["compile", "a", "--params", "[1]"], capsys)[0] == 2


def test_file_name_is_shown_and_params_bind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rule = tmp_path / "vip.aud"
    rule.write_text("# VIPs\nspend > $min and\n  tier = \n", encoding="utf-8")
    status, _, err = run(["check", "--file", str(rule), "--params", '{"min": 100}'], capsys)
    assert status == 1
    assert f"--> {rule}:3:9" in err
    rule.write_text("spend > $min", encoding="utf-8")
    status, out, _ = run(["compile", "-f", str(rule), "--params", '{"min": 100}'], capsys)
    assert status == 0
    assert json.loads(out)["custom_attribute"]["value"] == 100


def test_warnings_are_printed_without_failing(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["compile", 'address.city = "Paris"'], capsys)
    assert status == 0
    assert "warning:" in err and "nested" in err
    assert json.loads(out)


def test_rule_from_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a exists"))
    status, out, _ = run(["compile", "--indent", "0"], capsys)
    assert status == 0
    assert (
        out.strip()
        == '{"custom_attribute": {"custom_attribute_name": "a", "comparison": "exists"}}'
    )


def test_python_dash_m() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "audience_dsl", "compile", "x > 1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["custom_attribute"]["comparison"] == "greater_than"


def test_preview_over_a_users_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    users = tmp_path / "users.jsonl"
    users.write_text(
        '{"external_id": "u1", "custom_attributes": {"age": 30}}\n'
        '{"external_id": "u2", "custom_attributes": {"age": 10}}\n',
        encoding="utf-8",
    )
    argv = ["preview", "age > 18", "--users", str(users), "--now", "2024-01-01T00:00:00Z"]
    status, out, _ = run([*argv, "--json"], capsys)
    assert status == 0
    assert json.loads(out) == {
        "matched": 1,
        "total": 2,
        "sample": ["u1"],
        "conditions": [{"text": "age > 18", "passed": 1}],
    }
    assert run([*argv[:-2], "--now", "2024-01-01T00:00:00"], capsys)[0] == 2  # no time zone


def test_validate_reports_paths(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"custom_attribute": {"custom_attribute_name": "a", "comparison": "exists"}}')
    assert run(["validate", str(good)], capsys)[0] == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"AND": []}')
    status, _, err = run(["validate", str(bad)], capsys)
    assert status == 1
    assert "$.AND" in err


def test_compile_with_a_schema_and_list_comparisons(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    schema = tmp_path / "schema.toml"
    schema.write_text('age = "Numeric"\nplan = "String"\n', encoding="utf-8")
    status, _, err = run(["check", 'age = "3"', "--schema", str(schema)], capsys)
    assert status == 1
    assert "write `age = 3`" in err
    status, out, _ = run(["compile", 'plan in ("a", "b")', "--list-comparisons"], capsys)
    assert json.loads(out)["custom_attribute"]["comparison"] == "is_any_of"


def test_fmt_and_decompile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rule = tmp_path / "r.aud"
    rule.write_text("A==1 &&  b # why\n", encoding="utf-8")
    status, out, _ = run(["fmt", "--file", str(rule)], capsys)
    assert (status, out) == (0, "A = 1 and b  # why\n")
    assert run(["fmt", "--check", "--file", str(rule)], capsys)[0] == 1
    assert run(["fmt", "--write", "--file", str(rule)], capsys)[0] == 0
    assert rule.read_text(encoding="utf-8") == "A = 1 and b  # why\n"
    assert run(["fmt", "--check", "--file", str(rule)], capsys)[0] == 0
    audience = tmp_path / "a.json"
    audience.write_text(json.dumps({"OR": [
        {"custom_attribute": {"custom_attribute_name": "c", "comparison": "equals", "value": "US"}},
        {"custom_attribute": {"custom_attribute_name": "c", "comparison": "equals", "value": "CA"}},
    ]}))  # fmt: skip
    status, out, _ = run(["decompile", str(audience)], capsys)
    assert (status, out) == (0, 'c in ("US", "CA")\n')
    audience.write_text('{"NOT": {}}')
    status, _, err = run(["decompile", str(audience)], capsys)
    assert status == 1 and "$.NOT" in err


MISSION = 'eye_color = "blue" and (last_purchase < 2 days or push is opted_in)'


def test_send_to_the_local_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["send", "--local", "--campaign", "c1", "--broadcast", MISSION], capsys)
    assert status == 0
    report = json.loads(out)
    assert report["result"]["counts"]["accepted"] == 1
    (body,) = report["local"]["sent"]
    assert body["audience"] == __import__("audience_dsl").compile(MISSION)
    assert report["local"]["received"] == ["external_id:u-1", "external_id:u-2"]


def test_send_recipients_from_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    people = tmp_path / "people.jsonl"
    people.write_text("".join(f'{{"external_user_id": "u{i}"}}\n' for i in range(120)))
    argv = ["send", "--local", "--campaign", "c1", "--recipients", str(people), "vip"]
    status, out, _ = run(argv, capsys)
    assert status == 0
    result = json.loads(out)["result"]
    assert result["counts"]["accepted"] == 120
    assert len(result["requests"]) == 3  # at most 50 recipients a request


def test_send_dry_run_and_usage_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BRAZE_REST_API_KEY", raising=False)
    status, _, err = run(
        ["send", "--instance", "US-01", "--campaign", "c1", "--broadcast", "a"], capsys
    )
    assert status == 2 and "BRAZE_REST_API_KEY" in err
    monkeypatch.setenv("BRAZE_REST_API_KEY", "secret-key-123")
    argv = ["send", "--instance", "US-01", "--campaign", "c1", "--broadcast", "--dry-run", "a"]
    status, out, err = run(argv, capsys)
    assert status == 0
    assert "secret-key-123" not in out + err
    status, _, err = run(["send", "--local", "--campaign", "c1", "--broadcast", "a ="], capsys)
    assert status == 1 and "expected a value" in err
