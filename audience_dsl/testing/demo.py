"""The demonstration behind ``audience-dsl send --local`` and ``python -m audience_dsl.testing``:
a local endpoint with three sample users, a rule sent to it, and who would get the message.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from audience_dsl.braze.request import PATH
from audience_dsl.errors import AudienceError
from audience_dsl.sender import BrazeClient
from audience_dsl.testing.endpoint import LocalBraze

__all__ = ["DEMO_RULE", "SAMPLE_PROFILES", "demo", "main"]

DEMO_RULE = 'favorite_team = "Lions" and push is opted_in'


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m audience_dsl.testing``: serve until Ctrl-C, or run the demo."""
    parser = argparse.ArgumentParser(
        prog="python -m audience_dsl.testing",
        description="A local Braze-compatible POST /campaigns/trigger/send endpoint.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--campaign", action="append", default=None,
                        help="a campaign ID that exists (repeatable; default c1)")
    parser.add_argument("--key", action="append", default=None,
                        help="an API key with campaigns.trigger.send (repeatable; default k1)")
    parser.add_argument("--demo", action="store_true",
                        help="compile a rule, send it to a fresh local endpoint, print all")
    parser.add_argument("--rule", default=DEMO_RULE, help="the rule text for --demo")
    args = parser.parse_args(argv)
    campaigns = args.campaign or ["c1"]
    keys = args.key or ["k1"]
    if args.demo:
        return demo(args.rule, campaign=campaigns[0], key=keys[0])
    braze = LocalBraze(campaigns=campaigns, keys=keys, host=args.host, port=args.port)
    braze.start()
    print(f"Local Braze listening on {braze.url}{PATH} "
          f"(campaigns: {', '.join(campaigns)}; {len(keys)} key(s)); Ctrl-C stops it",
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        braze.stop()
    return 0


#: A few users for demonstrations: who would receive a message is evaluated on them.
SAMPLE_PROFILES: tuple[dict[str, Any], ...] = (
    {"external_id": "u-1", "custom_attributes": {"favorite_team": "Lions", "eye_color": "blue",
     "last_purchase": None}, "push_subscribe": "opted_in"},
    {"external_id": "u-2", "custom_attributes": {"favorite_team": "Bears", "eye_color": "blue"},
     "push_subscribe": "opted_in"},
    {"external_id": "u-3", "custom_attributes": {"favorite_team": "Lions", "eye_color": "green"},
     "push_subscribe": "unsubscribed"},
)


def demo(rule: str = DEMO_RULE, *, campaign: str = "c1", key: str = "k1",
         out: TextIO | None = None) -> int:
    """Compile ``rule``, send it as a broadcast to a fresh :class:`LocalBraze` holding three
    sample users, and print what was sent, the result and who received it.

    Returns 0 when the send was accepted, 1 when the rule is invalid or it was not.
    """
    out = out or sys.stdout
    with LocalBraze(campaigns=[campaign], keys=[key], port=0, profiles=SAMPLE_PROFILES) as braze, \
            BrazeClient(key, braze.url) as client:
        print(f"rule:     {rule}", file=out)
        try:
            result = client.trigger_send(campaign, audience=rule, broadcast=True)
        except AudienceError as exc:
            print(exc, file=sys.stderr)
            return 1
        sent = json.dumps(braze.accepted_bodies()[-1]) if braze.accepted else "-"
        print(f"sent:     {sent}", file=out)
        print(f"result:   {result!r}", file=out)
        for outcome in result.outcomes.values():
            print(f"          {outcome.key}: {outcome.state.value} {outcome.dispatch_id or ''}"
                  f" {outcome.message}".rstrip(), file=out)
        users = ", ".join(d.user for d in braze.deliveries) or "nobody"
        print(f"received: {users}", file=out)
        return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
