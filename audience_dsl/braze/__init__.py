"""Braze's side: the Connected Audience object and the request that carries it.

* :mod:`~audience_dsl.braze.models` — the filter objects as pydantic models;
* :mod:`~audience_dsl.braze.codec` — core AST to JSON (``to_json``) and back (``to_core``);
* :mod:`~audience_dsl.braze.validate` — every rule of the object, every problem with its path;
* :mod:`~audience_dsl.braze.jsonpos` — JSON paths, and lines and columns in JSON text;
* :mod:`~audience_dsl.braze.decompile` — any valid object back to rule text;
* :mod:`~audience_dsl.braze.request` — the request body and its rules (1-24);
* :mod:`~audience_dsl.braze.limits` — the endpoint's rate limits.

What the types and comparisons are is :mod:`audience_dsl.vocabulary`'s.
"""
