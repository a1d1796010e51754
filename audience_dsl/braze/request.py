"""The request body of ``POST /campaigns/trigger/send``, and the checks made before sending.

This is the one module that knows how Braze's *request* looks (``validate`` knows the
audience inside it). :func:`~audience_dsl.braze.body.check_body` enforces rules 1 to 24
of the specification's §9 before any byte leaves the process, and delegates the
``audience`` to :func:`audience_dsl.braze.validate.validate` (rules 25 to 39)::

    rules 1-2    transport: base URL and API key          check_base_url, check_api_key
    rule  3      the body as JSON: no NaN, at most 4 MiB  body.check_body
    rules 4-13   the top level                            TriggerSendBody (pydantic)
    rules 14-19  each recipient's shape                   Recipient, UserAlias (pydantic)
    rules 20-24  recipients' attributes, duplicates        body.check_body, after pydantic

Pydantic checks the shapes; its validators raise only pydantic's own
:class:`~pydantic_core.PydanticCustomError` (whose ``type`` is ``rule_<n>``), and
``check_body`` translates every pydantic error into one
:class:`InvalidRequestError` (a :class:`~audience_dsl.errors.ValidationError`) listing
each problem with its JSON path and rule number. Warnings are
:class:`~audience_dsl.errors.AudienceWarning` s, also with path and rule.
"""

from __future__ import annotations

import json
import re
import unicodedata
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pydantic
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from audience_dsl.errors import AudienceWarning, ValidationError

__all__ = [
    "INSTANCES",
    "MAX_BODY_BYTES",
    "MAX_PROPERTIES_BYTES",
    "MAX_RECIPIENTS",
    "PATH",
    "Attachment",
    "InvalidRequestError",
    "Recipient",
    "TriggerSendBody",
    "UserAlias",
    "check_api_key",
    "check_base_url",
]

#: The endpoint's path, appended to the base URL (rule 1: no trailing slash).
PATH = "/campaigns/trigger/send"

#: Braze's REST instances and their base URLs (§5.6).
INSTANCES: dict[str, str] = {
    "US-01": "https://rest.iad-01.braze.com",
    "US-02": "https://rest.iad-02.braze.com",
    "US-03": "https://rest.iad-03.braze.com",
    "US-04": "https://rest.iad-04.braze.com",
    "US-05": "https://rest.iad-05.braze.com",
    "US-06": "https://rest.iad-06.braze.com",
    "US-07": "https://rest.iad-07.braze.com",
    "US-08": "https://rest.iad-08.braze.com",
    "US-10": "https://rest.us-10.braze.com",
    "EU-01": "https://rest.fra-01.braze.eu",
    "EU-02": "https://rest.fra-02.braze.eu",
    "AU-01": "https://rest.au-01.braze.com",
    "ID-01": "https://rest.id-01.braze.com",
    "JP-01": "https://rest.jp-01.braze.com",
    "KR-01": "https://rest.kr-01.braze.com",
}

MAX_RECIPIENTS = 50
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_PROPERTIES_BYTES = 51_200
MAX_ALIAS_BYTES = 236
MAX_ATTRIBUTE_CHARS = 255
ARRAY_WARN_LENGTH = 25

