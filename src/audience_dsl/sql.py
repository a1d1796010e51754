"""A rule as SQL over a table of Braze export profiles, with the evaluator's exact meaning.

:func:`to_sql` builds one ``SELECT`` as a sqlglot expression tree and renders it for
DuckDB, Snowflake, BigQuery, Postgres, Spark/Databricks or Redshift. Rule names and
values only ever reach SQL as literals built by sqlglot (string literals, numbers, JSON
paths inside string literals), never by pasting text, so no attribute name or value can
change the query's shape.

The table has one row per user, in the shape of Braze's user export:

====================  ==================================================================
``external_id``       the user's id (any type; shown in previews)
``braze_id``          Braze's id
``custom_attributes`` a JSON object (the dialect's JSON type)
``push_subscribe``    ``opted_in`` / ``subscribed`` / ``unsubscribed`` or NULL (text)
``email_subscribe``   the same, for email
``apps``              a JSON array of objects, each with ``last_used`` (ISO 8601 text)
====================  ==================================================================

Every comparison follows :mod:`audience_dsl.evaluator` and its :class:`Semantics`
switches: missing (absent, null, ``""``, ``[]``), wrong-typed values, integers against
decimals (compared exactly), time windows, arrays, subscription states, several apps
and regexes (see :mod:`audience_dsl.sqlregex`). :func:`preview_duckdb` runs the same
conditions in embedded DuckDB.

Neither sqlglot nor duckdb is imported until a function here is called; without the
``sql`` extra the call raises :class:`SQLError` with the command to install it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from . import ast
from . import evaluator as ev
from .ast import Comparison as C
from .errors import SQLError, ValidationError
from .evaluator import Semantics, WrongType

if TYPE_CHECKING:
    from sqlglot import exp

__all__ = ["DIALECTS", "preview_duckdb", "to_sql"]

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

_INSTALL_HINT = 'install the SQL extra: pip install "audience-dsl[sql]"'


def _sqlglot() -> Any:
    try:
        import sqlglot
        from sqlglot import exp as _exp
    except ImportError as exc:
        raise SQLError(f"SQL needs the sqlglot package ({exc}); {_INSTALL_HINT}") from None
    del _exp
    return sqlglot


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:
        raise SQLError(
            f"the DuckDB engine needs the duckdb package ({exc}); {_INSTALL_HINT}"
        ) from None
    return duckdb


# ---- dialect building blocks --------------------------------------------------------------------

#: JSON type names of each dialect's type function, per kind of value.
_TYPE_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "duckdb": {
        "string": ("VARCHAR",), "integer": ("BIGINT", "UBIGINT", "HUGEINT"),
        "decimal": ("DOUBLE",), "boolean": ("BOOLEAN",), "array": ("ARRAY",),
        "object": ("OBJECT",), "null": ("NULL",),
    },
    "snowflake": {
        "string": ("VARCHAR",), "integer": ("INTEGER",), "decimal": ("DECIMAL", "DOUBLE"),
        "boolean": ("BOOLEAN",), "array": ("ARRAY",), "object": ("OBJECT",),
        "null": ("NULL_VALUE",),
    },
    "bigquery": {
        "string": ("string",), "integer": (), "decimal": ("number",), "boolean": ("boolean",),
        "array": ("array",), "object": ("object",), "null": ("null",),
    },
    "postgres": {
        "string": ("string",), "integer": (), "decimal": ("number",), "boolean": ("boolean",),
        "array": ("array",), "object": ("object",), "null": ("null",),
    },
    "redshift": {
        "string": ("string",), "integer": (), "decimal": ("number",), "boolean": ("boolean",),
        "array": ("array",), "object": ("object",), "null": ("null",),
    },
    "spark": {
        "string": ("STRING",), "integer": ("BIGINT",), "decimal": ("DOUBLE", "DECIMAL"),
        "boolean": ("BOOLEAN",), "array": ("ARRAY",), "object": ("OBJECT",), "null": ("VOID",),
    },
}  # fmt: skip
_TYPE_NAMES["databricks"] = _TYPE_NAMES["spark"]

#: The ISO 8601 forms read as times (a subset of Python's ``datetime.fromisoformat``):
#: ``YYYY-MM-DD`` or ``YYYYMMDD``, optionally one non-digit separator and a time
#: ``HH``, ``HH:MM``, ``HH:MM:SS[.f]``, ``HHMM``, ``HHMMSS[.f]``, then optionally an
#: offset ``Z``, ``±HH``, ``±HH:MM`` or ``±HHMM`` (one space may come before it, after a
#: time without a fraction).
_ISO_CHECK = (
    r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{8})(?:[^0-9](?:"
    r"(?:[0-9]{2}(?::[0-9]{2}(?::[0-9]{2})?)?|[0-9]{4}(?:[0-9]{2})?) ?"
    r"|(?:[0-9]{2}:[0-9]{2}:[0-9]{2}|[0-9]{6})[.,][0-9]+"
    r")(?:Z|[-+][0-9]{2}(?::?[0-9]{2})?)?)?$"
)
_ISO_PARTS = (
    r"^([0-9]{4})-?([0-9]{2})-?([0-9]{2})"
    r"(?:[^0-9]([0-9]{2}):?([0-9]{2})?:?([0-9]{2})?(?:[.,]([0-9]+))?"
    r" ?(Z|([-+])([0-9]{2}):?([0-9]{2})?)?)?$"
)
_MDY = r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$"


@dataclass(frozen=True, slots=True)
class _Leaf:
    node: ast.Node
    text: str
    condition: exp.Expression


class _Writer:
    """Builds the SQL condition of every leaf of a rule, for one dialect."""

    def __init__(self, dialect: str, now: datetime | None, semantics: Semantics) -> None:
        from sqlglot import exp as e

        self.e = e
        self.dialect = dialect
        self.now = now
        self.sem = semantics
        self.types = _TYPE_NAMES[dialect]

    # -- small constructors
    def lit(self, value: object) -> exp.Expression:
        e = self.e
        if value is None:
            return e.null()
        if isinstance(value, bool):
            return e.true() if value else e.false()
        if isinstance(value, int):
            return e.Literal.number(str(value))
        if isinstance(value, float):
            return e.Literal.number(repr(value))
        return e.Literal.string(str(value))

    def fn(self, name: str, *args: exp.Expression) -> exp.Expression:
        return self.e.Anonymous(this=name, expressions=list(args))

    def col(self, name: str) -> exp.Expression:
        return self.e.column(name)

    def cast(self, value: exp.Expression, to: str, *, safe: bool = False) -> exp.Expression:
        cls = self.e.TryCast if safe else self.e.Cast
        return cls(this=value, to=self.e.DataType.build(to, dialect=self.dialect))

    def case(
        self, whens: Sequence[tuple[exp.Expression, exp.Expression]], default: exp.Expression
    ) -> exp.Expression:
        out = self.e.Case()
        for condition, value in whens:
            out = out.when(condition, value)
        return out.else_(default)

    def paren(self, value: exp.Expression) -> exp.Expression:
        return self.e.Paren(this=value)

    # -- JSON access
    def attribute(self, name: str) -> exp.Expression:
        e, d = self.e, self.dialect
        attrs = self.col("custom_attributes")
        if d == "duckdb":
            pointer = "/" + name.replace("~", "~0").replace("/", "~1")
            return self.fn("JSON_EXTRACT", attrs, e.Literal.string(pointer))
        if d == "postgres":
            return self.fn("JSONB_EXTRACT_PATH", attrs, e.Literal.string(name))
        if d == "snowflake":
            return self.fn("GET", attrs, e.Literal.string(name))
        if d == "redshift":  # SUPER navigation; the quoted name is an identifier
            return e.Dot(this=attrs, expression=e.to_identifier(name, quoted=True))
        if d == "bigquery":  # the JSON subscript operator takes the key as a literal
            return e.Bracket(this=attrs, expressions=[e.Literal.string(name)])
        escaped = name.replace("\\", "\\\\").replace("'", "\\'")
        path = e.Literal.string(f"$['{escaped}']")
        return self.fn("VARIANT_GET", attrs, path, e.Literal.string("VARIANT"))

    def type_in(self, value: exp.Expression, *kinds: str) -> exp.Expression:
        names = [n for kind in kinds for n in self.types[kind]]
        kind = self.json_type(value)
        if not names:
            return self.e.false()
        if len(names) == 1:
            return self.e.EQ(this=kind, expression=self.lit(names[0]))
        return self.e.In(this=kind, expressions=[self.lit(n) for n in names])

    def json_type(self, value: exp.Expression) -> exp.Expression:
        d = self.dialect
        name = {
            "duckdb": "JSON_TYPE", "snowflake": "TYPEOF", "bigquery": "JSON_TYPE",
            "postgres": "JSONB_TYPEOF", "redshift": "JSON_TYPEOF",
        }.get(d)  # fmt: skip
        if name is None:  # spark, databricks: the variant's schema, first word
            schema = self.fn("SCHEMA_OF_VARIANT", value.copy())
            return self.fn("SPLIT_PART", schema, self.lit("<"), self.lit(1))
        return self.fn(name, value.copy())

    def text(self, value: exp.Expression) -> exp.Expression:
        d, e = self.dialect, self.e
        if d == "duckdb":
            return self.fn("JSON_EXTRACT_STRING", value.copy(), e.Literal.string("$"))
        if d == "postgres":
            return e.JSONBExtractScalar(this=value.copy(), expression=e.Literal.string("{}"))
        if d == "bigquery":
            return self.fn("JSON_VALUE", value.copy())
        if d in ("spark", "databricks"):
            return self.cast(value.copy(), "STRING")
        return self.cast(value.copy(), "VARCHAR")

    def number(self, value: exp.Expression, integer: bool) -> exp.Expression:
        d = self.dialect
        if d == "postgres":
            value = self.e.JSONBExtractScalar(
                this=value.copy(), expression=self.e.Literal.string("{}")
            )
        elif d == "bigquery":
            value = self.fn("JSON_VALUE", value.copy())
        big = {"duckdb": "HUGEINT", "postgres": "NUMERIC", "bigquery": "BIGNUMERIC"}.get(
            d, "DECIMAL(38, 0)"
        )
        return self.cast(value.copy(), big if integer else "DOUBLE")

    def boolean(self, value: exp.Expression) -> exp.Expression:
        if self.dialect == "postgres":
            value = self.e.JSONBExtractScalar(
                this=value.copy(), expression=self.e.Literal.string("{}")
            )
        elif self.dialect == "bigquery":
            return self.fn("BOOL", value.copy())
        return self.cast(value.copy(), "BOOLEAN")

    def array_length(self, value: exp.Expression) -> exp.Expression:
        name = {
            "duckdb": "JSON_ARRAY_LENGTH", "snowflake": "ARRAY_SIZE", "bigquery": "ARRAY_LENGTH",
            "postgres": "JSONB_ARRAY_LENGTH", "redshift": "GET_ARRAY_LENGTH",
        }.get(self.dialect, "ARRAY_SIZE")  # fmt: skip
        if self.dialect == "bigquery":
            return self.fn(name, self.fn("JSON_QUERY_ARRAY", value.copy()))
        if self.dialect in ("spark", "databricks"):
            return self.fn(name, self.cast(value.copy(), "ARRAY<VARIANT>"))
        return self.fn(name, value.copy())

    def array_has_string(self, value: exp.Expression, wanted: Sequence[str]) -> exp.Expression:
        """Some element of the JSON array ``value`` is a string in ``wanted``."""
        e = self.e
        item = e.to_identifier("item")
        element = e.column("item")
        test = e.and_(
            self.type_in(element, "string"),
            e.In(this=self.text(element), expressions=[self.lit(w) for w in wanted]),
        )
        d = self.dialect
        if d == "duckdb":
            elements = self.cast(value.copy(), "JSON[]")
            kept = self.fn("LIST_FILTER", elements, e.Lambda(this=test, expressions=[item]))
            return e.GT(this=self.fn("LEN", kept), expression=self.lit(0))
        if d in ("spark", "databricks", "snowflake"):
            elements = (
                self.cast(value.copy(), "ARRAY<VARIANT>") if d != "snowflake" else value.copy()
            )
            kept = self.fn("FILTER", elements, e.Lambda(this=test, expressions=[item]))
            return e.GT(this=self.fn("ARRAY_SIZE", kept), expression=self.lit(0))
        source = {
            "postgres": self.fn("JSONB_ARRAY_ELEMENTS", value.copy()),
            "bigquery": e.Unnest(expressions=[self.fn("JSON_QUERY_ARRAY", value.copy())]),
            "redshift": value.copy(),
        }[d]
        query = (
            e.select(self.lit(1)).from_(e.Table(this=source, alias=self.alias(item))).where(test)
        )
        return e.Exists(this=query)

    def alias(self, item: exp.Identifier) -> exp.TableAlias:
        """``AS t(item)`` for a set-returning function, ``AS item`` for an unnested array."""
        if self.dialect == "postgres":
            return self.e.TableAlias(this=self.e.to_identifier("t"), columns=[item])
        return self.e.TableAlias(this=item.copy())

    def search(self, text: exp.Expression, pattern: str) -> exp.Expression:
        from . import sqlregex

        e, d = self.e, self.dialect
        flavor = {
            "duckdb": sqlregex.RE2, "bigquery": sqlregex.RE2, "spark": sqlregex.JAVA,
            "databricks": sqlregex.JAVA, "postgres": sqlregex.ARE,
        }.get(d)  # fmt: skip
        if flavor is None:
            raise SQLError(
                f"regexes are not written for {d}: its POSIX engine cannot be given Braze's "
                "meaning exactly; filter with another comparison, or use duckdb, bigquery, "
                "postgres, spark or databricks"
            )
        written = e.Literal.string(sqlregex.translate(pattern, flavor))
        if d == "duckdb":
            return self.fn("REGEXP_MATCHES", text, written)
        if d == "bigquery":
            return self.fn("REGEXP_CONTAINS", text, written)
        if d == "postgres":
            return e.RegexpLike(this=text, expression=written)
        return e.RegexpLike(this=text, expression=written)

    def extract(self, text: exp.Expression, pattern: str, group: int) -> exp.Expression:
        """Group ``group`` of ``pattern`` in ``text`` ('' when it took no part)."""
        e, d = self.e, self.dialect
        p = e.Literal.string(_only_group(pattern, group))
        if d == "snowflake":
            found = self.fn("REGEXP_SUBSTR", text.copy(), p, self.lit(1), self.lit(1),
                            self.lit("e"), self.lit(1))  # fmt: skip
        elif d in ("postgres", "redshift"):
            found = (
                self.fn("SUBSTRING", text.copy(), p)
                if d == "postgres"
                else self.fn(
                    "REGEXP_SUBSTR", text.copy(), p, self.lit(1), self.lit(1), self.lit("e")
                )
            )
        elif d == "bigquery":
            found = self.fn("REGEXP_EXTRACT", text.copy(), p)
        else:
            found = self.fn("REGEXP_EXTRACT", text.copy(), p, self.lit(1))
        return e.Coalesce(this=found, expressions=[self.lit("")])

    def full_match(self, text: exp.Expression, pattern: str) -> exp.Expression:
        e, d = self.e, self.dialect
        p = e.Literal.string(pattern)
        if d == "duckdb":
            return self.fn("REGEXP_MATCHES", text.copy(), p)
        if d == "bigquery":
            return self.fn("REGEXP_CONTAINS", text.copy(), p)
        if d == "snowflake":
            return e.GT(this=self.fn("REGEXP_INSTR", text.copy(), p), expression=self.lit(0))
        return e.RegexpLike(this=text.copy(), expression=p)

    def to_int(self, text: exp.Expression) -> exp.Expression:
        return self.cast(text, "INT")

    def concat(self, *parts: exp.Expression) -> exp.Expression:
        return (
            self.e.DPipe(this=parts[0], expression=self.concat(*parts[1:]))
            if len(parts) > 1
            else parts[0]
        )

    def timestamp(self, text: exp.Expression) -> exp.Expression:
        """``text`` as a UTC timestamp without zone, or NULL when it is not a date-time."""
        e = self.e
        part = [self.extract(text, _ISO_PARTS, g) for g in range(1, 12)]
        year, month, day, hour, minute, second, fraction, _zone, sign, zh, zm = part

        def or_zero(value: exp.Expression) -> exp.Expression:
            return e.Coalesce(this=e.Nullif(this=value, expression=self.lit("")),
                              expressions=[self.lit("00")])  # fmt: skip

        first_six = self.fn("SUBSTR", self.concat(fraction, self.lit("")), self.lit(1), self.lit(6))
        micro = self.fn("RPAD", first_six, self.lit(6), self.lit("0"))
        local_text = self.concat(
            year, self.lit("-"), month, self.lit("-"), day, self.lit(" "), or_zero(hour),
            self.lit(":"), or_zero(minute), self.lit(":"), or_zero(second), self.lit("."), micro,
        )  # fmt: skip
        local = self.cast(local_text, "TIMESTAMP", safe=True)
        offset = e.Mul(
            this=self.case([(e.EQ(this=sign, expression=self.lit("-")), self.lit(-1))],
                           self.lit(1)),
            expression=self.paren(e.Add(
                this=e.Mul(this=self.to_int(or_zero(zh)), expression=self.lit(60)),
                expression=self.to_int(or_zero(zm)),
            )),
        )  # fmt: skip
        sane = e.and_(
            self.full_match(text, _ISO_CHECK),
            e.Between(this=self.to_int(year), low=self.lit(1), high=self.lit(3000)),
            e.LT(this=self.to_int(or_zero(hour)), expression=self.lit(24)),
            e.LT(this=self.to_int(or_zero(minute)), expression=self.lit(60)),
            e.LT(this=self.to_int(or_zero(second)), expression=self.lit(60)),
            e.LT(
                this=e.Add(this=e.Mul(this=self.to_int(or_zero(zh)), expression=self.lit(60)),
                           expression=self.to_int(or_zero(zm))),
                expression=self.lit(1440),
            ),
        )  # fmt: skip
        iso = self.minus_minutes(local, offset)
        m, d, y = (self.extract(text, _MDY, g) for g in (1, 2, 3))
        mdy_text = self.concat(
            y, self.lit("-"), self.fn("LPAD", m, self.lit(2), self.lit("0")), self.lit("-"),
            self.fn("LPAD", d, self.lit(2), self.lit("0")), self.lit(" 00:00:00"),
        )  # fmt: skip
        mdy = self.cast(mdy_text, "TIMESTAMP", safe=True)
        mdy_sane = e.and_(
            self.full_match(text, _MDY),
            e.Between(this=self.to_int(y), low=self.lit(1), high=self.lit(3000)),
        )
        return self.case([(sane, iso), (mdy_sane, mdy)], e.null())

    def minus_minutes(self, value: exp.Expression, minutes: exp.Expression) -> exp.Expression:
        e = self.e
        return e.TimestampAdd(
            this=value, expression=e.Neg(this=self.paren(minutes)), unit=e.var("MINUTE")
        )

    def instant(self, moment: datetime) -> exp.Expression:
        utc = moment.astimezone(UTC).replace(tzinfo=None)
        return self.cast(self.lit(utc.isoformat(sep=" ", timespec="microseconds")), "TIMESTAMP")

    def now_shifted(self, delta: timedelta) -> exp.Expression:
        """``now + delta`` as a UTC timestamp."""
        e = self.e
        if self.now is not None:
            return self.instant(self.now + delta)
        current = self.cast(
            e.AtTimeZone(this=e.CurrentTimestamp(), zone=self.lit("UTC")), "TIMESTAMP"
        )
        micro = delta // timedelta(microseconds=1)
        if micro == 0:
            return current
        return e.TimestampAdd(this=current, expression=self.lit(micro), unit=e.var("MICROSECOND"))

    # -- leaves
    def leaf(self, node: ast.Node) -> exp.Expression:
        e = self.e
        if isinstance(node, ast.Attribute):
            return self.attribute_leaf(node)
        if isinstance(node, ast.Subscription):
            state = node.state.value if isinstance(node.state, ast.State) else str(node.state)
            accepted = [state]
            if self.sem.subscribed_includes_opted_in and state == ast.State.SUBSCRIBED.value:
                accepted.append(ast.State.OPTED_IN.value)
            current = e.Coalesce(
                this=self.col(f"{node.channel.value}_subscribe"),
                expressions=[self.lit(ast.State.SUBSCRIBED.value)],
            )
            inside = e.In(this=current, expressions=[self.lit(s) for s in accepted])
            return inside if node.comparison is C.IS else e.Not(this=self.paren(inside))
        if isinstance(node, ast.LastUsedApp):
            latest = self.latest_app()
            test = self.window(node.comparison, node.value, latest)
            never = self.lit(self.sem.never_used_app_matches)
            return self.case([(e.Is(this=latest.copy(), expression=e.null()), never)], test)
        all_of, parts = ev._expansion(node)
        conditions = [self.paren(self.attribute_leaf(part)) for part in parts]
        joined = e.and_(*conditions) if all_of else e.or_(*conditions)
        return self.paren(joined)

    def latest_app(self) -> exp.Expression:
        e, d = self.e, self.dialect
        apps = self.col("apps")
        if d != "duckdb":
            item = e.to_identifier("app")
            app = e.column("app")
            used = self.app_used(app)
            if d in ("postgres", "bigquery", "redshift"):
                source = {
                    "postgres": self.fn("JSONB_ARRAY_ELEMENTS", apps),
                    "bigquery": e.Unnest(expressions=[self.fn("JSON_QUERY_ARRAY", apps)]),
                    "redshift": apps,
                }[d]
                return e.Subquery(
                    this=e.select(e.Max(this=used)).from_(
                        e.Table(this=source, alias=self.alias(item))
                    )
                )
            elements = apps if d == "snowflake" else self.cast(apps, "ARRAY<VARIANT>")
            times = self.fn("TRANSFORM", elements, e.Lambda(this=used, expressions=[item]))
            return self.fn("ARRAY_MAX", times)
        app = e.column("app")
        used = self.app_used(app)
        elements = self.cast(apps, "JSON[]")
        times = self.fn(
            "LIST_TRANSFORM", elements, e.Lambda(this=used, expressions=[e.to_identifier("app")])
        )
        is_list = e.EQ(this=self.fn("JSON_TYPE", apps.copy()), expression=self.lit("ARRAY"))
        return self.case([(is_list, self.fn("LIST_MAX", times))], e.null())

    def app_used(self, app: exp.Expression) -> exp.Expression:
        e, d = self.e, self.dialect
        if d == "duckdb":
            value = self.fn("JSON_EXTRACT", app, self.lit("$.last_used"))
        elif d == "postgres":
            value = self.fn("JSONB_EXTRACT_PATH", app, self.lit("last_used"))
        elif d == "bigquery":
            value = self.fn("JSON_QUERY", app, self.lit("$.last_used"))
        elif d == "snowflake":
            value = self.fn("GET", app, self.lit("last_used"))
        elif d == "redshift":
            value = e.Dot(this=app, expression=e.to_identifier("last_used", quoted=True))
        else:
            value = self.fn("VARIANT_GET", app, self.lit("$.last_used"), self.lit("VARIANT"))
        good = e.and_(self.type_in(app, "object"), self.type_in(value, "string"))
        return self.case([(good, self.timestamp(self.text(value)))], e.null())

    def window(self, comparison: C, value: object, t: exp.Expression) -> exp.Expression:
        """The test a time comparison makes on a present UTC timestamp ``t``."""
        e = self.e
        if comparison in (C.BEFORE, C.AFTER):
            bound = self.instant(ev._instant(comparison.value, value))
            strict = self.sem.strict_before_after
            if comparison is C.BEFORE:
                return (e.LT if strict else e.LTE)(this=t.copy(), expression=bound)
            return (e.GT if strict else e.GTE)(this=t.copy(), expression=bound)
        span = timedelta(days=ev._days(comparison, value))
        inclusive = self.sem.day_boundary_inclusive
        now = self.now_shifted(timedelta(0))
        if comparison is C.LESS_THAN_X_DAYS_AGO:
            low = self.now_shifted(-span)
            first = (e.LTE if inclusive else e.LT)(this=low, expression=t.copy())
            return self.paren(e.and_(first, e.LTE(this=t.copy(), expression=now)))
        if comparison is C.GREATER_THAN_X_DAYS_AGO:
            edge = self.now_shifted(-span)
            return (e.LTE if inclusive else e.LT)(this=t.copy(), expression=edge)
        if comparison is C.LESS_THAN_X_DAYS_IN_THE_FUTURE:
            high = self.now_shifted(span)
            last = (e.LTE if inclusive else e.LT)(this=t.copy(), expression=high)
            return self.paren(e.and_(e.LTE(this=now, expression=t.copy()), last))
        edge = self.now_shifted(span)
        return (e.GTE if inclusive else e.GT)(this=t.copy(), expression=edge)

    def attribute_leaf(self, leaf: ast.Attribute) -> exp.Expression:
        e, sem = self.e, self.sem
        name, comparison, value = leaf.name, leaf.comparison, leaf.value
        v = self.attribute(name)
        blank = self.paren(e.or_(
            e.Is(this=v.copy(), expression=e.null()),
            self.type_in(v, "null"),
            self.paren(e.and_(self.type_in(v, "string"),
                              e.EQ(this=self.text(v), expression=self.lit("")))),
            self.paren(e.and_(self.type_in(v, "array"),
                              e.EQ(this=self.array_length(v), expression=self.lit(0)))),
        ))  # fmt: skip
        if comparison is C.EXISTS:
            return e.Not(this=blank)
        if comparison is C.DOES_NOT_EXIST:
            return blank
        missing = sem.missing_matches(comparison, value)
        wrong = missing if sem.wrong_type is WrongType.AS_MISSING else False
        kind = ev._kind(comparison, value)
        if kind is ev._Kind.TIME:
            t = self.timestamp(self.text(v))
            test = e.Coalesce(this=self.window(comparison, value, t), expressions=[self.lit(wrong)])
            return self.case(
                [
                    (blank, self.lit(missing)),
                    (e.Not(this=self.type_in(v, "string")), self.lit(wrong)),
                ],
                test,
            )
        accepts, test = self.typed_test(leaf, v, kind)
        return self.case([(blank, self.lit(missing)), (accepts, test)], self.lit(wrong))

    def typed_test(
        self, leaf: ast.Attribute, v: exp.Expression, kind: ev._Kind
    ) -> tuple[exp.Expression, exp.Expression]:
        e, sem = self.e, self.sem
        comparison, value = leaf.comparison, leaf.value
        if comparison in (C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX):
            assert isinstance(value, str)
            hit = self.search(self.text(v), value)
            return self.type_in(v, "string"), hit if comparison is C.MATCHES_REGEX else e.Not(
                this=hit
            )
        if kind in (ev._Kind.ARRAY, ev._Kind.TEXT_OR_ARRAY):
            wanted = ev._strings(comparison, value)
            in_array = self.array_has_string(v, wanted)
            if kind is ev._Kind.ARRAY:
                accepts, hit = self.type_in(v, "array"), in_array
            else:
                accepts = self.type_in(v, "string", "array")
                as_text = e.and_(
                    self.type_in(v, "string"),
                    e.In(this=self.text(v), expressions=[self.lit(w) for w in wanted]),
                )
                hit = self.case([(self.type_in(v, "array"), in_array)], as_text)
            positive = comparison in (C.INCLUDES_VALUE, C.IS_ANY_OF)
            return accepts, hit if positive else e.Not(this=self.paren(hit))
        if kind is ev._Kind.BOOLEAN:
            op = e.EQ if comparison is C.EQUALS else e.NEQ
            return self.type_in(v, "boolean"), op(this=self.boolean(v), expression=self.lit(value))
        if kind is ev._Kind.NUMBER:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise SQLError(f"`{comparison}` compares numbers")
            return self.type_in(v, "integer", "decimal"), self.number_test(comparison, value, v)
        assert isinstance(value, str)
        text = self.text(v)
        if comparison is C.EQUALS:
            test: exp.Expression = e.EQ(this=text, expression=self.lit(value))
        elif sem.string_not_equal_case_sensitive:
            test = e.NEQ(this=text, expression=self.lit(value))
        else:
            test = e.NEQ(this=self.casefold(text), expression=self.lit(value.casefold()))
        return self.type_in(v, "string"), test

    def casefold(self, text: exp.Expression) -> exp.Expression:
        """Python's ``str.casefold`` in SQL: ``lower`` then the full case foldings that differ."""
        folded: exp.Expression = self.e.Lower(this=text)
        for source, target in _fold_table():
            folded = self.fn("REPLACE", folded, self.lit(source), self.lit(target))
        return folded

    def number_test(self, comparison: C, number: int | float, v: exp.Expression) -> exp.Expression:
        e = self.e
        ops = {
            C.EQUALS: e.EQ, C.NOT_EQUAL: e.NEQ, C.GREATER_THAN: e.GT,
            C.GREATER_THAN_OR_EQUAL_TO: e.GTE, C.LESS_THAN: e.LT, C.LESS_THAN_OR_EQUAL_TO: e.LTE,
        }  # fmt: skip
        op = ops[comparison]
        if isinstance(number, float) and not math.isfinite(number):
            raise SQLError(f"`{comparison}` cannot compare with {number!r} in SQL")
        # Stored decimals compare as doubles, as Python compares floats.
        as_double = op(this=self.number(v, False), expression=self.lit(float(number)))
        if abs(number) > 2**53:
            raise SQLError(
                f"the number {number!r} is beyond the exactly representable integers of a "
                "SQL double; compare with a number below 2**53"
            )
        # Stored integers compare exactly: a decimal bound becomes the equivalent integer one.
        whole = self.number(v, True)
        exact = Fraction(number)
        if exact.denominator == 1:
            as_int: exp.Expression = op(this=whole, expression=self.lit(int(exact)))
        elif comparison is C.EQUALS:
            as_int = e.false()
        elif comparison is C.NOT_EQUAL:
            as_int = e.true()
        elif comparison in (C.GREATER_THAN, C.LESS_THAN_OR_EQUAL_TO):
            as_int = op(this=whole, expression=self.lit(math.floor(exact)))
        else:
            as_int = op(this=whole, expression=self.lit(math.ceil(exact)))
        return self.case([(self.type_in(v, "integer"), as_int)], as_double)


