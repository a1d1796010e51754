"""The query: a rule's conditions joined as it is written, under ``SELECT * FROM table``."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from audience_dsl.errors import SQLError
from audience_dsl.evaluator.explain import condition_text
from audience_dsl.evaluator.program import ALL, LEAF, NOT, build_program, check_now
from audience_dsl.evaluator.sql.dialects import Leaf, Writer
from audience_dsl.language import ast
from audience_dsl.semantics import Semantics

if TYPE_CHECKING:
    from sqlglot import exp

__all__ = [
    "DIALECTS",
    "INSTALL_HINT",
    "Compiled",
    "compile_rule",
    "join",
    "render",
    "require_sqlglot",
    "table_of",
    "to_sql",
]

#: The dialects :func:`to_sql` writes, and the sqlglot dialect that renders each.
DIALECTS: dict[str, str] = {
    "duckdb": "duckdb",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "postgres": "postgres",
    "spark": "spark",
    "databricks": "databricks",
    "redshift": "redshift",
}

INSTALL_HINT = 'install the SQL extra: pip install "audience-dsl[sql]"'


def require_sqlglot() -> Any:
    try:
        import sqlglot
        from sqlglot import exp as _exp
    except ImportError as exc:
        raise SQLError(f"SQL needs the sqlglot package ({exc}); {INSTALL_HINT}") from None
    del _exp
    return sqlglot


@dataclass(frozen=True, slots=True)
class Compiled:
    leaves: tuple[Leaf, ...]
    where: exp.Expression
    #: The rule's structure, post-order: (LEAF, leaf index), (NOT, 1), (ALL|ANY, children).
    code: tuple[tuple[int, int], ...]
    #: With ``precomputed``: the custom attributes read, in ``attr_N`` column order.
    attributes: tuple[str, ...] = ()
    #: With ``precomputed``: columns computed once per user from the table layout's
    #: (name, expression), which the conditions read.
    derived: tuple[tuple[str, exp.Expression], ...] = ()
    #: With ``precomputed``: derived time columns, each with its texts only Python reads.
    unread: tuple[tuple[str, exp.Expression], ...] = ()


def compile_rule(
    rule: object, dialect: str, now: datetime | None, semantics: Semantics, *,
    precomputed: bool = False,
) -> Compiled:  # fmt: skip
    if not isinstance(dialect, str) or dialect.lower() not in DIALECTS:
        raise SQLError(f"unknown SQL dialect {dialect!r}; choose one of: {', '.join(DIALECTS)}")
    require_sqlglot()
    if now is not None:
        check_now(now)
    program = build_program(rule, now or datetime.now(UTC), semantics)
    writer = Writer(dialect.lower(), now, semantics, precomputed=precomputed)
    leaves = tuple(
        Leaf(node, condition_text(node, program.source, LEAF), writer.leaf(node))
        for node in program.leaves
    )
    code = tuple((instruction.op, instruction.arg) for instruction in program.code)
    where = join(code, [leaf.condition for leaf in leaves])
    return Compiled(
        leaves, where, code, tuple(writer.attributes), tuple(writer.derived.items()),
        tuple(writer.unread_texts.items()),
    )


def join(code: Sequence[tuple[int, int]], leaves: Sequence[exp.Expression]) -> exp.Expression:
    """The rule's AND/OR/NOT structure (post-order ``code``) over its leaves' conditions."""
    from sqlglot import exp as e

    stack: list[exp.Expression] = []
    for op, arg in code:
        if op == LEAF:
            stack.append(e.Paren(this=leaves[arg].copy()))
        elif op == NOT:
            stack.append(e.Not(this=e.Paren(this=stack.pop())))
        else:
            parts = stack[len(stack) - arg :]
            del stack[len(stack) - arg :]
            joined = e.and_(*parts) if op == ALL else e.or_(*parts)
            stack.append(e.Paren(this=joined))
    (where,) = stack
    return where


def table_of(name: str, dialect: str) -> exp.Expression:
    from sqlglot import exp as e

    if not isinstance(name, str) or not name or any(not part for part in name.split(".")):
        raise SQLError(f"a table name is one to three dot-separated names, not {name!r}")
    parts = name.split(".")
    if len(parts) > 3:
        raise SQLError(f"a table name is one to three dot-separated names, not {name!r}")
    identifiers = [e.to_identifier(part) for part in parts]
    while len(identifiers) < 3:
        identifiers.insert(0, None)  # type: ignore[arg-type]
    catalog, db, table = identifiers
    return e.Table(this=table, db=db, catalog=catalog)


#: sqlglot writes SQL recursively; a time comparison or a case-insensitive `!=` nests a few
#: hundred calls, so rendering runs with this much room (and refuses beyond it).
_RENDER_DEPTH = 20_000


def render(expression: exp.Expression, dialect: str) -> str:
    """``expression`` as SQL text in ``dialect``; only our errors escape."""
    sqlglot = require_sqlglot()
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(limit, _RENDER_DEPTH))
        sql: str = expression.sql(
            dialect=DIALECTS[dialect], unsupported_level=sqlglot.ErrorLevel.RAISE
        )
    except RecursionError:
        raise SQLError("the rule is nested too deeply to be written as SQL") from None
    except sqlglot.errors.UnsupportedError as exc:
        raise SQLError(f"{dialect} cannot express part of this rule: {exc}") from None
    finally:
        sys.setrecursionlimit(limit)
    return sql


def to_sql(
    rule: str | ast.Node | Mapping[str, Any],
    *,
    dialect: str = "duckdb",
    table: str = "users",
    now: datetime | None = None,
    semantics: Semantics = Semantics(),
) -> str:
    """The rule as one ``SELECT *`` over ``table`` returning the matching users.

    ``rule`` is rule text, an AST or a Connected Audience object. ``now=None`` means the
    engine's current time; a given (time-zone aware) ``now`` is written as a literal, so
    answers are reproducible. The table's layout is in docs/preview.md.

    A stored time is read in the ISO 8601 and ``MM/dd/yyyy`` forms docs/preview.md lists;
    a rarer spelling that Python's ``fromisoformat`` also reads (a week date, an offset
    with seconds) is not a time in this query. ``preview(..., engine="duckdb")`` reads
    those too.

    >>> print(to_sql("age >= 18", table="users")[:40])  # doctest: +SKIP
    SELECT * FROM users WHERE (CASE WHEN ...
    """
    if not isinstance(dialect, str) or dialect.lower() not in DIALECTS:
        raise SQLError(f"unknown SQL dialect {dialect!r}; choose one of: {', '.join(DIALECTS)}")
    compiled = compile_rule(rule, dialect, now, semantics)
    from sqlglot import exp as e

    query = e.select(e.Star()).from_(table_of(table, dialect)).where(compiled.where)
    return render(query, dialect.lower())
