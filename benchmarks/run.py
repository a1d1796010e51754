"""Every speed number of audience-dsl in one run, beside its peers.

    python benchmarks/run.py                  # everything (about five minutes)
    python benchmarks/run.py --quick          # small sizes, short timings, a smoke test
    python benchmarks/run.py --no-peers       # only audience-dsl
    python benchmarks/run.py --only compile   # one section: compile, startup, sender, preview

Parse+compile time is printed as a ratio to ``json.loads`` of the equivalent Braze JSON,
measured in the same process (alternating blocks of the cell and of the floor), so runs on
different machines compare. Each workload is a balanced and/or tree of N comparisons
written in each tool's own syntax. The peers (rule-engine, luqum, cel-python,
scim2-filter-parser, odata-query) are not dependencies of the project: the first run
installs each into its own virtual environment under ``benchmarks/.peers/`` (their pins
clash), and every cell runs in a process of its own.

The last section checks the targets of the performance work (docs/performance.md).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEER_DIR = HERE / ".peers"
SIZES = (1, 5, 50, 500, 5000)
QUICK_SIZES = (1, 5, 50)

# Each peer: its pinned distribution (the versions the measurements were taken with).
PEERS: dict[str, str] = {
    "rule-engine": "rule-engine==5.1.0",
    "luqum": "luqum==1.0.0",
    "cel-python": "cel-python==0.5.0",
    "scim2-filter-parser": "scim2-filter-parser==0.7.0",
    "odata-query": "odata-query==0.10.0",
}

# ---- workloads --------------------------------------------------------------------------------

# One leaf of each kind (string equality, number comparison, relative date, push
# subscription), in each syntax. ``i`` numbers the leaf; ``k`` is a day count.
LEAVES: dict[str, tuple[str, str, str, str]] = {
    "dsl": ('a{i} = "v{i}"', "n{i} > {i}", "t{i} < {k} days", "push is opted_in"),
    "rule_engine": (
        'a{i} == "v{i}"',
        "n{i} > {i}",
        't{i} > $now - t"P{k}D"',
        'push == "opted_in"',
    ),
    "cel": (
        'a{i} == "v{i}"',
        "n{i} > {i}",
        't{i} > now - duration("{h}h")',
        'push == "opted_in"',
    ),
    "lucene": ('a{i}:"v{i}"', "n{i}:{{{i} TO *]", "t{i}:[now-{k}d TO *]", "push:opted_in"),
    # scim2-filter-parser's lexer reads only one-digit numbers: numbers are quoted.
    "scim": (
        'a{i} eq "v{i}"',
        'n{i} gt "{i}"',
        't{i} gt "2024-06-01T00:00:00Z"',
        'push eq "opted_in"',
    ),
    "odata": (
        "a{i} eq 'v{i}'",
        "n{i} gt {i}",
        "t{i} gt now() sub duration'P{k}D'",
        "push eq 'opted_in'",
    ),
}
CONNECTIVES = {
    "dsl": ("and", "or"), "rule_engine": ("and", "or"), "cel": ("&&", "||"),
    "lucene": ("AND", "OR"), "scim": ("and", "or"), "odata": ("and", "or"),
}  # fmt: skip


def leaf(i: int, syntax: str) -> str:
    """The ``i``-th comparison of a workload, in ``syntax``."""
    leaves = LEAVES[syntax]
    k = i % 30 + 1
    return leaves[i % len(leaves)].format(i=i, k=k, h=24 * k)


def rule(size: int, syntax: str) -> str:
    """A balanced tree of ``size`` comparisons; levels alternate and/or, groups parenthesised."""
    and_, or_ = CONNECTIVES[syntax]

    def build(lo: int, hi: int, depth: int) -> str:
        if hi - lo == 1:
            return leaf(lo, syntax)
        mid = (lo + hi) // 2
        op = and_ if depth % 2 == 0 else or_
        inner = f"{build(lo, mid, depth + 1)} {op} {build(mid, hi, depth + 1)}"
        return inner if depth == 0 else f"({inner})"

    return build(0, size, 0)


# ---- cells: what is timed, built inside the process that times it ------------------------------
# Each returns a function that handles one text; parser objects are built here, once.

Cell = Callable[[str], Callable[[], object]]


def _ours() -> Cell:
    import audience_dsl

    return lambda text: lambda: audience_dsl.compile(text)


def _ours_parse() -> Cell:
    from audience_dsl.language.parser import parse_expr
    from audience_dsl.source import Source

    return lambda text: lambda: parse_expr(Source(text))


def _rule_engine_parse() -> Cell:
    import rule_engine
    import rule_engine.parser

    parser = rule_engine.parser.Parser()
    context = rule_engine.Context()
    return lambda text: lambda: parser.parse(text, context)


def _rule_engine_rule() -> Cell:
    import rule_engine

    return lambda text: lambda: rule_engine.Rule(text)


def _luqum_parse() -> Cell:
    from luqum.parser import parser

    return lambda text: lambda: parser.parse(text)


def _luqum_es() -> Cell:
    from luqum.elasticsearch import ElasticsearchQueryBuilder
    from luqum.parser import parser

    builder = ElasticsearchQueryBuilder()
    return lambda text: lambda: builder(parser.parse(text))


def _cel_parse() -> Cell:
    from celpy.celparser import CELParser

    parser = CELParser()
    return lambda text: lambda: parser.parse(text)


def _cel_program() -> Cell:
    import celpy

    environment = celpy.Environment()
    return lambda text: lambda: environment.program(environment.compile(text))


def _scim_parse() -> Cell:
    from scim2_filter_parser.lexer import SCIMLexer
    from scim2_filter_parser.parser import SCIMParser

    lexer, parser = SCIMLexer(), SCIMParser()
    return lambda text: lambda: parser.parse(lexer.tokenize(text))


def _scim_sql() -> Cell:
    from scim2_filter_parser.queries import SQLQuery

    def make(text: str) -> Callable[[], object]:
        names = {word for word in text.replace("(", " ").split() if word[:1] in "antp"}
        attributes = {(name, None, None): name for name in names}
        return lambda: SQLQuery(text, "users", attributes).sql

    return make


def _odata_parse() -> Cell:
    from odata_query.grammar import ODataLexer, ODataParser

    lexer, parser = ODataLexer(), ODataParser()
    return lambda text: lambda: parser.parse(lexer.tokenize(text))


def _odata_sql() -> Cell:
    from odata_query.grammar import ODataLexer, ODataParser
    from odata_query.sql import AstToSqlVisitor

    lexer, parser = ODataLexer(), ODataParser()
    return lambda text: lambda: AstToSqlVisitor().visit(parser.parse(lexer.tokenize(text)))


# name -> (peer or "" for audience-dsl, syntax, stage, factory)
CELLS: dict[str, tuple[str, str, str, Callable[[], Cell]]] = {
    "audience-dsl compile()": ("", "dsl", "parse+compile", _ours),
    "audience-dsl parse": ("", "dsl", "parse", _ours_parse),
    "rule-engine Parser.parse": ("rule-engine", "rule_engine", "parse", _rule_engine_parse),
    "rule-engine Rule()": ("rule-engine", "rule_engine", "parse+compile", _rule_engine_rule),
    "luqum parse": ("luqum", "lucene", "parse", _luqum_parse),
    "luqum -> Elasticsearch": ("luqum", "lucene", "parse+compile", _luqum_es),
    "cel-python parse": ("cel-python", "cel", "parse", _cel_parse),
    "cel-python program": ("cel-python", "cel", "parse+compile", _cel_program),
    "scim2-filter-parser parse": ("scim2-filter-parser", "scim", "parse", _scim_parse),
    "scim2-filter-parser -> SQL": ("scim2-filter-parser", "scim", "parse+compile", _scim_sql),
    "odata-query parse": ("odata-query", "odata", "parse", _odata_parse),
    "odata-query -> SQL": ("odata-query", "odata", "parse+compile", _odata_sql),
}


def timed(
    function: Callable[[], object], floor: Callable[[], object], min_time: float, blocks: int
) -> tuple[float, float]:
    """Median seconds per call of ``function`` and of ``floor``, in alternating blocks."""

    def loops_for(f: Callable[[], object]) -> int:
        start = time.perf_counter()
        f()
        once = time.perf_counter() - start
        return max(1, int(min_time / max(once, 1e-7)))

    def block(f: Callable[[], object], loops: int) -> float:
        start = time.perf_counter()
        for _ in range(loops):
            f()
        return (time.perf_counter() - start) / loops

    function()
    floor()
    loops, floor_loops = loops_for(function), loops_for(floor)
    mine, base = [], []
    # As timeit does: the cyclic garbage collector off while timing, so that a collection
    # of whatever else the process holds does not land on one side by chance.
    enabled = gc.isenabled()
    try:
        for _ in range(blocks):
            gc.collect()
            gc.disable()
            base.append(block(floor, floor_loops))
            gc.collect()
            gc.disable()
            mine.append(block(function, loops))
            gc.enable()
    finally:
        if enabled:
            gc.enable()
    return statistics.median(mine), statistics.median(base)


def worker(cell: str, data_path: str, min_time: float, blocks: int) -> None:
    """Time one cell at every size of the workload file; print JSON results."""
    data = json.loads(Path(data_path).read_text(encoding="utf-8"))
    _, syntax, _, factory = CELLS[cell]
    results: dict[str, Any] = {}
    try:
        make = factory()
    except Exception as exc:  # a peer that does not install or import
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return
    for size, texts in data.items():
        braze = texts["braze"]
        try:
            seconds, floor = timed(
                make(texts[syntax]),
                lambda: json.loads(braze),  # noqa: B023
                min_time,
                blocks,
            )
            results[size] = [seconds, floor]
        except Exception as exc:  # a peer that cannot handle this workload
            results[size] = f"{type(exc).__name__}"
    print(json.dumps(results))


# ---- the parent: peers' environments, sections, the table ----------------------------------------


def peer_python(peer: str, log: Callable[[str], None]) -> Path | None:
    """The Python of ``peer``'s virtual environment, created on first use; None if that fails."""
    folder = PEER_DIR / peer
    python = folder / "bin" / "python"
    marker = folder / ".installed"
    if marker.exists() and marker.read_text() == PEERS[peer] and python.exists():
        return python
    log(f"installing {PEERS[peer]} into {folder.relative_to(HERE.parent)} ...")
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(folder)], check=True, capture_output=True
        )
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", PEERS[peer]],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        log(f"  could not install {peer}: {exc.stderr.decode(errors='replace')[-300:]}")
        return None
    marker.write_text(PEERS[peer])
    return python


