"""Machine opens and bot clicks: opens no person made, clicks no person made.

The rules (README, "Machine opens and bot clicks"), each tested in tests/test_automation.py:
- a provider's (or sender's) flag: SendGrid sg_machine_open, Mailgun client-info.bot, the
  canonical `machine` and `bot` fields;
- Apple Mail Privacy Protection: its proxy fetches images with the bare user agent "Mozilla/5.0",
  from Apple's network 17.0.0.0/8: such an open is a machine's;
- security scanners and link checkers (Barracuda, Mimecast, Proofpoint, Microsoft's Safe Links
  preview, HTTP libraries, headless browsers, anything calling itself a bot, crawler or spider):
  their opens are machine opens and their clicks bot clicks;
- several links clicked within SCANNER_WINDOW of delivery (or of sending): a scanner following
  every link as the message arrives. This rule needs the recipient's whole history, so it runs
  where ingest folds it (app/ingest/apply.py).
Image proxies that fetch when a person opens the message (Gmail's GoogleImageProxy, Yahoo's) are
human opens.
"""

import dataclasses
import ipaddress
import re
from datetime import timedelta
from functools import lru_cache
from typing import Any

from app.enums import ResponseType
from app.ingest.history import HistoryEntry

MPP_USER_AGENT = "Mozilla/5.0"
APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
SCANNER_AGENTS = re.compile(
    r"barracuda|mimecast|proofpoint|urldefense|messagelabs|symantec|trend ?micro|forcepoint"
    r"|sophos|ironport|fireeye|zscaler|bitdefender|safelinks|microsoft office protection"
    r"|bingpreview|google-safety|googlebot|slackbot|facebookexternalhit|linkedinbot|twitterbot"
    r"|python-requests|python-urllib|aiohttp|go-http-client|curl/|wget/|libwww-perl|okhttp"
    r"|java/\d|headlesschrome|phantomjs|bot/\d|\b(?:bot|crawler|spider|scanner)\b",
    re.IGNORECASE,
)
SCANNER_WINDOW = timedelta(seconds=10)
SCANNER_LINKS = 2  # distinct links clicked inside the window that make a scanner
T = ResponseType


# Pure functions of strings that repeat across a batch (one client, one proxy): cached.
@lru_cache(maxsize=4096)
def is_scanner_agent(user_agent: str | None) -> bool:
    """A security scanner's, link checker's or program's user agent."""
    return bool(user_agent) and SCANNER_AGENTS.search(user_agent or "") is not None


@lru_cache(maxsize=4096)
def is_apple_privacy_proxy(user_agent: str | None, ip: str | None) -> bool:
    """Apple Mail Privacy Protection's prefetch: the bare agent, or Apple's own network."""
    if user_agent is not None and user_agent.strip() == MPP_USER_AGENT:
        return True
    try:
        return ip is not None and ipaddress.ip_address(ip.strip()) in APPLE_NETWORK
    except ValueError:
        return False


def is_machine_open(user_agent: str | None, ip: str | None) -> bool:
    """An open made by a machine, from what the request shows."""
    return is_apple_privacy_proxy(user_agent, ip) or is_scanner_agent(user_agent)


def is_bot_click(user_agent: str | None) -> bool:
    """A click made by a link scanner, from what the request shows."""
    return is_scanner_agent(user_agent)


def scanner_click_ids(history: list[HistoryEntry]) -> set[int]:
    """Ids of the clicks that several links clicked within seconds of delivery make a scanner's.

    Adding events can only add anchors and clicks, so the set only grows: whatever order events
    arrive in, the flags end the same.
    """
    anchors = [e.occurred_at for e in history if e.type in (T.SENT, T.DELIVERED)]
    clicks = [e for e in history if e.type is T.CLICKED]
    found: set[int] = set()
    for anchor in anchors:
        inside = [c for c in clicks if anchor <= c.occurred_at <= anchor + SCANNER_WINDOW]
        if len({c.link_id for c in inside if c.link_id is not None}) >= SCANNER_LINKS:
            found.update(c.id for c in inside)
    return found


def flag_scanner_clicks(
    histories: dict[int, tuple[Any, list[HistoryEntry]]], recipient_ids: set[int]
) -> set[int]:
    """Mark scanner clicks as bot clicks in `histories` (in place); the response ids newly marked."""
    marked: set[int] = set()
    for recipient_id in recipient_ids:
        context, history = histories[recipient_id]
        scanner = scanner_click_ids(history)
        ids = {e.id for e in history if e.id in scanner and not e.bot}
        if ids:
            histories[recipient_id] = (
                context,
                [dataclasses.replace(e, bot=True) if e.id in ids else e for e in history],
            )
            marked |= ids
    return marked
