"""The plan of a send: everything decided before the first byte leaves.

:func:`make_plan` compiles or validates the audience, refuses an audience that matches
everyone, checks every request body (rules 1 to 39), splits recipients into requests of
at most 50, and names the rate-limit buckets each request counts against;
:func:`resume` then drops what a journal says needs no sending.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

from pydantic import BaseModel

from audience_dsl.braze import request
from audience_dsl.braze import validate as braze
from audience_dsl.braze.body import check_body, recipient_key
from audience_dsl.braze.codec import to_core
from audience_dsl.braze.request import InvalidRequestError
from audience_dsl.errors import AudienceError, AudienceWarning, ValidationError
from audience_dsl.language.ast import AllOf, AnyOf, Attribute, CoreNode, Subscription
from audience_dsl.semantics import COMPLEMENT, DEFAULT_SEMANTICS
from audience_dsl.sender.errors import JournalError
from audience_dsl.sender.journal import Contract
from audience_dsl.sender.results import BROADCAST, RecipientOutcome, State

__all__ = ["AudienceLike", "Job", "Plan", "RecipientLike", "always_true", "make_plan",
           "resume", "single"]

RecipientLike: TypeAlias = "Mapping[str, Any] | request.Recipient"
AudienceLike: TypeAlias = "str | Mapping[str, Any] | Any"


@dataclass(frozen=True)
class Job:
    """One request: its index in the send, body, recipients' keys and rate buckets."""

    index: int
    body: dict[str, Any]
    keys: tuple[str, ...]
    buckets: tuple[str, ...]


@dataclass
class Plan:
    campaign_id: str
    jobs: list[Job]
    order: list[str]
    contract: Contract | None = None
    skipped: dict[str, RecipientOutcome] = field(default_factory=dict)
    send_id: str | None = None


def _audience_json(audience: AudienceLike, schema: Any) -> dict[str, Any]:
    # Imported here: the pipeline sits above the braze package this module builds on.
    from audience_dsl.language import ast as _ast
    from audience_dsl.pipeline import compile as _compile
    from audience_dsl.pipeline import to_audience

    # The typed Audience is a plain dict at run time; the plan handles it as JSON.
    if isinstance(audience, str):
        return cast("dict[str, Any]", _compile(audience, schema=schema))
    if isinstance(audience, _ast.Node):
        return cast("dict[str, Any]", to_audience(audience, schema=schema))
    if isinstance(audience, Mapping):
        from audience_dsl.check.schema import Schema

        types = Schema.coerce(schema) if schema is not None else None
        try:
            braze.validate(dict(audience), schema_types=types)
        except ValidationError as exc:
            raise InvalidRequestError(
                [("$.audience" + path[1:], f"rule 12: {message}") for path, message in exc.problems]
            ) from None
        try:
            value = json.loads(json.dumps(audience, allow_nan=False))  # a plain JSON copy
        except (TypeError, ValueError, RecursionError) as exc:
            problem = "nests too deeply to send" if isinstance(exc, RecursionError) else str(exc)
            raise InvalidRequestError([("$.audience", f"rule 3: {problem}")]) from None
        return dict(value)
    raise InvalidRequestError(
        [("$.audience", f"rule 12: an audience is rule text, an AST or a dict, not "
                        f"{type(audience).__name__}")]
    )


def audience_bucket(campaign_id: str, audience: Mapping[str, Any] | None) -> str:
    """The rate-limit bucket of a broadcast: one per campaign and unique audience."""
    text = json.dumps([campaign_id, audience], sort_keys=True, separators=(",", ":"))
    return "audience:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _shift(path: str, offset: int) -> str:
    prefix = "$.recipients["
    if not offset or not path.startswith(prefix):
        return path
    index, _, rest = path[len(prefix):].partition("]")
    return f"{prefix}{int(index) + offset}]{rest}" if index.isdigit() else path