def run_cell(
    python: Path | str, cell: str, data: Path, args: argparse.Namespace, env: dict[str, str]
) -> dict[str, Any]:
    command = [
        str(python),
        __file__,
        "--worker",
        cell,
        "--data",
        str(data),
        "--min-time",
        str(args.min_time),
        "--blocks",
        str(args.blocks),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def section_compile(args: argparse.Namespace, out: list[str]) -> dict[str, Any]:
    import audience_dsl

    sizes = args.sizes
    data: dict[str, dict[str, str]] = {}
    for size in sizes:
        texts = {syntax: rule(size, syntax) for syntax in LEAVES}
        texts["braze"] = json.dumps(audience_dsl.compile(texts["dsl"]))
        data[str(size)] = texts
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "workloads.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        base_env = {**os.environ, "PYTHONHASHSEED": "0"}
        for cell, (peer, _, _, _) in CELLS.items():
            env = dict(base_env)
            if not peer:
                python: Path | str | None = sys.executable
            else:
                if not args.peers:
                    continue
                python = peer_python(peer, lambda line: print(line, file=sys.stderr))
                if python is None:
                    results[cell] = {"error": "could not be installed"}
                    continue
            print(f"  timing {cell} ...", file=sys.stderr)
            results[cell] = run_cell(python, cell, path, args, env)

    out.append("## Parse+compile, x json.loads of the equivalent Braze JSON (lower is faster)")
    out.append("")
    header = "| cell | stage | " + " | ".join(f"{s:,}" for s in sizes) + " | growth 50→5,000 |"
    out.append(header)
    out.append("|---" * (len(sizes) + 3) + "|")
    floors: dict[str, list[float]] = {str(s): [] for s in sizes}
    for cell, result in results.items():
        stage = CELLS[cell][2]
        if "error" in result:
            out.append(
                f"| {cell} | {stage} | "
                + " | ".join("—" for _ in sizes)
                + f" | {result['error']} |"
            )
            continue
        row = f"| {cell} | {stage} |"
        for size in sizes:
            value = result.get(str(size))
            if isinstance(value, list):
                row += f" {value[0] / value[1]:.1f}x |"
                floors[str(size)].append(value[1])
            else:
                row += f" fails: {value} |"
        out.append(row + f" {growth(result)} |")
    out.append("")
    out.append(
        "json.loads floor, µs (median over the cells' processes): "
        + ", ".join(
            f"{s:,}: {statistics.median(floors[str(s)]) * 1e6:,.1f}"
            for s in sizes
            if floors[str(s)]
        )
    )
    out.append("")
    out.append("growth = time per condition at 5,000 ÷ time per condition at 50 (1.00 = linear).")
    out.append("")
    return results


def growth(result: dict[str, Any]) -> str:
    small, large = result.get("50"), result.get("5000")
    if not (isinstance(small, list) and isinstance(large, list)):
        return "—"
    # per-condition cost, each normalised by its own floor's per-condition cost
    normalised = (large[0] / large[1]) / (small[0] / small[1])
    return f"{normalised:.2f} (raw {large[0] / 100 / small[0]:.2f})"


def cli_seconds(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, float]:
    """Median wall-clock seconds of each command, run in interleaved rounds."""
    for command in commands.values():
        subprocess.run(command, capture_output=True, check=True, env=env)  # warm the caches
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, env=env)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def section_startup(args: argparse.Namespace, out: list[str]) -> dict[str, float]:
    runs = 5 if args.quick else 21
    script = Path(sys.executable).parent / "audience-dsl"
    ours = [str(script)] if script.exists() else [sys.executable, "-m", "audience_dsl"]
    # As installed: bytecode written and reused (pip compiles it at install time).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import lark, pydantic"': [sys.executable, "-c", "import lark, pydantic"],
        "audience-dsl compile 'a = 1'": [*ours, "compile", "a = 1"],
    }
    seconds = cli_seconds(commands, runs, env)
    base = seconds['python -c "import lark, pydantic"']
    out.append(f"## Start-up (median of {runs} runs, wall clock)")
    out.append("")
    out.append("| command | ms | x import lark, pydantic |")
    out.append("|---|---|---|")
    for name, value in seconds.items():
        out.append(f"| `{name}` | {value * 1e3:.0f} | {value / base:.2f}x |")
    out.append("")
    return seconds


