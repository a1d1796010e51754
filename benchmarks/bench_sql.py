"""Profiles per second and peak memory of ``preview`` in Python and in DuckDB, same files.

    python benchmarks/bench_sql.py                       # 1,000,000 users
    python benchmarks/bench_sql.py --users 10000000      # 10 million (3.3 GB of JSON lines)
    python benchmarks/bench_sql.py --users 200000 --engines duckdb --formats parquet
    python benchmarks/bench_sql.py --repeat 3           # the fastest of three runs each

Writes one JSON-lines export of synthetic users (Braze's export shape) and the same users
as Parquet, then runs each engine on each file in a fresh process and prints the time,
profiles per second, the peak resident memory and the CPU time (all threads) of that
process, and DuckDB's speed-up over Python on the same file. Both engines must give the
same answer; the run stops if not.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime(2024, 1, 15, 12, tzinfo=UTC)
RULE = (
    'eye_color = "blue" and age between 18 and 65 and last_purchase < 30 days'
    " and (push is opted_in or not (tags contains \"churned\"))"
    " and (nickname ~ /^a/ or last_used_app after 2024-01-01)"
)


def write_users(path: Path, count: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    colors = ["blue", "green", "brown", "Blue", ""]
    tags = ["vip", "churned", "beta", "new"]
    names = ["alice", "Ann", "bob", "carl", "", None]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            attrs: dict[str, Any] = {"eye_color": rng.choice(colors), "age": rng.randint(10, 80)}
            if rng.random() < 0.8:
                purchase = NOW - timedelta(hours=rng.randint(0, 24 * 90))
                attrs["last_purchase"] = purchase.strftime("%Y-%m-%dT%H:%M:%SZ")
            if rng.random() < 0.5:
                attrs["tags"] = rng.sample(tags, rng.randint(1, 3))
            if rng.random() < 0.1:
                attrs["age"] = str(attrs["age"])  # a wrong-typed value now and then
            attrs["nickname"] = rng.choice(names)
            used = NOW - timedelta(hours=rng.randint(0, 24 * 60))
            user = {
                "external_id": f"user-{i}",
                "braze_id": f"{i:024x}",
                "custom_attributes": attrs,
                "push_subscribe": rng.choice(["opted_in", "subscribed", "unsubscribed"]),
                "email_subscribe": "subscribed",
                "apps": [{"name": "App", "last_used": used.strftime("%Y-%m-%dT%H:%M:%S.000Z")}],
            }
            handle.write(json.dumps(user) + "\n")


def write_parquet(source: Path, target: Path) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(
        "COPY (SELECT json_extract_string(json, '$.external_id') AS external_id,"
        " json_extract_string(json, '$.braze_id') AS braze_id,"
        " json_extract(json, '$.custom_attributes') AS custom_attributes,"
        " json_extract_string(json, '$.push_subscribe') AS push_subscribe,"
        " json_extract_string(json, '$.email_subscribe') AS email_subscribe,"
        " json_extract(json, '$.apps') AS apps"
        " FROM read_json_objects(?, format='newline_delimited')) TO '"
        + str(target).replace("'", "''")
        + "' (FORMAT parquet)",
        [str(source)],
    )
    con.close()


def run_one(engine: str, path: str) -> None:
    """In a fresh process: one preview, then its time, answer and peak memory as JSON."""
    from audience_dsl.evaluator import preview

    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    start = time.perf_counter()
    result = preview(RULE, path, now=NOW, engine=engine)
    elapsed = time.perf_counter() - start
    rss = _peak_rss()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    answer = [result.matched, result.total, list(result.sample), [c.passed for c in result.leaves]]
    print(json.dumps({"seconds": elapsed, "rss": rss, "answer": answer,
                      "cpu": usage.ru_utime + usage.ru_stime - cpu_before}))  # fmt: skip


def _peak_rss() -> int:
    """This process's peak resident memory in bytes (VmHWM: not inherited across exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def machine() -> str:
    """The machine and the versions a run was made with, for the report."""
    import platform

    import duckdb
    import sqlglot

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            names = [line.split(":", 1)[1].strip() for line in info
                     if line.startswith("model name")]  # fmt: skip
        cpu = names[0] if names else cpu
    except OSError:
        pass
    memory = ""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages * size / 2**30:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
        f"sqlglot {getattr(sqlglot, '__version__', '?')}"
    )


def load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"
    except OSError:
        return "load average unknown"


def measure(engine: str, path: Path, repeat: int = 1) -> dict[str, Any]:
    """The fastest of ``repeat`` runs, each in a fresh process (on a shared machine the
    others' work only ever adds time)."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, __file__, "--run", engine, str(path)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        runs.append(dict(json.loads(out.stdout.strip().splitlines()[-1])))
    return min(runs, key=lambda run: float(run["seconds"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--engines", default="python,duckdb")
    parser.add_argument("--formats", default="jsonl,parquet")
    parser.add_argument("--dir", help="where to write the files (default: a temporary folder)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each engine on each file this many times, report the fastest")
    parser.add_argument("--run", nargs=2, metavar=("ENGINE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_one(*args.run)
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        jsonl = Path(folder) / "users.jsonl"
        start = time.perf_counter()
        write_users(jsonl, args.users)
        files = {"jsonl": jsonl}
        if "parquet" in args.formats:
            files["parquet"] = Path(folder) / "users.parquet"
            write_parquet(jsonl, files["parquet"])
        sizes = ", ".join(f"{k} {os.path.getsize(p) / 1e6:,.0f} MB" for k, p in files.items())
        print(f"machine: {machine()}")
        print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}")
        print(f"{args.users:,} users written in {time.perf_counter() - start:.0f} s: {sizes}")
        print(f"rule: {RULE}")
        print(f"before the runs: {load()}")
        for form in args.formats.split(","):
            results = {}
            for engine in args.engines.split(","):
                got = results[engine] = measure(engine, files[form], args.repeat)
                rate = args.users / got["seconds"]
                print(f"{form:8} {engine:7} {got['seconds']:8.2f} s {rate:12,.0f} profiles/s"
                      f"   peak RSS {got['rss'] / 1e6:8,.0f} MB"
                      f"   CPU {got['cpu']:8.2f} s")  # fmt: skip
            answers = {json.dumps(r["answer"]) for r in results.values()}
            if len(answers) > 1:
                sys.exit(f"the engines disagree on {form}: {results}")
            if {"python", "duckdb"} <= set(results):
                ratio = results["python"]["seconds"] / results["duckdb"]["seconds"]
                print(f"{form:8} duckdb is {ratio:.1f}x python (same answer: "
                      f"{results['duckdb']['answer'][0]:,} of {args.users:,} match)")  # fmt: skip
        print(f"after the runs: {load()}")


if __name__ == "__main__":
    main()
