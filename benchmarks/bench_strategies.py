"""Generation speed of the Hypothesis strategies: examples per second, per strategy.

Each strategy is run under ``@given`` with the health checks off, no database and no
shrinking, for a fixed number of examples; the rate is examples divided by wall time,
the best of a few runs. The test body does nothing, so the number is the cost of
drawing. The schema has 30 attributes (six of each type), as a real workspace might.

    python benchmarks/bench_strategies.py            # 200 examples each, best of 3
    python benchmarks/bench_strategies.py --quick    # 50 examples each, one run
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from audience_dsl import Schema
from audience_dsl import strategies as s

TYPES = ["String", "Numeric", "Boolean", "Time", "Array"]
SCHEMA = Schema({f"attr_{i}": TYPES[i % 5] for i in range(30)})
RULE = (
    'attr_0 = "gold" and (attr_1 between 18 and 65 or attr_3 < 7 days) and not attr_4 contains "x"'
)

STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "schemas()": s.schemas(),
    "rules(schema)": s.rules(schema=SCHEMA),
    "rules(schema, max_leaves=3)": s.rules(schema=SCHEMA, max_leaves=3),
    "rule_texts(schema)": s.rule_texts(schema=SCHEMA),
    "audiences(schema)": s.audiences(schema=SCHEMA),
    "profiles(schema)": s.profiles(SCHEMA),
    "profiles(schema, near=rule)": s.profiles(SCHEMA, near=RULE),
    "lists(profiles(schema), 20)": st.lists(s.profiles(SCHEMA), min_size=20, max_size=20),
    "matching(rule)": s.matching(RULE, schema=SCHEMA),
    "not_matching(rule)": s.not_matching(RULE, schema=SCHEMA),
    "rules_with_profiles(schema, max_leaves=3)": s.rules_with_profiles(schema=SCHEMA, max_leaves=3),
    "invalid_rule_texts(schema)": s.invalid_rule_texts(schema=SCHEMA, max_leaves=4),
    "trigger_send_bodies(schema)": s.trigger_send_bodies(schema=SCHEMA),
}


def rate(strategy: st.SearchStrategy[Any], examples: int) -> float:
    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def run(value: Any) -> None:
        pass

    start = time.perf_counter()
    run()
    return examples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 examples each, one run")
    args = parser.parse_args()
    examples, runs = (50, 1) if args.quick else (200, 3)
    print(f"{'strategy':44} examples/s")
    for name, strategy in STRATEGIES.items():
        best = max(rate(strategy, examples) for _ in range(runs))
        print(f"{name:44} {best:10.0f}")


if __name__ == "__main__":
    main()