def _only_group(pattern: str, group: int) -> str:
    """``pattern`` with every capturing group but number ``group`` made non-capturing."""
    out: list[str] = []
    seen = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "(" and not pattern.startswith("(?", i):
            seen += 1
            out.append("(" if seen == group else "(?:")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


_FOLDS: tuple[tuple[str, str], ...] | None = None


def _fold_table() -> tuple[tuple[str, str], ...]:
    """Characters whose ``casefold()`` differs from their ``lower()`` (after lowering)."""
    global _FOLDS
    if _FOLDS is None:
        pairs: dict[str, str] = {}
        for code in range(0x110000):
            ch = chr(code)
            if 0xD800 <= code <= 0xDFFF:
                continue
            low = ch.lower()
            if ch.casefold() != low and len(low) == 1:
                pairs[low] = low.casefold()
        _FOLDS = tuple(sorted(pairs.items()))
    return _FOLDS


# ---- the query ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Compiled:
    leaves: tuple[_Leaf, ...]
    where: exp.Expression


def _compile(rule: object, dialect: str, now: datetime | None, semantics: Semantics) -> _Compiled:
    if not isinstance(dialect, str) or dialect.lower() not in DIALECTS:
        raise SQLError(f"unknown SQL dialect {dialect!r}; choose one of: {', '.join(DIALECTS)}")
    _sqlglot()
    if now is not None:
        ev._check_now(now)
    program = ev._build(rule, now or datetime.now(UTC), semantics)
    writer = _Writer(dialect.lower(), now, semantics)
    e = writer.e
    leaves = tuple(
        _Leaf(node, ev._text(node, program.source, ev._LEAF), writer.leaf(node))
        for node in program.leaves
    )
    stack: list[exp.Expression] = []
    for instruction in program.code:
        if instruction.op == ev._LEAF:
            stack.append(writer.paren(leaves[instruction.arg].condition.copy()))
        elif instruction.op == ev._NOT:
            stack.append(e.Not(this=writer.paren(stack.pop())))
        else:
            n = instruction.arg
            parts = stack[len(stack) - n :]
            del stack[len(stack) - n :]
            joined = e.and_(*parts) if instruction.op == ev._ALL else e.or_(*parts)
            stack.append(writer.paren(joined))
    (where,) = stack
    return _Compiled(leaves, where)