IDENTIFIERS: tuple[str, ...] = ("external_user_id", "user_alias", "email", "braze_id")
PRIORITIZATION: tuple[str, ...] = (
    "identified", "unidentified", "most_recently_updated", "least_recently_updated",
)  # fmt: skip
SUBSCRIBE_STATES = ("opted_in", "subscribed", "unsubscribed")
GENDERS = ("M", "F", "O", "N", "P")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_BRAZE_HOST = re.compile(r"rest\.[a-z0-9-]+\.braze\.(com|eu)\Z")
DATE_OF_BIRTH = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
FILE_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}\Z")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class InvalidRequestError(ValidationError):
    """A request body (or the key or base URL) breaks rules 1 to 39 of §9.

    ``problems`` lists ``(json_path, message)`` pairs; each message starts with
    ``rule <n>:``; ``rules`` gives the rule numbers in the same order.
    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        super().__init__(problems)
        lines = [f"{path}: {message}" for path, message in self.problems]
        self.args = ("invalid /campaigns/trigger/send request:\n  " + "\n  ".join(lines),)

    @property
    def rules(self) -> tuple[int, ...]:
        out = []
        for _, message in self.problems:
            match = re.match(r"rule (\d+):", message)
            out.append(int(match.group(1)) if match else 0)
        return tuple(out)


# ---- transport (rules 1 and 2) ------------------------------------------------------------


def check_base_url(url_or_instance: str, *, allow_any_host: bool = False) -> str:
    """The base URL for an instance name (``US-01``, ``eu-01``) or a URL (rule 1).

    A URL must be ``https://rest.<cluster>.braze.com`` or ``.braze.eu`` without a path;
    hosts outside the §5.6 list warn. ``http`` on a loopback host (the local endpoint
    of :mod:`audience_dsl.testing`) is allowed, and ``allow_any_host=True`` lifts the
    host rule for other stand-ins.
    """
    if not isinstance(url_or_instance, str) or not url_or_instance.strip():
        raise InvalidRequestError([("base_url", "rule 1: give an instance name or a URL")])
    named = INSTANCES.get(url_or_instance.strip().upper())
    if named is not None:
        return named
    url = url_or_instance.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise InvalidRequestError(
            [("base_url", "rule 1: the base URL is not a valid URL (check the host and port)")]
        ) from None
    if "@" in parts.netloc:
        # Never echo it: the part before "@" is a user name and password.
        raise InvalidRequestError(
            [
                (
                    "base_url",
                    "rule 1: the base URL contains a user name or password (user:password@); "
                    "the API key goes in api_key, remove the credentials from the URL",
                )
            ]
        )
    if parts.scheme not in ("http", "https") or not host:
        known = ", ".join(INSTANCES)
        raise InvalidRequestError(
            [("base_url", f"rule 1: {url!r} is neither a URL nor an instance ({known})")]
        )
    if parts.path or parts.query or parts.fragment:
        raise InvalidRequestError(
            [("base_url", f"rule 1: the base URL has no path; the client appends {PATH}")]
        )
    if host in _LOOPBACK or allow_any_host:
        return url
    if parts.scheme != "https" or not _BRAZE_HOST.match(host) or parts.port is not None:
        raise InvalidRequestError(
            [
                (
                    "base_url",
                    "rule 1: a Braze REST URL looks like https://rest.iad-01.braze.com "
                    "(pass allow_any_host=True for a stand-in)",
                )
            ]
        )
    if url not in INSTANCES.values():
        warnings.warn(
            f"base_url: rule 1: {host} is not in Braze's list of REST hosts",
            AudienceWarning,
            stacklevel=2,
        )
    return url


def check_api_key(api_key: object) -> str:
    """The REST API key, if it can go in ``Authorization: Bearer <key>`` (rule 2).

    The message never repeats the key.
    """
    if not isinstance(api_key, str) or not api_key:
        raise InvalidRequestError([("api_key", "rule 2: the API key must be a non-empty string")])
    for position, ch in enumerate(api_key, 1):
        if "!" <= ch <= "~" and ch not in "\"'":
            continue
        if ch in "\"'":
            what = f"a quote ({ch})"
        else:
            name = unicodedata.name(ch, "") or _CONTROL_NAMES.get(ord(ch), "a control character")
            what = f"U+{ord(ch):04X} ({name})"
            if ch.isspace() or not ch.isprintable():
                what = f"an invisible character, {what}"
        raise InvalidRequestError(
            [
                (
                    "api_key",
                    f"rule 2: the API key has {what} at position {position} of "
                    f"{len(api_key)}; a key is printable ASCII only (copy it again from "
                    "the dashboard)",
                )
            ]
        )
    return api_key


_CONTROL_NAMES = {0: "NULL", 9: "TAB", 10: "LINE FEED", 13: "CARRIAGE RETURN", 127: "DELETE"}


# ---- the pydantic models (rules 4 to 19) --------------------------------------------------


def _rule(number: int, message: str) -> PydanticCustomError:
    # Only pydantic's own error type may leave a validator: it swallows ours.
    return PydanticCustomError(f"rule_{number}", message)


def _no_null(value: object, number: int) -> object:
    if value is None:
        raise _rule(number, "must not be null; leave the key out instead")
    return value


def _within_properties_limit(
    value: dict[str, Any], number: int, info: ValidationInfo
) -> dict[str, Any]:
    if info.context and info.context.get(SMALL_BODY):
        return value  # no part of the body is larger than the body, measured by the caller
    size = _json_bytes(value)
    if size is not None and size > MAX_PROPERTIES_BYTES:
        raise _rule(number, f"is {size} bytes; at most {MAX_PROPERTIES_BYTES} (50 KB)")
    return value


def _json_bytes(value: object) -> int | None:
    try:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError):
        return None  # rule 3 reports what is not JSON


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON object, with only the keys that were given."""
        return self.model_dump(mode="json", exclude_unset=True)


