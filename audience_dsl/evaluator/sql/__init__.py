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
and regexes (see :mod:`audience_dsl.evaluator.sql.regex`).
:mod:`~audience_dsl.evaluator.sql.engine` runs the same conditions in embedded DuckDB
for ``preview(..., engine="duckdb")``.

Modules: :mod:`~audience_dsl.evaluator.sql.dialects` (each comparison as a sqlglot
expression, per dialect), :mod:`~audience_dsl.evaluator.sql.regex` (regexes rewritten
exactly), :mod:`~audience_dsl.evaluator.sql.query` (the query) and
:mod:`~audience_dsl.evaluator.sql.engine` (DuckDB).

Neither sqlglot nor duckdb is imported until a function here is called; without the
``sql`` extra the call raises :class:`SQLError` with the command to install it.
"""

from __future__ import annotations

from audience_dsl.evaluator.sql.query import DIALECTS, to_sql

__all__ = ["DIALECTS", "to_sql"]