def make_plan(
    campaign_id: str,
    *,
    audience: AudienceLike | None,
    recipients: Iterable[RecipientLike] | None,
    broadcast: bool | None,
    trigger_properties: Mapping[str, Any] | None,
    send_id: str | None,
    attachments: Sequence[Mapping[str, Any]] | None,
    schema: Any,
    allow_everyone: bool,
    lenient_broadcast: bool,
    journaled: bool = True,
) -> Plan:
    """Check and split a send into requests (raises :class:`InvalidRequestError`).

    ``journaled=False`` leaves out the plan's :class:`Contract` (the digests a journal is
    opened with), which only a journaled send needs.
    """
    if recipients is not None and (
        isinstance(recipients, str | bytes | Mapping) or not isinstance(recipients, Iterable)
    ):
        raise InvalidRequestError([(
            "$.recipients",
            f"rule 9: recipients are a list of recipient objects, not {type(recipients).__name__}",
        )])
    if recipients is None and broadcast is None:
        raise InvalidRequestError([(
            "$.broadcast",
            "rule 11: without recipients, say broadcast=True to send to the campaign's "
            "whole dashboard audience (narrowed by `audience` if given)",
        )])
    audience_json = _audience_json(audience, schema) if audience is not None else None
    if (audience_json is not None and not allow_everyone
            and always_true(audience_json, validated=True)):
        raise InvalidRequestError([(
            "$.audience",
            "rule 12: this audience matches every user; pass allow_everyone=True if that "
            "is really meant",
        )])
    top: dict[str, Any] = {"campaign_id": campaign_id}
    if send_id is not None:
        top["send_id"] = send_id
    if trigger_properties is not None:
        top["trigger_properties"] = trigger_properties
    if broadcast is not None:
        top["broadcast"] = broadcast
    if audience_json is not None:
        top["audience"] = audience_json
    if attachments is not None:
        top["attachments"] = [dict(a) if isinstance(a, Mapping) else a for a in attachments]

    problems: list[tuple[str, str]] = []
    found: list[tuple[str, str]] = []
    bodies: list[tuple[dict[str, Any], tuple[str, ...]]] = []

    def check(body: dict[str, Any], offset: int) -> dict[str, Any] | None:
        # The body's warnings are collected for this call only (no process-wide filter:
        # other threads may be sending at the same time).
        caught: list[tuple[str, str]] = []
        try:
            return check_body(body, lenient_broadcast=lenient_broadcast,
                              audience_checked=True, warnings=caught)
        except InvalidRequestError as exc:
            problems.extend((_shift(p, offset), m) for p, m in exc.problems)
            return None
        finally:
            found.extend((_shift(path, offset), message) for path, message in caught)

    plain: list[Any] | None = None
    if recipients is None:
        checked = check(top, 0)
        if checked is not None:
            bodies.append((checked, (BROADCAST,)))
    else:
        plain = [r.to_json() if isinstance(r, BaseModel) else r for r in recipients]
        if not plain:
            problems.append(("$.recipients", "rule 9: the recipient list is empty"))
        keys = [recipient_key(r) if isinstance(r, Mapping) else "?" for r in plain]
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key in first and key != "?":
                problems.append((
                    f"$.recipients[{index}]",
                    f"rule 23: repeats recipients[{first[key]}] ({key}); the client refuses "
                    "duplicates (split into several requests, they could get two messages): "
                    "merge them",
                ))
            first.setdefault(key, index)
        size = request.MAX_RECIPIENTS
        for offset in range(0, len(plain), size):
            body = dict(top)
            body["recipients"] = list(plain[offset:offset + size])
            checked = check(body, offset)
            if checked is not None:
                bodies.append((checked, tuple(keys[offset:offset + size])))
    if problems:
        raise InvalidRequestError(problems)
    for path, message in found:  # shown at the caller of trigger_send
        warnings.warn(f"{path}: {message}", AudienceWarning, stacklevel=5)

    contract = None
    if journaled:
        checked_top = dict(bodies[0][0]) if bodies else dict(top)
        checked_top.pop("recipients", None)
        everyone = [r for body, _ in bodies for r in body.get("recipients", ())]
        contract = Contract.of(checked_top, everyone if plain is not None else None)
    jobs = [Job(index, body, keys_, _buckets(campaign_id, body))
            for index, (body, keys_) in enumerate(bodies)]
    order = [key for _, keys_ in bodies for key in keys_]
    return Plan(campaign_id, jobs, order, contract, send_id=send_id)


def _buckets(campaign_id: str, body: Mapping[str, Any]) -> tuple[str, ...]:
    if "recipients" in body:
        return ("hour",)
    return ("minute", audience_bucket(campaign_id, body.get("audience")))


