"""The query: a rule's conditions joined as it is written, under ``SELECT * FROM table``."""

from __future__ import annotations

from collections.abc import Mapping
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


def compile_rule(
    rule: object, dialect: str, now: datetime | None, semantics: Semantics
) -> Compiled:
    if not isinstance(dialect, str) or dialect.lower() not in DIALECTS:
        raise SQLError(f"unknown SQL dialect {dialect!r}; choose one of: {', '.join(DIALECTS)}")
    require_sqlglot()
    if now is not None:
        check_now(now)
    program = build_program(rule, now or datetime.now(UTC), semantics)
    writer = Writer(dialect.lower(), now, semantics)
    e = writer.e
    leaves = tuple(
        Leaf(node, condition_text(node, program.source, LEAF), writer.leaf(node))
        for node in program.leaves
    )
    stack: list[exp.Expression] = []
    for instruction in program.code:
        if instruction.op == LEAF:
            stack.append(writer.paren(leaves[instruction.arg].condition.copy()))
        elif instruction.op == NOT:
            stack.append(e.Not(this=writer.paren(stack.pop())))
        else:
            n = instruction.arg
            parts = stack[len(stack) - n :]
            del stack[len(stack) - n :]
            joined = e.and_(*parts) if instruction.op == ALL else e.or_(*parts)
            stack.append(writer.paren(joined))
    (where,) = stack
    return Compiled(leaves, where)


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


def render(expression: exp.Expression, dialect: str) -> str:
    sqlglot = require_sqlglot()
    try:
        sql: str = expression.sql(
            dialect=DIALECTS[dialect], unsupported_level=sqlglot.ErrorLevel.RAISE
        )
    except RecursionError:
        raise SQLError("the rule is nested too deeply to be written as SQL") from None
    except sqlglot.errors.UnsupportedError as exc:
        raise SQLError(f"{dialect} cannot express part of this rule: {exc}") from None
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

    >>> print(to_sql("age >= 18", table="users")[:40])  # doctest: +SKIP
    SELECT * FROM users WHERE (CASE WHEN ...
    """
    if not isinstance(dialect, str) or dialect.lower() not in DIALECTS:
        raise SQLError(f"unknown SQL dialect {dialect!r}; choose one of: {', '.join(DIALECTS)}")
    compiled = compile_rule(rule, dialect, now, semantics)
    from sqlglot import exp as e

    query = e.select(e.Star()).from_(table_of(table, dialect)).where(compiled.where)
    return render(query, dialect.lower())