def _table(name: str, dialect: str) -> exp.Expression:
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


def _render(expression: exp.Expression, dialect: str) -> str:
    sqlglot = _sqlglot()
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
    semantics: Semantics = Semantics(),  # noqa: B008 - frozen, so sharing it is safe
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
    compiled = _compile(rule, dialect, now, semantics)
    from sqlglot import exp as e

    query = e.select(e.Star()).from_(_table(table, dialect)).where(compiled.where)
    return _render(query, dialect.lower())


# ---- preview in DuckDB --------------------------------------------------------------------

_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_DB_SUFFIXES = (".duckdb", ".db", ".ddb")
_COLUMNS = ("external_id", "braze_id", "custom_attributes", "push_subscribe", "email_subscribe",
            "apps")  # fmt: skip


def _literal_sql(value: str) -> str:
    from sqlglot import exp as e

    return str(e.Literal.string(value).sql("duckdb"))


def _normalized(connection: Any, relation: str) -> str:
    """A SELECT giving ``relation``'s rows in the documented layout (JSON columns as JSON)."""
    from sqlglot import exp as e

    described = {row[0]: str(row[1]).upper() for row in connection.execute(
        f"DESCRIBE SELECT * FROM {relation}").fetchall()}  # fmt: skip
    if (
        described.get("json") == "JSON" and "custom_attributes" not in described
    ):  # one object per row
        profile = "json"
        parts = []
        for column in _COLUMNS:
            path = _literal_sql("$." + column)
            parts.append(f"json_extract({profile}, {path}) AS {column}_json")
        return f"SELECT json_type({profile}) AS profile_type, {', '.join(parts)} FROM {relation}"
    parts = ["'OBJECT' AS profile_type"]
    for column in _COLUMNS:
        quoted = e.to_identifier(column, quoted=True).sql("duckdb")
        kind = described.get(column)
        if kind is None:
            parts.append(f"CAST(NULL AS JSON) AS {column}_json")
        elif kind == "JSON":
            parts.append(f"{quoted} AS {column}_json")
        elif kind == "VARCHAR" and column in ("custom_attributes", "apps"):
            parts.append(f"json({quoted}) AS {column}_json")
        else:
            parts.append(f"to_json({quoted}) AS {column}_json")
    return f"SELECT {', '.join(parts)} FROM {relation}"


