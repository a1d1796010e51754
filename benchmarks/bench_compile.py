"""Compile speed: audience-dsl beside its peers, as ratios to ``json.loads``.

Each workload is a bushy and/or tree of N comparisons, written in each tool's own
syntax. Every time is the median of several runs, and is divided by the time
``json.loads`` takes to read the equivalent Braze JSON in the same process, so numbers
from different machines compare. Peers are measured when installed
(``pip install rule-engine luqum``); they are not dependencies of the project.

    python benchmarks/bench_compile.py            # all workloads
    python benchmarks/bench_compile.py --quick    # fewer repetitions
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

import audience_dsl


def bushy(leaves: int, leaf: Callable[[int], str], and_: str, or_: str) -> str:
    """A balanced tree of ``leaves`` comparisons; levels alternate and/or."""

    def build(lo: int, hi: int, depth: int) -> str:
        if hi - lo == 1:
            return leaf(lo)
        mid = (lo + hi) // 2
        op = and_ if depth % 2 == 0 else or_
        return f"({build(lo, mid, depth + 1)} {op} {build(mid, hi, depth + 1)})"

    return build(0, leaves, 0)


def ours(i: int) -> str:
    kinds = [f'a{i} = "v{i}"', f"n{i} > {i}", f"t{i} < {i % 30 + 1} days", "push is opted_in"]
    return kinds[i % len(kinds)]


def rule_engine_leaf(i: int) -> str:
    kinds = [f'a{i} == "v{i}"', f"n{i} > {i}", f"t{i} < {i % 30 + 1}", 'push == "opted_in"']
    return kinds[i % len(kinds)]


def luqum_leaf(i: int) -> str:
    kinds = [f'a{i}:"v{i}"', f"n{i}:>{i}", f"t{i}:<{i % 30 + 1}", "push:opted_in"]
    return kinds[i % len(kinds)]


def median_seconds(function: Callable[[], object], repeat: int) -> float:
    function()  # warm up (builds the parser once)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peers() -> dict[str, Callable[[int], Callable[[], object]]]:
    found: dict[str, Callable[[int], Callable[[], object]]] = {}
    try:
        import rule_engine

        def rule_engine_case(n: int) -> Callable[[], object]:
            text = bushy(n, rule_engine_leaf, "and", "or")
            return lambda: rule_engine.Rule(text)

        found["rule-engine (Rule)"] = rule_engine_case
    except ImportError:
        pass
    try:
        from luqum.elasticsearch import ElasticsearchQueryBuilder
        from luqum.parser import parser as luqum_parser

        builder = ElasticsearchQueryBuilder()

        def luqum_case(n: int) -> Callable[[], object]:
            text = bushy(n, luqum_leaf, "AND", "OR")
            return lambda: builder(luqum_parser.parse(text))

        found["luqum (-> ES)"] = luqum_case
    except ImportError:
        pass
    return found


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--quick", action="store_true")
    args = options.parse_args()
    repeat = 5 if args.quick else 21
    workloads = [1, 5, 50, 500]
    others = peers()
    header = f"{'leaves':>6}  {'json.loads':>11}  {'audience-dsl':>14}"
    header += "".join(f"  {name:>20}" for name in others)
    print(header)
    for n in workloads:
        text = bushy(n, ours, "and", "or")
        audience = audience_dsl.compile(text)
        as_json = json.dumps(audience)
        floor = median_seconds(lambda: json.loads(as_json), repeat * 5)  # noqa: B023
        mine = median_seconds(lambda: audience_dsl.compile(text), repeat)  # noqa: B023
        row = f"{n:>6}  {floor * 1e6:>9.1f}us  {mine / floor:>12.1f}x"
        for make in others.values():
            try:
                theirs = median_seconds(make(n), repeat)
                row += f"  {theirs / floor:>19.1f}x"
            except Exception as exc:  # a peer that cannot handle the workload
                row += f"  {type(exc).__name__:>20}"
        print(row)
    print()
    print("depth (default recursion limit):")
    for name, text in {
        "((a = 1)) x 10000": "(" * 10_000 + "a = 1" + ")" * 10_000,
        "flat and of 10000": " and ".join(f"a{i} = {i}" for i in range(10_000)),
        "not x 10000": "not " * 10_000 + "a exists",
    }.items():
        start = time.perf_counter()
        audience_dsl.compile(text)
        print(f"  {name:<22} {time.perf_counter() - start:.3f}s")
    print(f"  (python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
