"""JSON Schema (draft 2020-12) of the Connected Audience object and of the request body.

Generated from the pydantic models (:mod:`~audience_dsl.braze.models` for the filters,
:mod:`~audience_dsl.braze.request` for the body), then made to say what the models'
validators say in code: the comparisons each filter takes (from the same tables), that
an optional key is absent rather than ``null``, and the recursive ``AND``/``OR`` groups
that no model spells out. The schema describes the *shape*; the rules about values
(a regex that compiles, a number of days, a group nested at most so deep...) are
:func:`~audience_dsl.validate`'s, which says more, and where.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from audience_dsl.braze.models import CustomAttributeFilter, LastUsedAppFilter, SubscriptionFilter
from audience_dsl.braze.request import TriggerSendBody
from audience_dsl.errors import ValidationError
from audience_dsl.vocabulary import ATTRIBUTE_COMPARISONS, GROUPS

__all__ = ["DIALECT", "json_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# The filter keys and the definitions of their objects.
_FILTERS = {
    "custom_attribute": "CustomAttributeFilter",
    "push_subscription_status": "SubscriptionFilter",
    "email_subscription_status": "SubscriptionFilter",
    "last_used_app": "LastUsedAppFilter",
}
# The request models' private names, as published.
_RENAMED = {"_RecipientShape": "Recipient", "_UserAliasShape": "UserAlias",
            "_AttachmentShape": "Attachment"}  # fmt: skip


def json_schema(kind: Literal["audience", "request"] = "audience") -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the Connected Audience object (``"audience"``)
    or of the body of ``POST /campaigns/trigger/send`` (``"request"``); a fresh copy.

    >>> json_schema("audience")["$ref"]
    '#/$defs/Audience'
    """
    if kind == "audience":
        return copy.deepcopy(_audience())
    if kind == "request":
        return copy.deepcopy(_request())
    raise ValidationError([("kind", f"a JSON Schema is of 'audience' or 'request', not {kind!r}")])


@functools.cache
def _defs() -> dict[str, Any]:
    """The definitions of the audience: the filters' models, then the groups."""
    classes: tuple[type[BaseModel], ...] = (
        CustomAttributeFilter, SubscriptionFilter, LastUsedAppFilter,
    )  # fmt: skip
    models: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (m, "validation") for m in classes
    ]
    _, generated = models_json_schema(models, ref_template="#/$defs/{model}")
    defs: dict[str, Any] = generated["$defs"]
    attribute = defs["CustomAttributeFilter"]["properties"]
    attribute["comparison"] = {"enum": sorted(c.value for c in ATTRIBUTE_COMPARISONS)}
    attribute["value"] = {
        "description": "absent for exists and does_not_exist; a list for is_any_of, "
        "is_none_of and (with several values) includes_value",
        "type": ["string", "number", "boolean", "array"],
        "items": {"type": ["string", "number", "boolean"]},
    }
    defs["SubscriptionFilter"]["properties"]["comparison"] = {"enum": ["is", "is_not"]}
    defs["LastUsedAppFilter"]["properties"]["comparison"] = {"enum": ["after", "before"]}
    defs.pop("Comparison", None)
    nodes: list[str] = []
    for key in GROUPS:
        name = key.title() + "Group"
        defs[name] = _one_key(key, {
            "type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Audience"},
        })  # fmt: skip
        nodes.append(name)
    for key, model in _FILTERS.items():
        name = "".join(part.title() for part in key.split("_")) + "Node"
        defs[name] = _one_key(key, {"$ref": f"#/$defs/{model}"})
        nodes.append(name)
    defs["Audience"] = {
        "description": "A Connected Audience object: an AND or OR group of audiences, or "
        "one filter; each an object with exactly one key.",
        "oneOf": [{"$ref": f"#/$defs/{name}"} for name in nodes],
    }
    return defs


def _one_key(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {key: value},
        "required": [key],
        "additionalProperties": False,
    }


@functools.cache
def _audience() -> dict[str, Any]:
    return {
        "$schema": DIALECT,
        "title": "Connected Audience",
        "$ref": "#/$defs/Audience",
        "$defs": _defs(),
    }


@functools.cache
def _request() -> dict[str, Any]:
    body = TriggerSendBody.model_json_schema(ref_template="#/$defs/{model}")
    defs = {_RENAMED.get(name, name): value for name, value in body.pop("$defs", {}).items()}
    body = _absent_not_null(_rename_refs(body))
    defs = {name: _absent_not_null(_rename_refs(value)) for name, value in defs.items()}
    for name, value in defs.items():
        value["title"] = name
    body["properties"]["audience"] = {"$ref": "#/$defs/Audience"}
    body["title"] = "Trigger send request"
    return {"$schema": DIALECT, **body, "$defs": {**defs, **_defs()}}


def _rename_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {key: _rename_refs(value) for key, value in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            out["$ref"] = "#/$defs/" + _RENAMED.get(name, name)
        return out
    if isinstance(node, list):
        return [_rename_refs(value) for value in node]
    return node


def _absent_not_null(model: dict[str, Any]) -> dict[str, Any]:
    """Optional keys are left out, never ``null`` (Braze refuses a present ``null``):
    ``anyOf: [X, null]`` with a ``null`` default becomes X, not required."""
    for name, prop in list(model.get("properties", {}).items()):
        options = prop.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            kept = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
            kept.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
            model["properties"][name] = kept
    return model