def resume(plan: Plan, previous: Mapping[str, RecipientOutcome], *, resend_unknown: bool
           ) -> Plan:
    """The plan without the recipients a journal has as ``accepted`` (or ``unknown``,
    unless ``resend_unknown``); their outcomes become :attr:`Plan.skipped`."""
    skipped: dict[str, RecipientOutcome] = {}
    jobs: list[Job] = []
    for job in plan.jobs:
        todo = []
        for key in job.keys:
            before = previous.get(key)
            if before is not None and (before.state is State.ACCEPTED or (
                    before.state is State.UNKNOWN and not resend_unknown)):
                skipped[key] = before
            else:
                todo.append(key)
        if not todo:
            continue
        body = job.body
        if len(todo) != len(job.keys) and "recipients" in body:
            wanted = set(todo)
            body = {**body, "recipients": [r for r in body["recipients"]
                                           if recipient_key(r) in wanted]}
        jobs.append(Job(job.index, body, tuple(todo), job.buckets))
    return Plan(plan.campaign_id, jobs, plan.order, plan.contract, skipped, plan.send_id)


def single(body: dict[str, Any]) -> Plan:
    """The plan of one body sent as given (:meth:`BrazeClient.send_body`)."""
    recipients = body.get("recipients")
    keys = tuple(recipient_key(r) for r in recipients) if recipients else (BROADCAST,)
    keys = tuple(dict.fromkeys(keys))
    campaign_id = str(body["campaign_id"])
    return Plan(campaign_id, [Job(0, body, keys, _buckets(campaign_id, body))], list(keys),
                send_id=body.get("send_id") if isinstance(body.get("send_id"), str) else None)


def check_journal_path(journal: object) -> None:
    if journal is not None and not isinstance(journal, str | os.PathLike):
        raise JournalError(f"journal is the path of a file, not {type(journal).__name__}")


# ---- audiences that match everyone ------------------------------------------------------------


def always_true(audience: Mapping[str, Any], *, validated: bool = False) -> bool:
    """Whether the audience provably matches every user (a trivial tautology).

    Read as the core AST (:func:`audience_dsl.braze.codec.to_core`) and judged by
    :mod:`audience_dsl.semantics`. Found: an ``OR`` holding a filter and its exact
    complement on the same value, when one of the two also matches users without the
    attribute (``x exists or x does not exist``, ``plan = "a" or plan != "a"``,
    ``push is opted_in or push is not opted_in``); an ``OR`` with such a member; an
    ``AND`` whose members all are. Not found: anything subtler (this is a guard
    against mistakes, not a decision procedure). An invalid object is not "everyone".
    ``validated=True``: the caller has validated (or compiled) ``audience`` already.
    """
    try:
        root = to_core(audience, validated=validated)
    except (AudienceError, RecursionError):
        return False
    known: dict[int, bool] = {}
    stack: list[tuple[CoreNode, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if not isinstance(node, AllOf | AnyOf):
            known[id(node)] = False
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in node.children)
            continue
        members = [known.get(id(child), False) for child in node.children]
        if isinstance(node, AllOf):
            known[id(node)] = bool(members) and all(members)
        else:
            known[id(node)] = any(members) or _complementary(_or_leaves(node))
    return known.get(id(root), False)


def _or_leaves(node: AnyOf) -> list[CoreNode]:
    leaves: list[CoreNode] = []
    stack: list[CoreNode] = list(node.children)
    while stack:
        child = stack.pop()
        if isinstance(child, AnyOf):
            stack.extend(child.children)
        elif not isinstance(child, AllOf):
            leaves.append(child)
    return leaves


def _value_key(value: object) -> str:
    plain = list(value) if isinstance(value, tuple) else value
    return json.dumps(plain, sort_keys=True, default=str)


def _complementary(leaves: list[CoreNode]) -> bool:
    seen: set[tuple[str, str, str]] = set()
    covers_missing: set[str] = set()
    for leaf in leaves:
        if isinstance(leaf, Attribute):
            target = f"attribute {leaf.name}"
            try:
                if DEFAULT_SEMANTICS.missing_matches(leaf.comparison, leaf.value):
                    covers_missing.add(target)
            except (KeyError, ValueError):  # not an attribute comparison: prove nothing
                pass
            seen.add((target, leaf.comparison.value, _value_key(leaf.value)))
        elif isinstance(leaf, Subscription):
            target = f"subscription {leaf.channel.value}"
            covers_missing.add(target)  # every user has a subscription state
            seen.add((target, leaf.comparison.value, _value_key(leaf.state)))
    for target, comparison, value in seen:
        other = next((v for k, v in COMPLEMENT.items() if k.value == comparison), None)
        if other is not None and (target, other.value, value) in seen \
                and target in covers_missing:
            return True
    return False
