"""benchmarks/run.py: its workloads are what they claim, and its quick mode runs end to end.

Speed itself is measured by the benchmark, never asserted here.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import audience_dsl

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_run", RUN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _leaves(node: Any) -> int:
    if isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("AND", "OR"):
        return sum(_leaves(child) for child in next(iter(node.values())))
    return 1


@pytest.mark.parametrize("size", [1, 5, 50, 500])
def test_the_workload_has_as_many_conditions_as_it_says(size: int) -> None:
    run = _load()
    text = run.rule(size, "dsl")
    assert _leaves(audience_dsl.compile(text)) == size
    # every syntax is written from the same tree: as many leaves, the same shape
    for syntax in run.LEAVES:
        other = run.rule(size, syntax)
        own = sum(run.leaf(i, syntax).count("(") for i in range(size))
        assert other.count("(") - own == text.count("("), syntax
        and_, or_ = run.CONNECTIVES[syntax]
        assert other.count(f" {and_} ") + other.count(f" {or_} ") == size - 1, syntax


def test_quick_mode_prints_every_section(tmp_path: Path) -> None:
    raw = tmp_path / "raw.json"
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--no-peers", "--sizes", "1,5",
         "--min-time", "0.002", "--blocks", "1", "--json", str(raw)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    row = next(line for line in out.splitlines() if line.startswith("| audience-dsl compile()"))
    ratios = re.findall(r"([0-9.]+)x", row)
    assert len(ratios) == 2 and all(float(r) > 0 for r in ratios), row
    assert "`audience-dsl compile 'a = 1'`" in out
    assert "x bare httpx" in out
    assert re.search(r"[0-9,]+ profiles/second", out)
    assert "## Targets" in out
    results = json.loads(raw.read_text())
    assert set(results) == {"compile", "startup", "sender", "preview"}
    ours = results["compile"]["audience-dsl compile()"]
    for size in ("1", "5"):
        seconds, floor = ours[size]
        assert 0 < floor < seconds  # compiling costs more than reading the JSON back