def section_sender(args: argparse.Namespace, out: list[str]) -> dict[str, float]:
    import httpx

    from audience_dsl import compile as compile_rule
    from audience_dsl.sender import BrazeClient

    requests = 40 if args.quick else 300
    recipients = [
        {"external_user_id": f"user-{i}", "trigger_properties": {"n": i}} for i in range(50)
    ]
    rule_text = 'eye_color = "blue" and (push is opted_in or age >= 21)'
    audience = compile_rule(rule_text)
    headers = {
        "Authorization": "Bearer k1",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    # The endpoint runs in a process of its own, as Braze would: in this process it would
    # share the interpreter lock with the client, and each side would slow the other.
    server = subprocess.Popen(
        [sys.executable, "-m", "audience_dsl.testing", "--port", "0", "--key", "k1"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()  # "Local Braze listening on http://...; Ctrl-C stops it"
        url = banner.split(" on ", 1)[1].split()[0].removesuffix("/campaigns/trigger/send")
        with BrazeClient("k1", url) as client:
            planned = client.trigger_send(
                "c1", recipients=recipients, audience=audience, dry_run=True
            )
            payload = json.dumps(planned.bodies[0], separators=(",", ":")).encode()

            def sender(value: object) -> Callable[[], None]:
                def send() -> None:
                    result = client.trigger_send("c1", recipients=recipients, audience=value)
                    assert result.ok, result

                return send

            with httpx.Client() as bare_client:

                def bare() -> None:
                    response = bare_client.post(client.url, content=payload, headers=headers)
                    assert response.status_code == 201, response.text

                def checks_only() -> None:
                    client.trigger_send(
                        "c1", recipients=recipients, audience=audience, dry_run=True
                    )

                cells = {
                    "bare `httpx.Client.post` of the same body": bare,
                    "`BrazeClient.trigger_send`, audience as a dict": sender(audience),
                    "`BrazeClient.trigger_send`, audience as rule text": sender(rule_text),
                    "(its body built and checked only: `dry_run=True`, nothing sent)": checks_only,
                }
                times: dict[str, list[float]] = {name: [] for name in cells}
                for function in cells.values():
                    function()
                rounds = 5
                for _ in range(rounds):  # interleaved, so that load on the machine hits all alike
                    for name, function in cells.items():
                        start = time.perf_counter()
                        for _ in range(requests // rounds):
                            function()
                        times[name].append((time.perf_counter() - start) / (requests // rounds))
    finally:
        server.terminate()
        server.wait()
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["bare `httpx.Client.post` of the same body"]
    out.append(
        f"## Sender: {requests} requests each way, 50 recipients and a 3-condition audience, "
        "to the local endpoint in its own process"
    )
    out.append("")
    out.append("| client | ms per request | x bare httpx |")
    out.append("|---|---|---|")
    for name, value in medians.items():
        out.append(f"| {name} | {value * 1e3:.2f} | {value / base:.2f}x |")
    out.append("")
    return {
        "httpx": base,
        "sender_dict": medians["`BrazeClient.trigger_send`, audience as a dict"],
        "sender_text": medians["`BrazeClient.trigger_send`, audience as rule text"],
    }


def section_preview(args: argparse.Namespace, out: list[str]) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from bench_preview import NOW, RULE, users

    from audience_dsl import preview

    count = 5_000 if args.quick else 100_000
    data = list(users(count))
    preview(RULE, data[:500], now=NOW)
    start = time.perf_counter()
    preview(RULE, data, now=NOW)
    elapsed = time.perf_counter() - start
    out.append(f"## Preview: {count:,} profiles in memory, a five-condition rule")
    out.append("")
    out.append(f"{count / elapsed:,.0f} profiles/second ({elapsed:.2f} s)")
    out.append("")
    return {"profiles_per_second": count / elapsed}


def section_targets(args: argparse.Namespace, out: list[str], raw: dict[str, Any]) -> None:
    """Each target of docs/performance.md against this run: met, or by how much not."""
    rows: list[tuple[str, str, bool]] = []
    compiled = raw.get("compile", {})
    ours = compiled.get("audience-dsl compile()", {})

    def ratio(result: dict[str, Any], size: int) -> float | None:
        value = result.get(str(size))
        return value[0] / value[1] if isinstance(value, list) else None

    for size, limit in ((5, 17.0), (500, 20.0)):
        value = ratio(ours, size)
        if value is not None:
            rows.append((f"{size} conditions <= {limit:.0f}x json.loads", f"{value:.1f}x",
                         value <= limit))  # fmt: skip
    for size in args.sizes:
        mine = ratio(ours, size)
        peers = [
            (ratio(result, size), cell)
            for cell, result in compiled.items()
            if CELLS[cell][0] and CELLS[cell][2] == "parse" and "error" not in result
        ]
        peers = [(value, cell) for value, cell in peers if value is not None]
        if mine is not None and peers:
            best, cell = min(peers)
            rows.append((f"{size:,}: >= 2x faster than the fastest peer's parse ({cell})",
                         f"{best / mine:.2f}x faster", best / mine >= 2))  # fmt: skip
    small, large = ours.get("50"), ours.get("5000")
    if isinstance(small, list) and isinstance(large, list):
        growth = (large[0] / large[1]) / (small[0] / small[1])
        rows.append(("time per condition 50 -> 5,000 within +-20%", f"{growth:.2f}",
                     0.8 <= growth <= 1.2))  # fmt: skip
    startup = raw.get("startup", {})
    if startup:
        value = (
            startup["audience-dsl compile 'a = 1'"] / startup['python -c "import lark, pydantic"']
        )
        rows.append(("`compile 'a = 1'` <= 1.5x `import lark, pydantic`", f"{value:.2f}x",
                     value <= 1.5))  # fmt: skip
    sender = raw.get("sender", {})
    if sender:
        for key, what in (("sender_dict", "dict"), ("sender_text", "rule text")):
            value = sender[key] / sender["httpx"]
            rows.append((f"sender ({what}) <= 1.10x bare httpx", f"{value:.2f}x", value <= 1.1))
    out.append("## Targets")
    out.append("")
    out.append("| target | this run | met |")
    out.append("|---|---|---|")
    for what, value, met in rows:
        out.append(f"| {what} | {value} | {'yes' if met else 'no'} |")
    out.append("")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import lark

    return (
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"lark {lark.__version__}, {platform.system()} {platform.machine()}, {cpu}, "
        f"{os.cpu_count()} CPUs"
    )


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="small sizes, short timings")
    options.add_argument("--no-peers", dest="peers", action="store_false")
    options.add_argument(
        "--only", choices=["compile", "startup", "sender", "preview"], action="append"
    )
    options.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")])
    options.add_argument("--min-time", type=float, help="seconds per timing block")
    options.add_argument("--blocks", type=int, help="timing blocks per cell and size")
    options.add_argument("--json", help="also write the raw results to this file")
    options.add_argument("--worker", help=argparse.SUPPRESS)
    options.add_argument("--data", help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.min_time is None:
        args.min_time = 0.01 if args.quick else 0.2
    if args.blocks is None:
        args.blocks = 3 if args.quick else 7
    if args.worker:
        worker(args.worker, args.data, args.min_time, args.blocks)
        return
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES if args.quick else SIZES)
    sections = args.only or ["compile", "startup", "sender", "preview"]
    out = [f"# benchmarks/run.py{' --quick' if args.quick else ''}", "", machine(), ""]
    raw: dict[str, Any] = {}
    for name in sections:
        print(f"{name} ...", file=sys.stderr)
        raw[name] = globals()[f"section_{name}"](args, out)
    section_targets(args, out, raw)
    print("\n".join(out))
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
