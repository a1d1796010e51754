"""Memory over many compiles that warn, each about a distinct value.

Python's warning registry keeps one entry per distinct message and line for ever; the
package keeps its own, bounded, so a long-running service stays flat. This prints the
resident memory and the size of the registries every 10,000 compiles.

    python benchmarks/bench_warnings.py            # 100,000 compiles
    python benchmarks/bench_warnings.py --quick    # 20,000
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings

import audience_dsl
from audience_dsl import errors


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    count = 20_000 if parser.parse_args().quick else 100_000
    warnings.simplefilter("default")
    warnings.showwarning = lambda *args, **kwargs: None  # shown, but not printed
    start = time.perf_counter()
    for i in range(count):
        audience_dsl.compile(f'`user.{i}` exists and v = "{{{{ {i} }}}}"')
        if (i + 1) % 10_000 == 0:
            registry = sum(len(r) for r in errors._REGISTRIES.values())
            module = len(globals().get("__warningregistry__", {}))
            print(f"{i + 1:>7} compiles  rss {rss_mb():6.1f} MB  package registry {registry:>5}"
                  f"  this module's registry {module}")  # fmt: skip
    print(f"{(time.perf_counter() - start) / count * 1e6:.0f} us a compile", file=sys.stderr)


if __name__ == "__main__":
    main()
