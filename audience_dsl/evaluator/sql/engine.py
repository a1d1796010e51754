"""``preview(..., engine="duckdb")``: the rule's conditions counted in embedded DuckDB.

The users (a JSON-lines export, a Parquet file, a DuckDB table, or profiles written to a
temporary JSON-lines file) are read by DuckDB's streaming scans and brought to the
table layout of :mod:`audience_dsl.evaluator.sql`; one aggregate query counts every
user, the matches and each condition (``count(*) FILTER (WHERE ...)``), and a second
query with ``LIMIT`` takes the first matching users in file order.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from audience_dsl.errors import SQLError, ValidationError
from audience_dsl.evaluator.predicates import parse_time, show_json
from audience_dsl.evaluator.preview import LeafCount, Preview
from audience_dsl.evaluator.program import check_now
from audience_dsl.evaluator.sql.dialects import UNREAD
from audience_dsl.evaluator.sql.forms import pointer
from audience_dsl.evaluator.sql.query import (
    INSTALL_HINT,
    Compiled,
    compile_rule,
    join,
    render,
    table_of,
)
from audience_dsl.language import ast
from audience_dsl.semantics import Semantics

__all__ = ["parquet_rows", "preview_duckdb"]


def require_duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:
        raise SQLError(
            f"the DuckDB engine needs the duckdb package ({exc}); {INSTALL_HINT}"
        ) from None
    return duckdb


_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_DB_SUFFIXES = (".duckdb", ".db", ".ddb")
_COLUMNS = ("external_id", "braze_id", "custom_attributes", "push_subscribe", "email_subscribe",
            "apps")  # fmt: skip


def _literal_sql(value: str) -> str:
    from sqlglot import exp as e

    return str(e.Literal.string(value).sql("duckdb"))


def _normalized(
    connection: Any, relation: str, attributes: Sequence[str], *, typed: bool = False
) -> str:
    """A SELECT giving ``relation``'s rows as JSON columns, plus ``attr_N``: the JSON value of
    each custom attribute in ``attributes`` (each source parsed once per row).

    ``typed``: ``relation`` is DuckDB's typed JSON reader with :func:`_typed_columns`, whose
    ``custom_attributes`` is a struct of the attributes read (or NULL).
    """
    from sqlglot import exp as e

    described = {row[0]: str(row[1]).upper() for row in connection.execute(
        f"DESCRIBE SELECT * FROM {relation}").fetchall()}  # fmt: skip
    if typed and attributes:
        parts = ["'OBJECT' AS profile_type"]
        parts += [f"{column} AS {column}_json" for column in _COLUMNS
                  if column != "custom_attributes"]  # fmt: skip
        # The reader has checked that it is an object (or null): that is all the checks ask.
        parts.append("CASE WHEN custom_attributes IS NOT NULL THEN JSON '{}' END"
                     " AS custom_attributes_json")  # fmt: skip
        parts += [f"struct_extract_at(custom_attributes, {i + 1}) AS attr_{i}"
                  for i in range(len(attributes))]  # fmt: skip
        return f"SELECT {', '.join(parts)} FROM {relation}"
    pointers = ["/custom_attributes" + pointer(name) for name in attributes]
    if described.get("json") == "JSON" and "custom_attributes" not in described:
        # One object a line: one parse of the line for every field and attribute read.
        paths = ", ".join(_literal_sql(p) for p in [*("$." + c for c in _COLUMNS), *pointers])
        names = [f"{column}_json" for column in _COLUMNS]
        names += [f"attr_{i}" for i in range(len(attributes))]
        parts = [f"fields[{i}] AS {name}" for i, name in enumerate(names, 1)]
        return (
            # The scan has checked the syntax: a line starting with `{` is an object.
            "SELECT CASE WHEN starts_with(ltrim(CAST(json AS VARCHAR), "
            "' ' || chr(9) || chr(10) || chr(13)), '{') "
            f"THEN 'OBJECT' ELSE 'OTHER' END AS profile_type, {', '.join(parts)} FROM "
            f"(SELECT json, json_extract(json, [{paths}]) AS fields FROM {relation})"
        )
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
    inner = f"SELECT {', '.join(parts)} FROM {relation}"
    if not attributes:
        return inner
    found = ", ".join(_literal_sql(pointer(name)) for name in attributes)
    values = ", ".join(f"fields[{i}] AS attr_{i - 1}" for i in range(1, len(attributes) + 1))
    return (
        f"SELECT * EXCLUDE (fields), {values} FROM (SELECT *, "
        f"json_extract(custom_attributes_json, [{found}]) AS fields FROM ({inner}))"
    )


def _tables_of(connection: Any, database: str) -> list[str]:
    """The tables and views of an attached database, as ``name`` (schema main) or
    ``schema.name``."""
    rows = connection.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
        "UNION SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = ? "
        "ORDER BY 1, 2",
        [database, database],
    ).fetchall()
    return [name if schema == "main" else f"{schema}.{name}" for schema, name in rows]


#: The JSON type a value's first character decides (the value is valid JSON text).
_FIRST = {'"': "VARCHAR", "[": "ARRAY", "{": "OBJECT", "t": "BOOLEAN", "f": "BOOLEAN",
          "n": "NULL"}  # fmt: skip


def _json_type(column: str) -> str:
    """``json_type(column)``, read from the first character when it decides the type (a
    number's type, or text that does not start with its value, takes the parser): a parse
    saved for each value."""
    cases = " ".join(f"WHEN {_literal_sql(c)} THEN '{t}'" for c, t in _FIRST.items())
    return f"CASE left({column}, 1) {cases} ELSE json_type({column}) END"


def _layout(normalized: str, attributes: Sequence[str]) -> str:
    """The documented table layout over the normalized JSON columns, with each custom
    attribute's JSON value, type and text (``attr_N``, ``attr_N_type``, ``attr_N_text``;
    the text only of a string, the only values whose text a condition reads)."""
    subscribe = [
        f"CASE WHEN {_json_type(c + '_json')} = 'VARCHAR' "
        f"THEN json_extract_string({c}_json, '$') END AS {c}"
        for c in ("push_subscribe", "email_subscribe")
    ]
    values = "".join(
        f", attr_{i}, {_json_type(f'attr_{i}')} AS attr_{i}_type" for i in range(len(attributes))
    )
    typed = (
        "SELECT profile_type, external_id_json, braze_id_json, push_subscribe_json, "
        "email_subscribe_json, custom_attributes_json AS custom_attributes, "
        f"apps_json AS apps, {', '.join(subscribe)}{values} FROM ({normalized})"
    )
    if not attributes:
        return typed
    texts = ", ".join(
        f"CASE WHEN attr_{i}_type = 'VARCHAR' THEN json_extract_string(attr_{i}, '$') END"
        f" AS attr_{i}_text"
        for i in range(len(attributes))
    )
    return f"SELECT *, {texts} FROM ({typed})"


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
            connection.execute(f"ATTACH {literal} AS users_db (READ_ONLY)")
            tables = _tables_of(connection, "users_db")
            known = ", ".join(tables[:10]) or "none"
            if not table:
                problem = f"{path} is a DuckDB database: say which table holds the users"
                raise ValidationError([("table", f"{problem} (its tables: {known})")])
            *schema, name = table.split(".")[-2:]
            wanted = name if schema in ([], ["main"]) else f"{schema[0]}.{name}"
            if wanted.lower() not in {t.lower() for t in tables}:
                problem = f"{path} has no table {table!r}"
                raise ValidationError([("table", f"{problem} (its tables: {known})")])
            return "users_db." + str(table_of(table, "duckdb").sql("duckdb")), f"{path}:{table}"
        return (
            f"read_json_objects({literal}, format='newline_delimited')",
            path,
        )
    if table is not None and users is None:
        return str(table_of(table, "duckdb").sql("duckdb")), table
    raise ValidationError(
        [("users", "the duckdb engine reads a JSON-lines, Parquet or DuckDB file path")]
    )


def _typed_columns(attributes: Sequence[str]) -> str:
    """The options of DuckDB's typed JSON reader for an export: each field as JSON, and
    ``custom_attributes`` as a struct of just the attributes read (each as JSON), so that
    the reader takes them out of the line as it parses it. Struct fields match keys
    exactly; an object the struct cannot take (not an object, a key twice, two names
    that differ only in case) is an error, which sends the file to the other reader."""
    from sqlglot import exp as e

    types = dict.fromkeys(_COLUMNS, "JSON")
    if attributes:
        fields = [
            e.ColumnDef(this=e.to_identifier(name, quoted=True),
                        kind=e.DataType.build("JSON", dialect="duckdb"))
            for name in attributes
        ]  # fmt: skip
        struct = e.DataType(this=e.DataType.Type.STRUCT, expressions=fields, nested=True)
        types["custom_attributes"] = struct.sql("duckdb")
    columns = ", ".join(f"{_literal_sql(c)}: {_literal_sql(t)}" for c, t in types.items())
    return f"columns={{{columns}}}, records=true, ignore_errors=false"


def _connection_for(users: object) -> tuple[Any, bool]:
    duckdb = require_duckdb()
    if isinstance(users, duckdb.DuckDBPyConnection):
        return users, False
    return _quiet(duckdb.connect()), True


def _quiet(connection: Any) -> Any:
    """A connection of ours draws no progress bar on the terminal of a library call."""
    connection.execute("SET enable_progress_bar = false")
    return connection


def preview_duckdb(
    rule: str | ast.Node | Mapping[str, Any],
    users: object,
    *,
    now: datetime | None,
    sample: int = 10,
    semantics: Semantics = Semantics(),
    table: str | None = None,
) -> Preview:
    """:func:`audience_dsl.preview` in embedded DuckDB: the same :class:`Preview`.

    ``users`` is a JSON-lines export (one user object a line), a Parquet file with the
    table layout's columns, a DuckDB database file with ``table``, a DuckDB connection
    with ``table``, or an iterable of profiles (written to a temporary JSON-lines file).
    """
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise ValidationError([("sample", "expected a whole number, 0 or more")])
    check_now(now)  # a preview always has an explicit instant (None is refused here)
    compiled = compile_rule(rule, "duckdb", now, semantics, precomputed=True)
    duckdb = require_duckdb()
    if not isinstance(users, str | os.PathLike | duckdb.DuckDBPyConnection):
        if isinstance(users, Mapping) or not isinstance(users, Iterable):
            raise ValidationError([("users", "expected an iterable of profiles or a file path")])
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "users.jsonl")
            _write_lines(users, path)
            return _preview(compiled, path, sample, None, iterable=True)
    return _preview(compiled, users, sample, table, iterable=False)


def _preview(
    compiled: Compiled, users: object, sample: int, table: str | None, *, iterable: bool
) -> Preview:
    duckdb = require_duckdb()
    connection, owned = _connection_for(users)
    try:
        source, where = _source(connection, None if not owned else users, table)
        if source.startswith("read_json_objects("):
            # The typed reader is faster; a line it cannot take (not an object, a field of
            # another shape) sends the file to the one-object-a-line reader, which says
            # exactly what is wrong.
            options = _typed_columns(compiled.attributes)
            typed = source.replace("read_json_objects(", "read_json(", 1).replace(
                "format='newline_delimited')", f"format='newline_delimited', {options})"
            )
            try:
                return _run(connection, typed, where, compiled, sample, iterable, typed=True)
            except duckdb.Error:
                pass
        try:
            return _run(connection, source, where, compiled, sample, iterable, typed=False)
        except duckdb.Error:
            if source.startswith("read_json_objects("):
                _find_bad_line(where, iterable)  # says which line is not a JSON object
            raise
    except duckdb.Error as exc:
        raise SQLError(f"DuckDB could not read {users!r}: {exc}") from None
    finally:
        if owned:
            connection.close()


def _find_bad_line(path: str, iterable: bool) -> None:
    """Raise the Python engine's error for the first line of ``path`` that is not a JSON
    object, if there is one (DuckDB's own message counts lines differently)."""
    from audience_dsl.evaluator.preview import read_lines

    try:
        for _ in read_lines(path):
            pass
    except ValidationError as error:
        if not iterable:
            raise
        # Profiles written for the engine: name the profile, not the temporary file.
        problems = []
        for place, message in error.problems:
            number = place.rpartition(":")[2]
            problems.append((f"users[{int(number) - 1}]" if number.isdigit() else "users",
                             message))  # fmt: skip
        raise ValidationError(problems) from None


def _write_lines(users: Iterable[Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for index, profile in enumerate(users):
            if not isinstance(profile, Mapping):
                raise ValidationError(
                    [(f"users[{index}]", f"a profile is a JSON object, not {show_json(profile)}")]
                )
            try:
                handle.write(json.dumps(profile, ensure_ascii=False, allow_nan=False) + "\n")
            except (TypeError, ValueError) as exc:
                raise ValidationError([(f"users[{index}]", f"not JSON: {exc}")]) from None


def _run(
    connection: Any, source: str, where: str, compiled: Compiled, sample: int, iterable: bool,
    *, typed: bool,
) -> Preview:  # fmt: skip
    from sqlglot import exp as e

    attributes = compiled.attributes
    layout = _layout(_normalized(connection, source, attributes, typed=typed), attributes)
    if compiled.derived:
        extra = ", ".join(f"{render(value, 'duckdb')} AS {n}" for n, value in compiled.derived)
        layout = f"SELECT *, {extra} FROM ({layout})"
    layout = f"({layout}) AS users"
    has = {type(leaf.node) for leaf in compiled.leaves}
    channels = {
        leaf.node.channel.value
        for leaf in compiled.leaves
        if isinstance(leaf.node, ast.Subscription)
    }
    # The export's shape, as the Python engine checks it: (field, message, condition, the
    # column whose value the message shows as `{value}`).
    checks: list[tuple[str, str | Callable[[Any], str], str, str | None]] = [
        ("", "each line must hold one JSON object", "profile_type <> 'OBJECT'", None),
        ("custom_attributes", "expected an object, found {value}",
         f"coalesce({_json_type('custom_attributes')}, 'NULL') NOT IN ('NULL', 'OBJECT')",
         "custom_attributes"),
    ]  # fmt: skip
    if not typed and attributes:
        # JSON paths read the first of two equal keys, Python's json the last: refused.
        checks.append(("custom_attributes", _twice_message(attributes),
                       _twice_condition(attributes), "custom_attributes"))  # fmt: skip
    for channel in sorted(channels):
        column = f"{channel}_subscribe_json"
        checks.append((
            f"{channel}_subscribe",
            "{value} is not a subscription state (opted_in, subscribed or unsubscribed)",
            f"coalesce(json_type({column}), 'NULL') <> 'NULL' AND "
            f"coalesce({channel}_subscribe, '') NOT IN ('opted_in', 'subscribed', 'unsubscribed')",
            column,
        ))  # fmt: skip
    if ast.LastUsedApp in has:
        not_list = f"coalesce({_json_type('apps')}, 'NULL') NOT IN ('NULL', 'ARRAY')"
        checks.append(("apps", "expected a list of apps, found {value}", not_list, "apps"))
        # As for custom attributes: an app with `last_used` twice is refused. Only apps
        # whose text names it twice, or holds an escape, are parsed for their keys.
        maybe = r"""regexp_matches(apps, '\\|"last_used"[\s\S]*"last_used"')"""
        uses = "len(list_filter(flatten(json_keys(apps, '$[*]')), lambda k: k = 'last_used'))"
        values = "len(json_extract_string(apps, '$[*].last_used'))"
        checks.append((
            "apps", 'an app has the key "last_used" twice, and JSON readers disagree on '
            "which value counts: keep one",
            f"CASE WHEN {_json_type('apps')} = 'ARRAY' AND {maybe} THEN {uses} > {values} END",
            None,
        ))  # fmt: skip
    # Each condition is computed once per user, as a column; the rule joins the columns.
    columns = [f"{render(leaf.condition, 'duckdb')} AS leaf_{i}"
               for i, leaf in enumerate(compiled.leaves)]  # fmt: skip
    columns += [f"{check[2]} AS bad_{j}" for j, check in enumerate(checks)]
    unread_marker = f"CAST({_literal_sql(UNREAD)} AS TIMESTAMP)"
    columns += [f"{name} = {unread_marker} AS unread_{k}"
                for k, (name, _) in enumerate(compiled.unread)]  # fmt: skip
    flagged = (
        f"(SELECT external_id_json, braze_id_json, {', '.join(columns)} FROM {layout}) AS flagged"
    )
    rule = join(compiled.code, [e.column(f"leaf_{i}") for i in range(len(compiled.leaves))])
    matches = render(rule, "duckdb")
    counts = ["count(*)", f"count(*) FILTER (WHERE {matches})"]
    counts += [f"count(*) FILTER (WHERE leaf_{i})" for i in range(len(compiled.leaves))]
    counts += [f"count(*) FILTER (WHERE bad_{j})" for j in range(len(checks))]
    counts += [f"count(*) FILTER (WHERE unread_{k})" for k in range(len(compiled.unread))]
    count_query = f"SELECT {', '.join(counts)} FROM {flagged}"
    # The texts read by Python (none yet), when the rule reads times at all.
    params: dict[str, list[Any]] | None = (
        {"other_texts": [], "other_micros": []} if compiled.unread else None
    )
    row = connection.execute(count_query, params).fetchone()
    if any(row[len(row) - len(compiled.unread) :]):
        # Times in spellings only Python reads: read them in Python, then count again.
        params = _read_other_times(connection, layout, compiled, unread_marker)
        row = connection.execute(count_query, params).fetchone()
        if any(row[len(row) - len(compiled.unread) :]):  # pragma: no cover - a bug
            raise SQLError("the DuckDB engine could not read every time; please report it")
    row = row[: len(row) - len(compiled.unread)]
    total, matched = int(row[0]), int(row[1])
    leaf_counts = [int(x) for x in row[2 : 2 + len(compiled.leaves)]]
    problems = row[2 + len(compiled.leaves) :]
    for (field, message, condition, shown), bad in zip(checks, problems, strict=True):
        if bad:
            n, raw = connection.execute(
                f"SELECT n, {shown or 'NULL'} FROM (SELECT row_number() OVER () AS n, * "
                f"FROM {layout}) WHERE {condition} ORDER BY n LIMIT 1",
                params,
            ).fetchone()
            if callable(message):
                text = message(raw)
            else:
                value = show_json(json.loads(raw)) if raw is not None else "null"
                text = message.replace("{value}", value)
            if bad > 1:
                text += f" ({bad} profiles break this rule; this is the first)"
            place = _place(where, int(n), iterable)
            raise ValidationError([(f"{place}.{field}" if field else place, text)])
    picked: list[str] = []
    if sample and matched:
        rows = connection.execute(
            f"SELECT external_id_json, braze_id_json FROM {flagged} "
            f"WHERE {matches} LIMIT {int(sample)}",
            params,
        ).fetchall()
        missing_ids: list[int] = []
        for index, (external, braze) in enumerate(rows):
            name = _identity(external, braze)
            picked.append(name or "")
            if name is None:
                missing_ids.append(index)
        if missing_ids:
            _fill_positions(connection, layout, compiled, where, picked, missing_ids, sample,
                            iterable, params)  # fmt: skip
    return Preview(
        matched,
        total,
        tuple(picked),
        tuple(LeafCount(leaf.text, count, leaf.node.span)
              for leaf, count in zip(compiled.leaves, leaf_counts, strict=True)),
    )  # fmt: skip


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _read_other_times(
    connection: Any, layout: str, compiled: Compiled, marker: str
) -> dict[str, list[Any]]:
    """The time texts DuckDB left to Python, each read by the evaluator's own
    :func:`parse_time`: the parameters of the second count."""
    parts = [
        f"SELECT unnest({render(texts, 'duckdb')}) AS text FROM {layout} WHERE {name} = {marker}"
        for name, texts in compiled.unread
    ]
    empty: dict[str, list[Any]] = {"other_texts": [], "other_micros": []}
    found = connection.execute(" UNION ".join(parts), empty).fetchall()
    texts = sorted({text for (text,) in found if text is not None})
    micros: list[int | None] = []
    for text in texts:
        instant = parse_time(text)
        micros.append(None if instant is None else (instant - _EPOCH) // _MICROSECOND)
    return {"other_texts": texts, "other_micros": micros}


_MICROSECOND = timedelta(microseconds=1)


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
    connection: Any, layout: str, compiled: Compiled, where: str, picked: list[str],
    missing: list[int], sample: int, iterable: bool, params: dict[str, list[Any]] | None,
) -> None:  # fmt: skip
    """Users without ids are named by their position, as the Python engine names them."""
    rows = connection.execute(
        f"SELECT n FROM (SELECT row_number() OVER () AS n, * FROM {layout}) "
        f"WHERE {render(compiled.where, 'duckdb')} ORDER BY n LIMIT {int(sample)}",
        params,
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


def _twice_condition(attributes: Sequence[str]) -> str:
    """A key the rule reads comes twice in ``custom_attributes`` (JSON text)."""
    column = "custom_attributes"
    names = ", ".join(_literal_sql(a) for a in attributes)
    read = f"list_filter(json_keys({column}), lambda k: k IN ({names}))"
    return (
        f"CASE WHEN {_json_type(column)} = 'OBJECT' "
        f"THEN len({read}) > len(list_distinct({read})) END"
    )


def _twice_message(attributes: Sequence[str]) -> Callable[[Any], str]:
    def message(raw: Any) -> str:
        seen: list[str] = []

        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [key for key, _ in items]
            seen.extend(k for k in attributes if keys.count(k) > 1 and k not in seen)
            return dict(items)

        json.loads(raw, object_pairs_hook=pairs)
        twice = ", ".join(json.dumps(k, ensure_ascii=False) for k in seen[:3])
        return (f"the key {twice} comes twice, and JSON readers disagree on which value "
                "counts: keep one")  # fmt: skip

    return message


def _place(where: str, ordinal: int, iterable: bool) -> str:
    """Where the ``ordinal``-th user (1-based) is, as the Python engine names it."""
    if iterable:
        return f"users[{ordinal - 1}]"
    if os.path.isfile(where):
        return f"{where}:{_line_numbers(where, {ordinal}).get(ordinal, ordinal)}"
    return f"{where}:{ordinal}"


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
    duckdb = require_duckdb()
    connection = _quiet(duckdb.connect())
    try:
        normalized = _normalized(connection, f"read_parquet({_literal_sql(path)})", ())
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
