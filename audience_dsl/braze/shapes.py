"""The Connected Audience object and the request body as ``TypedDict`` s, for type checkers.

``compile`` and ``to_audience`` return an :data:`Audience`; a type checker then knows
that ``audience["AND"]`` is a list of audiences in the branch where ``"AND" in audience``
(the node types are ``@final``, which lets mypy narrow the union by key).
At run time these are plain dicts; the checks are :mod:`~audience_dsl.braze.models`' and
:mod:`~audience_dsl.braze.validate`'s, and the JSON Schema of the same shapes is
:func:`~audience_dsl.braze.json_schema.json_schema`'s.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypeAlias, TypedDict, Union, final

__all__ = [
    "AndNode",
    "Audience",
    "CustomAttributeCondition",
    "CustomAttributeNode",
    "EmailSubscriptionNode",
    "LastUsedAppCondition",
    "LastUsedAppNode",
    "OrNode",
    "PushSubscriptionNode",
    "RecipientBody",
    "SubscriptionCondition",
    "TriggerSendRequest",
    "UserAliasBody",
]

#: A Connected Audience object: a group of audiences or one filter.
Audience: TypeAlias = Union[
    "AndNode",
    "OrNode",
    "CustomAttributeNode",
    "PushSubscriptionNode",
    "EmailSubscriptionNode",
    "LastUsedAppNode",
]

SubscriptionState: TypeAlias = Literal["opted_in", "subscribed", "unsubscribed"]


class CustomAttributeCondition(TypedDict):
    """The object under ``custom_attribute``; ``value`` is absent for ``exists``."""

    custom_attribute_name: str
    comparison: str
    value: NotRequired[Any]


class SubscriptionCondition(TypedDict):
    comparison: Literal["is", "is_not"]
    value: SubscriptionState


class LastUsedAppCondition(TypedDict):
    comparison: Literal["after", "before"]
    value: str


@final
class CustomAttributeNode(TypedDict):
    custom_attribute: CustomAttributeCondition


@final
class PushSubscriptionNode(TypedDict):
    push_subscription_status: SubscriptionCondition


@final
class EmailSubscriptionNode(TypedDict):
    email_subscription_status: SubscriptionCondition


@final
class LastUsedAppNode(TypedDict):
    last_used_app: LastUsedAppCondition


@final
class AndNode(TypedDict):
    AND: list[Audience]


@final
class OrNode(TypedDict):
    OR: list[Audience]


class UserAliasBody(TypedDict):
    alias_name: str
    alias_label: str


class RecipientBody(TypedDict, total=False):
    """One entry of ``recipients``: one identifier, and what to send with it."""

    external_user_id: str
    user_alias: UserAliasBody
    email: str
    braze_id: str
    prioritization: list[str]
    trigger_properties: dict[str, Any]
    send_to_existing_only: bool
    attributes: dict[str, Any]


class _TriggerSendRequired(TypedDict):
    campaign_id: str


class TriggerSendRequest(_TriggerSendRequired, total=False):
    """The body of ``POST /campaigns/trigger/send``."""

    send_id: str
    trigger_properties: dict[str, Any]
    broadcast: bool
    audience: Audience
    recipients: list[RecipientBody]
    attachments: list[dict[str, str]]