def _layout(normalized: str) -> str:
    """The documented table layout over the normalized JSON columns."""
    subscribe = [
        f"CASE WHEN json_type({c}_json) = 'VARCHAR' THEN json_extract_string({c}_json, '$') END"
        f" AS {c}"
        for c in ("push_subscribe", "email_subscribe")
    ]
    return (
        "SELECT profile_type, external_id_json, braze_id_json, push_subscribe_json, "
        "email_subscribe_json, custom_attributes_json AS custom_attributes, "
        f"apps_json AS apps, {', '.join(subscribe)} FROM ({normalized})"
    )


def _source(connection: Any, users: object, table: str | None) -> tuple[str, str]:
    """(a SELECT over the users, a name for messages)."""
    if isinstance(users, str | os.PathLike):
        path = os.fspath(users)
        lowered = path.lower()
        if not os.path.exists(path):
            raise ValidationError([(path, "cannot read the file: it does not exist")])
        literal = _literal_sql(path)
        if lowered.endswith(_PARQUET_SUFFIXES):
            return f"read_parquet({literal})", path
        if lowered.endswith(_DB_SUFFIXES):
            if not table:
                raise ValidationError([("table", f"name the table of users in {path}")])
            connection.execute(f"ATTACH {literal} AS users_db (READ_ONLY)")
            return "users_db." + str(_table(table, "duckdb").sql("duckdb")), f"{path}:{table}"
        return (
            f"read_json_objects({literal}, format='newline_delimited')",
            path,
        )
    if table is not None and users is None:
        return str(_table(table, "duckdb").sql("duckdb")), table
    raise ValidationError(
        [("users", "the duckdb engine reads a JSON-lines, Parquet or DuckDB file path")]
    )


