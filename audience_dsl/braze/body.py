"""Checking a whole request body before sending: :func:`check_body` runs the pydantic
models of :mod:`audience_dsl.braze.request` (rules 4 to 19), validates the audience
(rules 25 to 39), and walks what pydantic cannot see: the body as JSON (rule 3), the
recipients' attributes and duplicates (rules 20 to 24). :func:`recipient_key` names a
recipient unambiguously.
"""

from __future__ import annotations

import json
import math
import re
import warnings as _warnings
from collections.abc import Mapping
from typing import Any

import pydantic
from pydantic import BaseModel

from audience_dsl.braze import validate as braze
from audience_dsl.braze.request import (
    ARRAY_WARN_LENGTH,
    DATE_OF_BIRTH,
    FILE_EXTENSION,
    GENDERS,
    IDENTIFIERS,
    LENIENT,
    MAX_ATTRIBUTE_CHARS,
    MAX_BODY_BYTES,
    MAX_PROPERTIES_BYTES,
    SMALL_BODY,
    SUBSCRIBE_STATES,
    BodyShape,
    InvalidRequestError,
    json_path,
    translate_errors,
)
from audience_dsl.errors import AudienceWarning, ValidationError

__all__ = ["check_body", "recipient_key"]


def check_body(
    body: Mapping[str, Any],
    *,
    lenient_broadcast: bool = False,
    schema_types: Mapping[str, Any] | None = None,
    audience_checked: bool = False,
    warnings: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Check a request body against rules 2 to 24 (and the audience against 25 to 39).

    Returns the body as it will be sent (recipient models turned into plain objects).
    Raises :class:`InvalidRequestError` listing every problem found; warns with
    :class:`~audience_dsl.errors.AudienceWarning` (rules 13, 14, 17, 20 to 24).
    ``lenient_broadcast`` accepts an audience-only body without ``broadcast: true``
    (§12 Q1). ``audience_checked`` skips the audience (already validated by the caller).
    Given a list as ``warnings``, the warnings are appended to it as (JSON path, message)
    pairs and none is issued: the thread-safe way to collect them per call.

    >>> check_body({"campaign_id": "c1", "broadcast": "true"})
    Traceback (most recent call last):
    ...
    audience_dsl.braze.request.InvalidRequestError: invalid /campaigns/trigger/send request:
      $.broadcast: rule 8: must be true or false (a JSON boolean, not a string or a number)
    """
    if not isinstance(body, Mapping):
        raise InvalidRequestError([("$", "rule 4: the body must be a JSON object")])
    plain = {key: _plain(value) for key, value in body.items()}
    problems: list[tuple[str, str]] = []
    found: list[tuple[str, str]] = []
    model: BodyShape | None = None
    serial, size = _serial_problems(plain)
    small = size is not None and size <= MAX_PROPERTIES_BYTES
    try:
        model = BodyShape.model_validate(
            plain, context={LENIENT: lenient_broadcast, SMALL_BODY: small}
        )
    except pydantic.ValidationError as exc:
        problems.extend(translate_errors(exc))
    if not audience_checked and isinstance(plain.get("audience"), dict):
        problems.extend(_audience_problems(plain["audience"], schema_types, found))
    recipients = plain.get("recipients")
    if isinstance(recipients, list):
        for index, recipient in enumerate(recipients):
            if isinstance(recipient, dict):
                _walk_recipient(recipient, f"$.recipients[{index}]", problems, found)
        found.extend(_duplicates(recipients))
    attachments = plain.get("attachments")
    if isinstance(attachments, list):
        for index, attachment in enumerate(attachments):
            name = attachment.get("file_name") if isinstance(attachment, dict) else None
            if isinstance(name, str) and FILE_EXTENSION.search(name):
                found.append(
                    (
                        f"$.attachments[{index}].file_name",
                        "rule 13: leave the extension out; Braze takes it from the URL",
                    )
                )
    problems.extend(serial)
    if warnings is not None:
        warnings.extend(found)
    else:
        for path, message in found:
            _warnings.warn(f"{path}: {message}", AudienceWarning, stacklevel=2)
    if problems or model is None:
        raise InvalidRequestError(_ordered(problems, plain))
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if isinstance(value, list | tuple) and any(isinstance(v, BaseModel) for v in value):
        return [_plain(v) for v in value]
    return value


def _ordered(problems: list[tuple[str, str]], body: Mapping[str, Any]) -> list[tuple[str, str]]:
    # Top-level keys in the body's order; within a key, as found. Deduplicated.
    order = {key: i for i, key in enumerate(body)}

    def rank(problem: tuple[str, str]) -> int:
        match = re.match(r"\$\.?([A-Za-z_]+)", problem[0])
        return order.get(match.group(1), -1) if match else -1

    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=rank)


def _audience_problems(
    audience: dict[str, Any],
    schema_types: Mapping[str, Any] | None,
    found: list[tuple[str, str]],
) -> list[tuple[str, str]]:
    caught: list[tuple[str, str]] = []
    try:
        braze.validate(audience, schema_types=schema_types, warnings=caught)
    except ValidationError as exc:
        return [
            (_under_audience(path), f"rule 12: {message}") for path, message in exc.problems
        ]
    finally:
        found.extend((_under_audience(path), message) for path, message in caught)
    return []


def _under_audience(path: str) -> str:
    return "$.audience" + path[1:] if path.startswith("$") else f"$.audience: {path}"


def _serial_problems(body: Mapping[str, Any]) -> tuple[list[tuple[str, str]], int | None]:
    """Rule 3's problems with the body as JSON, and its size in bytes when it has one."""
    try:
        data = json.dumps(body, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        return [("$", "rule 3: the body contains NaN or Infinity, which JSON cannot carry")], None
    except TypeError as exc:
        return [("$", f"rule 3: the body is not JSON: {exc}")], None
    try:
        encoded = data.encode()
    except UnicodeEncodeError as exc:
        code = ord(data[exc.start])
        return [
            (
                "$",
                f"rule 3: the body contains a lone surrogate (U+{code:04X}), which UTF-8 "
                "cannot carry; fix the string that holds it",
            )
        ], None
    size = len(encoded)
    if size > MAX_BODY_BYTES:
        problem = f"rule 3: the body is {size} bytes; Braze takes at most {MAX_BODY_BYTES}"
        return [("$", problem)], size
    return [], size


def _walk_recipient(
    recipient: Mapping[str, Any],
    path: str,
    problems: list[tuple[str, str]],
    found: list[tuple[str, str]],
) -> None:
    if "braze_id" in recipient and not any(k in recipient for k in IDENTIFIERS if k != "braze_id"):
        found.append(
            (
                f"{path}.braze_id",
                "rule 14: this endpoint's page does not list `braze_id` recipients (§12 Q4)",
            )
        )
    if "prioritization" in recipient and "email" not in recipient:
        found.append(
            (
                f"{path}.prioritization",
                "rule 17: `prioritization` only matters for email recipients",
            )
        )
    attributes = recipient.get("attributes")
    if isinstance(attributes, dict):
        _walk_attributes(attributes, f"{path}.attributes", problems, found)


def _walk_attributes(
    attributes: Mapping[str, Any],
    path: str,
    problems: list[tuple[str, str]],
    found: list[tuple[str, str]],
) -> None:
    for key, value in attributes.items():
        here = f"{path}{json_path((key,))[1:]}" if isinstance(key, str) else f"{path}[{key!r}]"
        if not isinstance(key, str) or not key:
            problems.append((here, "rule 20: an attribute name must be a non-empty string"))
            continue
        if len(key) > MAX_ATTRIBUTE_CHARS:
            problems.append(
                (here, f"rule 20: attribute names have at most {MAX_ATTRIBUTE_CHARS} characters")
            )
        if key in ("external_id", "user_alias", "braze_id"):
            found.append(
                (
                    here,
                    "rule 24: identifiers come from the recipient; Braze does not "
                    "document what it does with this key inside `attributes`",
                )
            )
        message = _standard_field(key, value)
        if message is not None:
            kind, text = message
            (problems if kind == "error" else found).append((here, text))
            continue
        problem = _attribute_value(value)
        if problem:
            problems.append((here, f"rule 20: {problem}"))
        elif isinstance(value, str) and len(value) > MAX_ATTRIBUTE_CHARS:
            found.append(
                (
                    here,
                    f"rule 20: custom string values are limited to "
                    f"{MAX_ATTRIBUTE_CHARS} characters; Braze may truncate",
                )
            )
        elif isinstance(value, list) and len(value) > ARRAY_WARN_LENGTH:
            found.append(
                (
                    here,
                    f"rule 22: arrays are truncated to {ARRAY_WARN_LENGTH} "
                    "elements unless the workspace raised the limit",
                )
            )


def _standard_field(key: str, value: Any) -> tuple[str, str] | None:
    if key in ("email_subscribe", "push_subscribe"):
        if value not in SUBSCRIBE_STATES:
            return "error", f"rule 21: must be one of {', '.join(SUBSCRIBE_STATES)}"
        return "ok", ""
    if key == "gender":
        if value is not None and value not in GENDERS:
            return "error", "rule 21: must be one of M, F, O, N, P or null"
        return "ok", ""
    if key == "dob":
        if value is not None and not (isinstance(value, str) and DATE_OF_BIRTH.match(value)):
            return "error", "rule 21: must be a date written YYYY-MM-DD"
        return "ok", ""
    if key == "country":
        if not (isinstance(value, str) and len(value) == 2 and value.isupper() and value.isalpha()):
            return "warn", "rule 21: should be an ISO 3166-1 alpha-2 code such as 'DE'"
        return "ok", ""
    if key == "subscription_groups":
        if not isinstance(value, list) or not all(
            isinstance(g, dict)
            and isinstance(g.get("subscription_group_id"), str)
            and g.get("subscription_state") in ("subscribed", "unsubscribed")
            for g in value
        ):
            return "error", (
                "rule 21: must be an array of {subscription_group_id: string, "
                "subscription_state: subscribed|unsubscribed}"
            )
        return "ok", ""
    return None


def _attribute_value(value: Any) -> str:
    if value is None or isinstance(value, bool | str):
        return ""
    if isinstance(value, int | float):
        return "" if math.isfinite(value) else "numbers must be finite"
    if isinstance(value, list):
        return ""
    if isinstance(value, dict):
        if set(value) == {"inc"}:
            inc = value["inc"]
            ok = isinstance(inc, int) and not isinstance(inc, bool)
            return "" if ok else "`inc` takes an integer"
        if value and set(value) <= {"add", "remove"}:
            if all(isinstance(v, list) for v in value.values()):
                return ""
            return "`add` and `remove` take arrays"
        return ""  # a nested custom attribute (an object)
    return f"{type(value).__name__} is not a JSON value"


def recipient_key(recipient: Mapping[str, Any]) -> str:
    """A recipient's identity, e.g. ``external_user_id:u-1`` or ``user_alias:crm_id/77``.

    Two recipients with the same key reach the same user; Braze sends one message. Keys
    are unambiguous: in an alias, ``%`` and ``/`` are escaped (``%25``, ``%2F``), so
    label ``crm/x`` with name ``y`` and label ``crm`` with name ``x/y`` differ.
    """
    for name in IDENTIFIERS:
        value = recipient.get(name)
        if value is None:
            continue
        if name == "user_alias" and isinstance(value, Mapping):
            label = _escape_key(value.get("alias_label"))
            return f"user_alias:{label}/{_escape_key(value.get('alias_name'))}"
        if name == "email" and isinstance(value, str):
            return f"email:{value.lower()}"
        return f"{name}:{value}"
    return "?"


def _escape_key(part: object) -> str:
    # "/" separates label from name; escape it (and "%") so keys never collide.
    return str(part).replace("%", "%25").replace("/", "%2F")


def _duplicates(recipients: list[Any]) -> list[tuple[str, str]]:
    seen: dict[str, int] = {}
    out = []
    for index, recipient in enumerate(recipients):
        if not isinstance(recipient, dict):
            continue
        key = recipient_key(recipient)
        if key in seen:
            out.append(
                (
                    f"$.recipients[{index}]",
                    f"rule 23: repeats recipients[{seen[key]}] ({key}); Braze sends one "
                    "message, with the last entry's trigger_properties",
                )
            )
        seen[key] = index
    return out
