"""Names and keywords: the reserved words of the language, the units of a duration, and
how an attribute name must be written in rule text.

The one owner of the keyword list: the parser re-types names from it, the printer and
every hint write names through :func:`render_name`, and the strategies avoid its words.
"""

from __future__ import annotations

import re

__all__ = [
    "CALENDAR_UNITS",
    "DAY_UNITS",
    "KEYWORDS",
    "KEYWORD_TYPES",
    "SUB_DAY_UNITS",
    "render_name",
]

#: Reserved words (lower case) and the terminal each becomes. Matching is case-insensitive.
KEYWORDS: dict[str, str] = {
    word: word.upper()
    for word in [
        "and",
        "or",
        "not",
        "is",
        "in",
        "between",
        "contains",
        "contain",
        "includes",
        "include",
        "matches",
        "match",
        "does",
        "exists",
        "exist",
        "within",
        "after",
        "before",
        "ago",
        "from",
        "now",
        "true",
        "false",
        "null",
        "any",
        "all",
        "push",
        "email",
        "push_subscription_status",
        "email_subscription_status",
        "last_used_app",
        "let",
    ]
}

DAY_UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7}
SUB_DAY_UNITS = {
    "h", "hr", "hrs", "hour", "hours", "m", "min", "mins", "minute", "minutes",
    "s", "sec", "secs", "second", "seconds",
}  # fmt: skip
KEYWORD_TYPES = frozenset(KEYWORDS.values())
CALENDAR_UNITS = {"month": 30, "months": 30, "year": 365, "years": 365}

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def render_name(name: str) -> str:
    """An attribute name as it must be written in rule text."""
    if _PLAIN.fullmatch(name) and (name.lower() not in KEYWORDS):
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