def _connection_for(users: object) -> tuple[Any, bool]:
    duckdb = _duckdb()
    if isinstance(users, duckdb.DuckDBPyConnection):
        return users, False
    return duckdb.connect(), True


def preview_duckdb(
    rule: str | ast.Node | Mapping[str, Any],
    users: object,
    *,
    now: datetime,
    sample: int = 10,
    semantics: Semantics = Semantics(),  # noqa: B008 - frozen, so sharing it is safe
    table: str | None = None,
) -> ev.Preview:
    """:func:`audience_dsl.preview` in embedded DuckDB: the same :class:`Preview`.

    ``users`` is a JSON-lines export (one user object a line), a Parquet file with the
    table layout's columns, a DuckDB database file with ``table``, a DuckDB connection
    with ``table``, or an iterable of profiles (written to a temporary JSON-lines file).
    """
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise ValidationError([("sample", "expected a whole number, 0 or more")])
    compiled = _compile(rule, "duckdb", now, semantics)
    duckdb = _duckdb()
    if not isinstance(users, str | os.PathLike | duckdb.DuckDBPyConnection):
        if isinstance(users, Mapping) or not isinstance(users, Iterable):
            raise ValidationError([("users", "expected an iterable of profiles or a file path")])
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "users.jsonl")
            _write_lines(users, path)
            return _preview(compiled, path, sample, None, iterable=True)
    return _preview(compiled, users, sample, table, iterable=False)


