"""Many profiles at once: dicts or a JSON-lines export, streamed, with counts per condition
and a sample of the users who match."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from audience_dsl.errors import ValidationError
from audience_dsl.evaluator.explain import condition_text
from audience_dsl.evaluator.program import LEAF, build_program, custom_attributes_of
from audience_dsl.language import ast
from audience_dsl.semantics import Semantics
from audience_dsl.source import Span

# ---- preview --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeafCount:
    """How many of the previewed users one condition held for."""

    text: str
    passed: int
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Preview:
    """The result of running a rule over many users."""

    matched: int
    total: int
    sample: tuple[str, ...]
    leaves: tuple[LeafCount, ...]

    def __str__(self) -> str:
        share = f" ({100 * self.matched / self.total:.1f}%)" if self.total else ""
        lines = [f"{self.matched} of {self.total} users match{share}"]
        lines.extend(f"  {leaf.passed:>10}  {leaf.text}" for leaf in self.leaves)
        if self.sample:
            lines.append("sample: " + ", ".join(self.sample))
        return "\n".join(lines)


#: Distinct leaf-result patterns kept before they are folded into the counts.
_TALLY_LIMIT = 4096


def preview(
    rule: str | ast.Node | Mapping[str, Any],
    users: Iterable[Mapping[str, Any]] | str | os.PathLike[str],
    *,
    now: datetime | None = None,
    sample: int = 10,
    semantics: Semantics = Semantics(),
    engine: str = "python",
    table: str | None = None,
) -> Preview:
    """Run a rule over many users: how many match, which ones, and how often each condition held.

    ``users`` is an iterable of profiles, or the path of a JSON-lines file with one user
    per line (Braze's segment export), or of a Parquet export. Users are streamed: memory
    does not grow with their number. The sample holds the first ``sample`` matching
    users' ``external_id`` (else ``braze_id``, else their position).

    ``engine="duckdb"`` runs the same rule as SQL in embedded DuckDB (the ``sql`` extra)
    and gives the same answer; it also reads a DuckDB database file or connection, given
    the name of its ``table`` of users (docs/preview.md).
    """
    if engine == "duckdb":
        from audience_dsl.evaluator.sql.engine import preview_duckdb

        return preview_duckdb(
            rule, users, now=now, sample=sample, semantics=semantics, table=table
        )
    if engine != "python":
        raise ValidationError([("engine", f"expected 'python' or 'duckdb', not {engine!r}")])
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise ValidationError([("sample", "expected a whole number, 0 or more")])
    program = build_program(rule, now, semantics)
    leaves_of, decide = program.generated()
    n = len(program.predicates)
    counts = [0] * n
    matched = 0
    total = 0
    picked: list[str] = []
    tally: dict[tuple[bool, ...], int] = {}
    decided: dict[tuple[bool, ...], bool] = {}

    def fold() -> int:
        hits = 0
        for pattern, times in tally.items():
            for i, value in enumerate(pattern):
                if value:
                    counts[i] += times
            if decide(pattern):
                hits += times
        tally.clear()
        return hits

    for where, profile in _profiles(users):
        total += 1
        try:
            if type(profile) is dict:
                attrs = profile.get("custom_attributes")
                if attrs is None:
                    attrs = {}
                elif type(attrs) is not dict:
                    attrs = custom_attributes_of(profile)
            else:
                attrs = custom_attributes_of(profile)
            pattern = leaves_of(attrs, profile)
        except ValidationError as error:
            raise ValidationError(
                [(f"{where}.{path}", message) for path, message in error.problems]
            ) from None
        tally[pattern] = tally.get(pattern, 0) + 1
        if len(picked) < sample:
            hit = decided.get(pattern)
            if hit is None:
                hit = decided[pattern] = decide(pattern)
                if len(decided) > _TALLY_LIMIT:
                    decided.clear()
            if hit:
                picked.append(_identity(profile, where))
        if len(tally) > _TALLY_LIMIT:
            matched += fold()
    matched += fold()
    texts = [(condition_text(node, program.source, LEAF), node.span) for node in program.leaves]
    return Preview(
        matched,
        total,
        tuple(picked),
        tuple(
            LeafCount(text, count, span) for (text, span), count in zip(texts, counts, strict=True)
        ),
    )


def _identity(profile: Mapping[str, Any], where: str) -> str:
    for key in ("external_id", "braze_id"):
        value = profile.get(key)
        if value is not None and value != "":
            return str(value)
    return where


def _profiles(users: object) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(users, str | os.PathLike):
        path = os.fspath(users)
        if path.lower().endswith((".parquet", ".pq")):
            from audience_dsl.evaluator.sql.engine import parquet_rows

            yield from parquet_rows(path)
            return
        yield from read_lines(path)
        return
    if isinstance(users, Mapping) or not isinstance(users, Iterable):
        raise ValidationError([("users", "expected an iterable of profiles or a JSON-lines path")])
    for index, profile in enumerate(users):
        yield f"users[{index}]", profile


def read_lines(path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The profiles of a JSON-lines file with their places (``file:line``); a line that is
    not a JSON object is a :class:`ValidationError` naming it (the DuckDB engine uses this
    to name a broken line)."""
    loads = json.loads
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below, generator
    except OSError as exc:
        raise ValidationError([(path, f"cannot read the file: {exc.strerror or exc}")]) from exc
    with handle:
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    profile = loads(line)
                except (ValueError, RecursionError) as exc:
                    raise ValidationError(
                        [(f"{path}:{number}", f"not a JSON object: {exc}")]
                    ) from None
                if type(profile) is not dict:
                    raise ValidationError(
                        [(f"{path}:{number}", "each line must hold one JSON object")]
                    )
                yield f"{path}:{number}", profile
        except UnicodeDecodeError as exc:
            raise ValidationError([(path, f"not UTF-8 text: {exc}")]) from None