class _UserAliasShape(_Model):
    """The shape of ``{"alias_name": ..., "alias_label": ...}`` (rule 16)."""

    alias_name: str
    alias_label: str

    @field_validator("alias_name", "alias_label")
    @classmethod
    def _short(cls, value: str) -> str:
        if not value:
            raise _rule(16, "must not be empty")
        if len(value.encode()) > MAX_ALIAS_BYTES:
            raise _rule(16, f"is longer than {MAX_ALIAS_BYTES} bytes (UTF-8)")
        return value


class _RecipientShape(_Model):
    """The shape of one entry of ``recipients`` (rules 14 to 19)."""

    external_user_id: str | None = None
    user_alias: _UserAliasShape | None = None
    email: str | None = None
    braze_id: str | None = None
    prioritization: list[str] | None = None
    trigger_properties: dict[str, Any] | None = None
    send_to_existing_only: bool | None = None
    attributes: dict[str, Any] | None = None

    #: The rule that each optional key breaks when it is present but null.
    _NULL_RULES: ClassVar[dict[str, int]] = {
        "external_user_id": 15, "email": 15, "braze_id": 15, "user_alias": 16,
        "prioritization": 17, "send_to_existing_only": 18, "trigger_properties": 19,
        "attributes": 20,
    }  # fmt: skip

    @field_validator(*_NULL_RULES, mode="before")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        return _no_null(value, cls._NULL_RULES[str(info.field_name)])

    @field_validator("external_user_id", "braze_id")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value:
            raise _rule(15, "must not be empty")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value.count("@") != 1 or value.startswith("@") or value.endswith("@"):
            raise _rule(15, "is not an email address (one @ between two non-empty parts)")
        return value

    @field_validator("prioritization")
    @classmethod
    def _prioritization(cls, value: list[str]) -> list[str]:
        if not value:
            raise _rule(17, "must be a non-empty array")
        unknown = [v for v in value if v not in PRIORITIZATION]
        if unknown:
            allowed = ", ".join(PRIORITIZATION)
            raise _rule(17, f"{unknown[0]!r} is not one of {allowed}")
        if len(set(value)) != len(value):
            raise _rule(17, "must not repeat a value")
        if "identified" in value and "unidentified" in value:
            raise _rule(17, "cannot contain both 'identified' and 'unidentified'")
        return value

    @field_validator("trigger_properties")
    @classmethod
    def _properties_size(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return _within_properties_limit(value, 19, info)

    @model_validator(mode="after")
    def _one_identifier(self) -> _RecipientShape:
        given = [name for name in IDENTIFIERS if getattr(self, name) is not None]
        if len(given) != 1:
            found = " and ".join(given) if given else "none"
            raise _rule(
                14, f"a recipient needs exactly one of {', '.join(IDENTIFIERS)}; found {found}"
            )
        if given[0] == "email" and self.prioritization is None:
            raise _rule(
                17,
                "an email recipient needs `prioritization`, e.g. "
                '["identified", "most_recently_updated"]',
            )
        if self.send_to_existing_only is False:
            if given[0] == "user_alias":
                raise _rule(18, "`send_to_existing_only: false` is not supported for user_alias")
            if not self.attributes:
                raise _rule(
                    18,
                    "`send_to_existing_only: false` needs a non-empty `attributes` "
                    "object (Braze creates the profile from it)",
                )
        return self


class _AttachmentShape(_Model):
    """The shape of one email attachment (rule 13)."""

    file_name: str
    url: str

    @field_validator("file_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value:
            raise _rule(13, "must not be empty")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _rule(13, "must be an absolute http(s) URL")
        return value


#: Validation-context key: accept an audience-only body without ``broadcast: true`` (§12 Q1).
LENIENT = "lenient_broadcast"
#: Validation-context key: the whole body, serialized as it is sent, is at most
#: MAX_PROPERTIES_BYTES, so no ``trigger_properties`` in it can be larger (rules 7, 19).
SMALL_BODY = "small_body"


class BodyShape(_Model):
    """The shape of the whole body (rules 4 to 13; the audience is :func:`braze.validate`'s)."""

    campaign_id: str
    send_id: str | None = None
    trigger_properties: dict[str, Any] | None = None
    broadcast: bool | None = None
    audience: dict[str, Any] | None = None
    recipients: list[_RecipientShape] | None = None
    attachments: list[_AttachmentShape] | None = None

    #: The rule that each optional key breaks when it is present but null.
    _NULL_RULES: ClassVar[dict[str, int]] = {
        "send_id": 6, "trigger_properties": 7, "broadcast": 8, "audience": 12,
        "recipients": 9, "attachments": 13,
    }  # fmt: skip

    @field_validator(*_NULL_RULES, mode="before")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        return _no_null(value, cls._NULL_RULES[str(info.field_name)])

    @field_validator("campaign_id")
    @classmethod
    def _campaign(cls, value: str) -> str:
        if not value:
            raise _rule(5, "must not be empty")
        return value

    @field_validator("send_id")
    @classmethod
    def _send_id(cls, value: str) -> str:
        if not 1 <= len(value) <= 64:
            raise _rule(6, "must be 1 to 64 characters long")
        if not value.isascii():
            raise _rule(6, "must be ASCII only")
        return value

    @field_validator("trigger_properties")
    @classmethod
    def _properties_size(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return _within_properties_limit(value, 7, info)

    @field_validator("recipients")
    @classmethod
    def _count(cls, value: list[_RecipientShape]) -> list[_RecipientShape]:
        if not value:
            raise _rule(9, "must not be empty; leave the key out instead")
        if len(value) > MAX_RECIPIENTS:
            raise _rule(
                9,
                f"has {len(value)} entries; Braze takes at most {MAX_RECIPIENTS} "
                "per request (the client splits longer lists)",
            )
        return value

    @field_validator("attachments")
    @classmethod
    def _some(cls, value: list[_AttachmentShape]) -> list[_AttachmentShape]:
        if not value:
            raise _rule(13, "must not be empty; leave the key out instead")
        return value

    @model_validator(mode="after")
    def _targeting(self, info: pydantic.ValidationInfo) -> BodyShape:
        if self.broadcast is True:
            if self.recipients is not None:
                raise _rule(
                    10,
                    "`broadcast: true` sends to the whole campaign audience; it "
                    "cannot be combined with `recipients`",
                )
            if self.attachments is not None:
                raise _rule(10, "`broadcast: true` cannot be combined with `attachments`")
            return self
        if self.recipients is None:
            lenient = bool(info.context and info.context.get(LENIENT))
            if self.audience is None:
                raise _rule(
                    11,
                    "no target: give `recipients`, or `broadcast: true` (with or "
                    "without an `audience`)",
                )
            if not lenient:
                raise _rule(
                    11,
                    "an audience-only request needs `broadcast: true` (Braze's "
                    "parameter docs require it when `recipients` is omitted)",
                )
        return self


# ---- the public models: constructing one raises our error, never pydantic's ----------------
# (Separate subclasses, because pydantic calls a custom ``__init__`` for nested models too.)


def _construct(model: BaseModel, place: tuple[str | int, ...], data: dict[str, Any]) -> None:
    try:
        BaseModel.__init__(model, **data)
    except pydantic.ValidationError as exc:
        raise InvalidRequestError(translate_errors(exc, place)) from None


class UserAlias(_UserAliasShape):
    """A user alias, ``{"alias_name": ..., "alias_label": ...}`` (rule 16)."""

    def __init__(self, **data: Any) -> None:
        _construct(self, ("recipients", 0, "user_alias"), data)


class Recipient(_RecipientShape):
    """One entry of ``recipients`` (rules 14 to 19; 20 to 24 are checked by :func:`check_body`).

    >>> Recipient(external_user_id="u-1", trigger_properties={"n": 1}).to_json()
    {'external_user_id': 'u-1', 'trigger_properties': {'n': 1}}
    """

    def __init__(self, **data: Any) -> None:
        _construct(self, ("recipients", 0), data)


class Attachment(_AttachmentShape):
    """An email attachment: ``file_name`` (no extension) and an http(s) ``url`` (rule 13)."""

    def __init__(self, **data: Any) -> None:
        _construct(self, ("attachments", 0), data)


class TriggerSendBody(BodyShape):
    """A whole request body (rules 4 to 13); :func:`check_body` checks everything."""

    def __init__(self, **data: Any) -> None:
        _construct(self, (), data)


# ---- translating pydantic's errors ----------------------------------------------------------

_TOP_RULES = {"campaign_id": 5, "send_id": 6, "trigger_properties": 7, "broadcast": 8,
              "recipients": 9, "audience": 12, "attachments": 13}  # fmt: skip
_RECIPIENT_RULES = {"external_user_id": 15, "braze_id": 15, "email": 15, "user_alias": 16,
                    "prioritization": 17, "send_to_existing_only": 18,
                    "trigger_properties": 19, "attributes": 20}  # fmt: skip
_WORDS = {
    "string_type": "must be a string",
    "bool_type": "must be true or false (a JSON boolean, not a string or a number)",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "missing": "is required",
}


def json_path(loc: Sequence[str | int]) -> str:
    out = "$"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _rule_of(kind: str, loc: tuple[str | int, ...]) -> int:
    if kind.startswith("rule_"):
        return int(kind[5:])
    if not loc:
        return 4
    if loc[0] == "recipients" and len(loc) >= 3:
        if kind == "extra_forbidden":
            return 16 if len(loc) >= 4 and loc[2] == "user_alias" else 14
        return _RECIPIENT_RULES.get(str(loc[2]), 14)
    if loc[0] == "attachments":
        return 13
    if kind == "extra_forbidden":
        return 2 if loc[0] == "api_key" else 4
    return _TOP_RULES.get(str(loc[0]), 4)


def _message(kind: str, loc: tuple[str | int, ...], text: str) -> str:
    if kind.startswith("rule_"):
        return text
    if kind == "extra_forbidden":
        name = loc[-1] if loc else "?"
        if loc == ("api_key",):
            return "the API key goes in the Authorization header, never in the body"
        hints = {
            "segment_id": "; this endpoint does not take it (target the segment in the "
            "dashboard and send `broadcast: true`)",
            "external_user_ids": "; use `recipients`",
            "user_aliases": "; use `recipients`",
        }
        return f"`{name}` is not a field here{hints.get(str(name), '')}"
    return _WORDS.get(kind, text)


def translate_errors(
    exc: pydantic.ValidationError, where: tuple[str | int, ...] = ()
) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors(include_url=False):
        own = tuple(error["loc"])
        loc = (*where, *own)
        kind = error["type"]
        rule = _rule_of(kind, loc)
        problems.append((json_path(own), f"rule {rule}: {_message(kind, loc, error['msg'])}"))
    return problems
