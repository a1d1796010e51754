"""Braze's ``GET /custom_attributes``: the workspace's custom attributes and their types.

:func:`custom_attribute_types` reads every page (50 attributes a page, following the
``Link`` header's ``rel="next"``, only on the same host so the key goes nowhere else),
waits out the endpoint's own rate limit (about 1,000 requests an hour) when the wait is
short, and maps Braze's ``data_type`` to the schema's types. The local endpoint of
:mod:`audience_dsl.testing` serves the same route.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from audience_dsl.errors import SendError

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_PAGES", "MAX_WAIT", "AttributeListError", "custom_attribute_types", "wire_type"]

#: The route, appended to the base URL.
PATH = "/custom_attributes"
#: Pages followed at most (50 attributes each): a bound, never reached by a real workspace.
MAX_PAGES = 2000
#: The longest wait for the rate-limit window before giving up, in seconds.
MAX_WAIT = 60.0
#: Rate-limited answers taken (and waited out) before giving up.
MAX_RATE_LIMITED = 20


class AttributeListError(SendError):
    """Braze did not give the attribute list; the message says why and what to do."""


_KINDS = {"number": "Numeric", "numeric": "Numeric", "integer": "Numeric", "float": "Numeric",
          "string": "String", "boolean": "Boolean", "date": "Time", "time": "Time",
          "array": "Array"}


def wire_type(data_type: object) -> str | None:
    """Braze's ``data_type`` (``"Number"``, ``"String (Automatically Detected)"``,
    ``"Date"``, ``"Object Array"``, ...) as our type, or None when Connected Audience
    cannot filter it (objects, arrays of objects, unknown types)."""
    if not isinstance(data_type, str):
        return None
    text = data_type.strip().lower()
    if "object" in text:
        return None
    first = re.split(r"[\s(]", text, maxsplit=1)[0]
    return _KINDS.get(first)


def custom_attribute_types(
    base_url: str,
    api_key: str,
    *,
    http: httpx.Client,
    max_pages: int = MAX_PAGES,
    max_wait: float = MAX_WAIT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> tuple[dict[str, str], list[str]]:
    """Every custom attribute's type (``{"name": "Numeric"}``), and notes on those left out
    (``"name: why"``). ``base_url`` is checked already (``braze.request.check_base_url``)."""
    import httpx

    origin = urlsplit(base_url)
    url: str | None = base_url.rstrip("/") + PATH
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    types: dict[str, str] = {}
    notes: list[str] = []
    pages = limited = 0
    while url is not None:
        pages += 1
        if pages > max_pages:
            raise AttributeListError(f"more than {max_pages} pages of attributes; stopped there")
        try:
            response = http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise AttributeListError(f"could not reach {origin.netloc}: {type(exc).__name__}: {exc}"
                            ) from None
        if response.status_code == 429:
            limited += 1
            wait = _reset(response, clock)
            if wait > max_wait or limited > MAX_RATE_LIMITED:
                raise AttributeListError(
                    f"rate limited (429): GET /custom_attributes allows about 1,000 requests "
                    f"an hour; the window resets in {wait:.0f} s; try again then")
            sleep(max(wait, 0.0))
            pages -= 1
            continue
        if response.status_code in (401, 403):
            raise AttributeListError(
                f"Braze refused the key ({response.status_code}): it needs the "
                "custom_attributes.get permission")
        if response.status_code != 200:
            raise AttributeListError(
                f"Braze answered {response.status_code}: {response.text[:200]}")
        try:
            body = response.json()
        except ValueError:
            raise AttributeListError("Braze's answer is not JSON") from None
        items = body.get("attributes") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise AttributeListError("Braze's answer has no list of attributes")
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            name, data_type = item["name"], item.get("data_type")
            status = item.get("status")
            kind = wire_type(data_type)
            if isinstance(status, str) and status.lower() != "active":
                notes.append(f"{name}: left out, its status is {status}")
            elif kind is None:
                notes.append(f"{name}: left out, Connected Audience cannot filter "
                             f"{data_type!s} attributes")
            else:
                types[name] = kind
        url = _next(response, origin)
    return types, notes


def _reset(response: httpx.Response, clock: Callable[[], float]) -> float:
    raw = response.headers.get("X-RateLimit-Reset") or response.headers.get("Retry-After")
    try:
        value = float(raw) if raw is not None else 60.0
    except ValueError:
        return 60.0
    return value - clock() if value > 1e9 else value


def _next(response: httpx.Response, origin: Any) -> str | None:
    link = response.links.get("next")
    if not link or not link.get("url"):
        return None
    target = urljoin(str(response.url), link["url"])
    parts = urlsplit(target)
    if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
        raise AttributeListError(f"the next page is on another host ({parts.netloc}); "
                                 "not followed, so the key is not sent there")
    return target