def _preview(
    compiled: _Compiled, users: object, sample: int, table: str | None, *, iterable: bool
) -> ev.Preview:
    duckdb = _duckdb()
    connection, owned = _connection_for(users)
    try:
        source, where = _source(connection, None if not owned else users, table)
        return _run(connection, source, where, compiled, sample, iterable)
    except duckdb.Error as exc:
        raise SQLError(f"DuckDB could not read {users!r}: {exc}") from None
    finally:
        if owned:
            connection.close()


def _write_lines(users: Iterable[Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for index, profile in enumerate(users):
            if not isinstance(profile, Mapping):
                raise ValidationError(
                    [(f"users[{index}]", f"a profile is a JSON object, not {ev._json(profile)}")]
                )
            try:
                handle.write(json.dumps(profile, ensure_ascii=False, allow_nan=False) + "\n")
            except (TypeError, ValueError) as exc:
                raise ValidationError([(f"users[{index}]", f"not JSON: {exc}")]) from None


def _run(
    connection: Any, source: str, where: str, compiled: _Compiled, sample: int, iterable: bool
) -> ev.Preview:
    from sqlglot import exp as e

    layout = f"({_layout(_normalized(connection, source))}) AS users"
    has = {type(leaf.node) for leaf in compiled.leaves}
    channels = {
        leaf.node.channel.value
        for leaf in compiled.leaves
        if isinstance(leaf.node, ast.Subscription)
    }
    checks = [
        ("a profile is a JSON object", "profile_type <> 'OBJECT'"),
        ("custom_attributes must be an object",
         "coalesce(json_type(custom_attributes), 'NULL') NOT IN ('NULL', 'OBJECT')"),
    ]  # fmt: skip
    for channel in sorted(channels):
        column = f"{channel}_subscribe_json"
        checks.append((
            f"{channel}_subscribe must be opted_in, subscribed or unsubscribed",
            f"coalesce(json_type({column}), 'NULL') <> 'NULL' AND "
            f"coalesce({channel}_subscribe, '') NOT IN ('opted_in', 'subscribed', 'unsubscribed')",
        ))  # fmt: skip
    if ast.LastUsedApp in has:
        checks.append(("apps must be a list of apps",
                       "coalesce(json_type(apps), 'NULL') NOT IN ('NULL', 'ARRAY')"))  # fmt: skip
    counts = ["count(*)", f"count(*) FILTER (WHERE {compiled.where.sql('duckdb')})"]
    counts += [
        f"count(*) FILTER (WHERE {leaf.condition.sql('duckdb')})" for leaf in compiled.leaves
    ]
    counts += [f"count(*) FILTER (WHERE {condition})" for _, condition in checks]
    row = connection.execute(f"SELECT {', '.join(counts)} FROM {layout}").fetchone()
    total, matched = int(row[0]), int(row[1])
    leaf_counts = [int(x) for x in row[2 : 2 + len(compiled.leaves)]]
    problems = row[2 + len(compiled.leaves) :]
    for (message, condition), bad in zip(checks, problems, strict=True):
        if bad:
            first = connection.execute(
                f"SELECT external_id_json FROM {layout} WHERE {condition} LIMIT 1"
            ).fetchone()
            who = f" (the first is {first[0]})" if first and first[0] is not None else ""
            raise ValidationError([(where, f"{bad} profiles break a rule: {message}{who}")])
    picked: list[str] = []
    if sample and matched:
        rows = connection.execute(
            f"SELECT external_id_json, braze_id_json FROM {layout} "
            f"WHERE {compiled.where.sql('duckdb')} LIMIT {int(sample)}"
        ).fetchall()
        missing_ids = []
        for index, (external, braze) in enumerate(rows):
            name = _identity(external, braze)
            picked.append(name or "")
            if name is None:
                missing_ids.append(index)
        if missing_ids:
            _fill_positions(connection, layout, compiled, where, picked, missing_ids, sample,
                            iterable)  # fmt: skip
    del e
    return ev.Preview(
        matched,
        total,
        tuple(picked),
        tuple(ev.LeafCount(leaf.text, count, leaf.node.span)
              for leaf, count in zip(compiled.leaves, leaf_counts, strict=True)),
    )  # fmt: skip


def _identity(external: str | None, braze: str | None) -> str | None:
    for raw in (external, braze):
        if raw is None:
            continue
        value = json.loads(raw)
        if value is not None and value != "":
            return _python_str(value)
    return None


def _python_str(value: object) -> str:
    return str(value)


def _fill_positions(
    connection: Any, layout: str, compiled: _Compiled, where: str, picked: list[str],
    missing: list[int], sample: int, iterable: bool,
) -> None:  # fmt: skip
    """Users without ids are named by their position, as the Python engine names them."""
    rows = connection.execute(
        f"SELECT n FROM (SELECT row_number() OVER () AS n, * FROM {layout}) "
        f"WHERE {compiled.where.sql('duckdb')} ORDER BY n LIMIT {int(sample)}"
    ).fetchall()
    ordinals = [int(r[0]) for r in rows]
    if iterable:
        for i in missing:
            picked[i] = f"users[{ordinals[i] - 1}]"
        return
    lines = _line_numbers(where, {ordinals[i] for i in missing}) if os.path.isfile(where) else {}
    for i in missing:
        ordinal = ordinals[i]
        picked[i] = f"{where}:{lines.get(ordinal, ordinal)}"


def _line_numbers(path: str, ordinals: set[int]) -> dict[int, int]:
    """Line numbers of the given objects (1-based, blank lines skipped) of a JSON-lines file."""
    found: dict[int, int] = {}
    if path.lower().endswith(_PARQUET_SUFFIXES):
        return {n: n for n in ordinals}
    count = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            count += 1
            if count in ordinals:
                found[count] = number
                if len(found) == len(ordinals):
                    break
    return found


def parquet_rows(path: str, batch: int = 4096) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Profiles of a Parquet export, streamed through DuckDB, for the Python engine."""
    duckdb = _duckdb()
    connection = duckdb.connect()
    try:
        normalized = _normalized(connection, f"read_parquet({_literal_sql(path)})")
        cursor = connection.execute(
            "SELECT "
            + ", ".join(f"CAST({c}_json AS VARCHAR)" for c in _COLUMNS)
            + f" FROM ({normalized})"
        )
        number = 0
        while True:
            rows = cursor.fetchmany(batch)
            if not rows:
                break
            for row in rows:
                number += 1
                profile = {
                    column: json.loads(value)
                    for column, value in zip(_COLUMNS, row, strict=True)
                    if value is not None
                }
                yield f"{path}:{number}", profile
    except duckdb.Error as exc:
        raise SQLError(f"DuckDB could not read {path}: {exc}") from None
    finally:
        connection.close()
