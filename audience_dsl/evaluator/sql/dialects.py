"""Each comparison of a rule as a sqlglot expression, for one SQL dialect.

:class:`Writer` turns a leaf of a rule into a boolean SQL expression with exactly the
evaluator's meaning under a :class:`~audience_dsl.semantics.Semantics`: the missing,
wrong-type and present cells of each comparison become one ``CASE``. Keys, values and
patterns only ever become literals (or, for Redshift's SUPER, quoted identifiers)
built by sqlglot.

One module because :class:`Writer` is one class: every leaf is built from the same
per-dialect helpers (literals, JSON access and types, texts, times), and the DuckDB
preview's columns computed once per user (instants, the latest app use) are registered
on the same writer while it builds the leaves that read them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING

from audience_dsl.errors import SQLError
from audience_dsl.evaluator.predicates import days_of, expansion, instant_of, strings_of
from audience_dsl.evaluator.sql.forms import (
    ISO_CHECK,
    ISO_COMMON,
    ISO_PARTS,
    MDY,
    TYPE_NAMES,
    fold_table,
    only_group,
    pointer,
)
from audience_dsl.language import ast
from audience_dsl.language.ast import Comparison as C
from audience_dsl.semantics import Kind, Semantics, WrongType, kind_of

if TYPE_CHECKING:
    from sqlglot import exp

__all__ = ["UNREAD", "Leaf", "Writer"]

#: What the DuckDB preview reads, on a first pass, for a time text that only Python can
#: read (a timestamp no time text gives: DuckDB's cast reads "infinity", but no form
#: accepted before the fallback does).
UNREAD = "infinity"


@dataclass(frozen=True, slots=True)
class Leaf:
    node: ast.Node
    text: str
    condition: exp.Expression


class Writer:
    """Builds the SQL condition of every leaf of a rule, for one dialect."""

    def __init__(
        self, dialect: str, now: datetime | None, semantics: Semantics, *,
        precomputed: bool = False,
    ) -> None:  # fmt: skip
        from sqlglot import exp as e

        self.e = e
        self.dialect = dialect
        self.now = now
        self.sem = semantics
        self.types = TYPE_NAMES[dialect]
        #: DuckDB preview: each custom attribute's JSON value, type and text are columns
        #: ``attr_N``, ``attr_N_type``, ``attr_N_text`` computed once per user
        #: (see :func:`pointer`); ``attributes`` lists the names in column order.
        self.precomputed = precomputed
        self.attributes: list[str] = []
        #: DuckDB preview: columns computed once per user from the ones above (an
        #: attribute's instant, the latest app use), in the order they were first needed.
        self.derived: dict[str, exp.Expression] = {}
        #: DuckDB preview: for each derived time column, the texts (a list) that made it
        #: :data:`UNREAD` in a row where it is.
        self.unread_texts: dict[str, exp.Expression] = {}

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

    def attribute(self, name: str) -> exp.Expression:
        e, d = self.e, self.dialect
        attrs = self.col("custom_attributes")
        if self.precomputed:
            if name not in self.attributes:
                self.attributes.append(name)
            return self.col(f"attr_{self.attributes.index(name)}")
        if d == "duckdb":
            return self.fn("JSON_EXTRACT", attrs, e.Literal.string(pointer(name)))
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

    def _column_of(self, value: exp.Expression, suffix: str) -> exp.Expression | None:
        if self.precomputed and isinstance(value, self.e.Column):
            name = value.name
            if name.startswith("attr_") and name[5:].isdigit():
                return self.col(f"{name}_{suffix}")
        return None

    def json_type(self, value: exp.Expression) -> exp.Expression:
        known = self._column_of(value, "type")
        if known is not None:
            return known
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
        known = self._column_of(value, "text")
        if known is not None:
            return known
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
            # The members as JSON, from one reading of the array, against the wanted strings
            # written as JSON by the same writer (a member "5" is not the number 5).
            members = self.fn("JSON_EXTRACT", value.copy(), self.lit("$[*]"))
            forms = [self.fn("TO_JSON", self.lit(w)) for w in wanted]
            if len(forms) == 1:
                return self.fn("LIST_CONTAINS", members, forms[0])
            return self.fn("LIST_HAS_ANY", members, e.Array(expressions=forms))
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
        from audience_dsl.evaluator.sql import regex as sqlregex

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
        p = e.Literal.string(only_group(pattern, group))
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
        """The parts (never NULL here) joined, as one flat call: nesting costs recursion."""
        return self.e.Concat(expressions=list(parts), safe=True)

    def timestamp(self, text: exp.Expression) -> exp.Expression:
        """``text`` as a UTC timestamp without zone, or NULL when it is not a date-time."""
        e = self.e
        if self.dialect == "duckdb":
            # One regex match gives every part (a struct), bound once by a lambda.
            names = ["y", "mo", "d", "h", "mi", "s", "f", "z", "sg", "zh", "zm"]
            found = self.fn("REGEXP_EXTRACT", text.copy(), self.lit(ISO_PARTS),
                            e.Array(expressions=[self.lit(n) for n in names]))  # fmt: skip
            m = e.column("m")
            parts = [e.Dot(this=m.copy(), expression=e.to_identifier(n)) for n in names]
            body = self.iso_instant(parts)
            bound = self.fn("LIST_TRANSFORM", e.Array(expressions=[found]),
                            e.Lambda(this=body, expressions=[e.to_identifier("m")]))  # fmt: skip
            iso = self.fn("LIST_EXTRACT", bound, self.lit(1))
        else:
            iso = self.iso_instant([self.extract(text, ISO_PARTS, g) for g in range(1, 12)])
        m, d, y = (self.extract(text, MDY, g) for g in (1, 2, 3))
        mdy_text = self.concat(
            y, self.lit("-"), self.fn("LPAD", m, self.lit(2), self.lit("0")), self.lit("-"),
            self.fn("LPAD", d, self.lit(2), self.lit("0")), self.lit(" 00:00:00"),
        )  # fmt: skip
        mdy = self.cast(mdy_text, "TIMESTAMP", safe=True)
        mdy_sane = e.and_(
            self.full_match(text, MDY),
            e.Between(this=self.to_int(y), low=self.lit(1), high=self.lit(3000)),
        )
        whens = [(self.full_match(text, ISO_CHECK), iso), (mdy_sane, mdy)]
        if self.dialect == "duckdb":  # the common form, read by DuckDB's own cast
            cast = self.cast(text.copy(), "TIMESTAMP", safe=True)
            whens.insert(0, (self.full_match(text, ISO_COMMON), cast))
        other = self.other_time(text) if self.precomputed else e.null()
        return self.case(whens, other)

    def other_time(self, text: exp.Expression) -> exp.Expression:
        """DuckDB preview: a text in none of the forms above, read by Python.

        Python's ``datetime.fromisoformat`` reads rarer spellings too (week dates, offsets
        with seconds, fractions of an hour, ...), and which ones depends on the Python
        version. Every such text starts with an ASCII digit. The engine passes the texts
        it has read in Python as the parameters ``$other_texts`` and ``$other_micros``
        (microseconds since 1970 UTC, NULL when Python reads no time); a digit-led text
        not among them yet is :data:`UNREAD`, and the engine reads those and runs again.
        """
        e = self.e
        known = self.fn(
            "MAP", self.cast(e.Placeholder(this="other_texts"), "VARCHAR[]"),
            self.cast(e.Placeholder(this="other_micros"), "BIGINT[]"),
        )  # fmt: skip
        found = self.fn("MAKE_TIMESTAMP", self.fn("MAP_EXTRACT_VALUE", known, text.copy()))
        return self.case(
            [
                (self.fn("MAP_CONTAINS", known.copy(), text.copy()), found),
                (self.full_match(text, "^[0-9]"), self.unread()),
            ],
            e.null(),
        )

    def unread(self) -> exp.Expression:
        return self.cast(self.lit(UNREAD), "TIMESTAMP")

    def iso_instant(self, part: Sequence[exp.Expression]) -> exp.Expression:
        """The UTC instant of an ISO 8601 text already checked, from its eleven parts."""
        e = self.e
        year, month, day, hour, minute, second, fraction, _zone, sign, zh, zm = (
            p.copy() for p in part
        )

        def or_zero(value: exp.Expression) -> exp.Expression:
            return e.Coalesce(this=e.Nullif(this=value.copy(), expression=self.lit("")),
                              expressions=[self.lit("00")])  # fmt: skip

        first_six = self.fn("SUBSTR", self.concat(fraction, self.lit("")), self.lit(1), self.lit(6))
        micro = self.fn("RPAD", first_six, self.lit(6), self.lit("0"))
        local_text = self.concat(
            year.copy(), self.lit("-"), month, self.lit("-"), day, self.lit(" "), or_zero(hour),
            self.lit(":"), or_zero(minute), self.lit(":"), or_zero(second), self.lit("."), micro,
        )  # fmt: skip
        local = self.cast(local_text, "TIMESTAMP", safe=True)
        minutes = e.Add(
            this=e.Mul(this=self.to_int(or_zero(zh)), expression=self.lit(60)),
            expression=self.to_int(or_zero(zm)),
        )
        offset = e.Mul(
            this=self.case([(e.EQ(this=sign, expression=self.lit("-")), self.lit(-1))],
                           self.lit(1)),
            expression=self.paren(minutes.copy()),
        )  # fmt: skip
        sane = e.and_(
            e.Between(this=self.to_int(year), low=self.lit(1), high=self.lit(3000)),
            e.LT(this=self.to_int(or_zero(hour)), expression=self.lit(24)),
            e.LT(this=self.to_int(or_zero(minute)), expression=self.lit(60)),
            e.LT(this=self.to_int(or_zero(second)), expression=self.lit(60)),
            e.LT(this=minutes, expression=self.lit(1440)),
        )
        return self.case([(sane, self.minus_minutes(local, offset))], e.null())

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
            never = self.lit(self.sem.never_used_app_matches)
            comparison, moment = node.comparison, node.value
            return self.bind(
                self.latest_app(), "latest",
                lambda t: self.case([(e.Is(this=t.copy(), expression=e.null()), never)],
                                    self.window(comparison, moment, t)),
            )  # fmt: skip
        all_of, parts = expansion(node)
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
        if self.precomputed:
            return self.derive("latest_app", self.duckdb_latest_app)
        return self.duckdb_latest_app()

    def duckdb_latest_app(self) -> exp.Expression:
        """DuckDB: the latest instant among the ``last_used`` strings of ``apps``."""
        e = self.e
        apps = self.col("apps")
        # Every object element's `last_used` (a wildcard path skips other elements), as
        # text and as JSON type, each list from one reading of `apps`.
        path = self.lit("$[*].last_used")
        texts = self.fn("JSON_EXTRACT_STRING", apps.copy(), path.copy())
        types = self.fn("JSON_TYPE", apps.copy(), path)
        # The usual case: every time present has the export's form, checked by one regex
        # over them all (joined by commas, which the form never holds; a JSON null is left
        # out by the join, as Python skips it, and no other JSON value's text has the
        # form), and read by one cast of the list.
        body = ISO_COMMON[1:-1]
        all_usual = f"^(?:{body})(?:,(?:{body}))*$"
        usual = self.full_match(self.fn("ARRAY_TO_STRING", texts.copy(), self.lit(",")), all_usual)
        quick = self.fn("LIST_MAX", self.cast(texts.copy(), "TIMESTAMP[]", safe=True))
        # Otherwise the strings among them (by position in the type list), each read in full.
        text, index = e.to_identifier("text"), e.to_identifier("i")
        is_string = e.EQ(this=self.fn("LIST_EXTRACT", types, e.column("i")),
                         expression=self.lit("VARCHAR"))  # fmt: skip
        strings = self.fn("LIST_FILTER", texts.copy(),
                          e.Lambda(this=is_string, expressions=[text.copy(), index]))  # fmt: skip
        read = e.Lambda(this=self.timestamp(e.column("text")), expressions=[text.copy()])
        full = self.fn("LIST_MAX", self.fn("LIST_TRANSFORM", strings.copy(), read))
        if self.precomputed:
            unread = e.Lambda(
                this=e.EQ(this=self.timestamp(e.column("text")), expression=self.unread()),
                expressions=[text.copy()],
            )
            self.unread_texts["latest_app"] = self.fn("LIST_FILTER", strings, unread)
        # (Of anything but an array, the wildcard path finds nothing: no instant.)
        return self.case([(usual, quick)], full)

    def derive(self, name: str, build: Callable[[], exp.Expression]) -> exp.Expression:
        """DuckDB preview: ``build()`` as a column ``name``, computed once per user before
        the conditions (however many conditions read it)."""
        if name not in self.derived:
            self.derived[name] = build()
        return self.col(name)

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
            bound = self.instant(instant_of(comparison.value, value))
            strict = self.sem.strict_before_after
            if comparison is C.BEFORE:
                return (e.LT if strict else e.LTE)(this=t.copy(), expression=bound)
            return (e.GT if strict else e.GTE)(this=t.copy(), expression=bound)
        span = timedelta(days=days_of(comparison, value))
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

    def bind(
        self, value: exp.Expression, name: str, body: Callable[[exp.Expression], exp.Expression]
    ) -> exp.Expression:
        """``body`` over ``value`` computed once: in DuckDB a one-element list and a lambda
        (so a custom attribute's JSON is parsed once per leaf, not once per use)."""
        e = self.e
        if self.dialect != "duckdb" or isinstance(value, e.Column):
            return body(value)
        inner = body(e.column(name))
        mapped = self.fn("LIST_TRANSFORM", e.Array(expressions=[value]),
                         e.Lambda(this=inner, expressions=[e.to_identifier(name)]))  # fmt: skip
        return self.fn("LIST_EXTRACT", mapped, self.lit(1))

    def attribute_leaf(self, leaf: ast.Attribute) -> exp.Expression:
        if self.precomputed:
            return self.attribute_test(leaf, self.attribute(leaf.name))
        return self.bind(
            self.attribute(leaf.name), "attribute_value", lambda v: self.attribute_test(leaf, v)
        )

    def attribute_test(self, leaf: ast.Attribute, v: exp.Expression) -> exp.Expression:
        e, sem = self.e, self.sem
        comparison, value = leaf.comparison, leaf.value
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
        kind = kind_of(comparison, value)
        if kind is Kind.TIME:
            instant = self.timestamp(self.text(v))
            if self.precomputed and isinstance(v, e.Column):
                name = f"{v.name}_time"
                strings_only = self.case([(self.type_in(v, "string"), instant)], e.null())
                instant = self.derive(name, lambda: strings_only)
                self.unread_texts[name] = e.Array(expressions=[self.text(v)])
            test = self.bind(
                instant, "instant",
                lambda t: e.Coalesce(this=self.window(comparison, value, t),
                                     expressions=[self.lit(wrong)]),
            )  # fmt: skip
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
        self, leaf: ast.Attribute, v: exp.Expression, kind: Kind
    ) -> tuple[exp.Expression, exp.Expression]:
        e, sem = self.e, self.sem
        comparison, value = leaf.comparison, leaf.value
        if comparison in (C.MATCHES_REGEX, C.DOES_NOT_MATCH_REGEX):
            assert isinstance(value, str)
            hit = self.search(self.text(v), value)
            return self.type_in(v, "string"), hit if comparison is C.MATCHES_REGEX else e.Not(
                this=hit
            )
        if kind in (Kind.ARRAY, Kind.TEXT_OR_ARRAY):
            wanted = strings_of(comparison, value)
            in_array = self.array_has_string(v, wanted)
            if kind is Kind.ARRAY:
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
        if kind is Kind.BOOLEAN:
            op = e.EQ if comparison is C.EQUALS else e.NEQ
            return self.type_in(v, "boolean"), op(this=self.boolean(v), expression=self.lit(value))
        if kind is Kind.NUMBER:
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
        before, after = fold_table()
        for source, target in before:  # characters whose lowercase is longer than one
            text = self.fn("REPLACE", text, self.lit(source), self.lit(target))
        folded: exp.Expression = self.e.Lower(this=text)
        for source, target in after:
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

