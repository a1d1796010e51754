"""Throughput and memory of ``preview`` on synthetic users.

    python benchmarks/bench_preview.py              # 200,000 users in memory, 1,000,000 from a file
    python benchmarks/bench_preview.py --users 50000 --file-users 100000

Prints users per second for a five-condition rule over profile dicts, then streams a
JSON-lines file (Braze's segment export shape) and prints the time, the peak of Python
allocations during the preview (tracemalloc) and the process's peak resident size.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from audience_dsl.evaluator import preview

NOW = datetime(2024, 1, 15, 12, tzinfo=UTC)
RULE = (
    'eye_color = "blue" and age between 18 and 65 and last_purchase < 30 days'
    ' and (push is opted_in or not (tags contains "churned"))'
)


def users(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """``count`` synthetic profiles in Braze's export shape, a few attributes each."""
    rng = random.Random(seed)
    colors = ["blue", "green", "brown", "Blue", ""]
    tags = ["vip", "churned", "beta", "new"]
    for i in range(count):
        attrs: dict[str, Any] = {"eye_color": rng.choice(colors), "age": rng.randint(10, 80)}
        if rng.random() < 0.8:
            purchase = NOW - timedelta(hours=rng.randint(0, 24 * 90))
            attrs["last_purchase"] = purchase.strftime("%Y-%m-%dT%H:%M:%SZ")
        if rng.random() < 0.5:
            attrs["tags"] = rng.sample(tags, rng.randint(1, 3))
        yield {
            "external_id": f"user-{i}",
            "braze_id": f"{i:024x}",
            "custom_attributes": attrs,
            "push_subscribe": rng.choice(["opted_in", "subscribed", "unsubscribed"]),
            "email_subscribe": "subscribed",
            "apps": [{"name": "App", "last_used": "2024-01-14T10:00:00.000Z"}],
        }


def bench_memory(count: int) -> None:
    data = list(users(count))
    preview(RULE, data[:1000], now=NOW)  # warm up
    start = time.perf_counter()
    result = preview(RULE, data, now=NOW)
    elapsed = time.perf_counter() - start
    print(f"in memory: {count:,} users in {elapsed:.2f} s = {count / elapsed:,.0f} users/s")
    print(f"  {result.matched:,} match")


def bench_file(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for user in users(count, seed=2):
                handle.write(json.dumps(user) + "\n")
        size = path.stat().st_size
        start = time.perf_counter()
        result = preview(RULE, path, now=NOW)
        elapsed = time.perf_counter() - start
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
        print(
            f"file: {count:,} users ({size / 1e6:,.0f} MB) in {elapsed:.2f} s = "
            f"{count / elapsed:,.0f} users/s (JSON parsing included)"
        )
        print(f"  {result.matched:,} match; peak RSS of the process {rss * scale / 1e6:,.1f} MB")
        tracemalloc.start()
        preview(RULE, path, now=NOW)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  tracemalloc peak during the file preview: {peak / 1e6:,.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--file-users", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"rule: {RULE}")
    bench_memory(args.users)
    bench_file(args.file_users)


if __name__ == "__main__":
    main()
