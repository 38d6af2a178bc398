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

Each open or click set aside says why (ClassificationReason): the first rule that matches, in the
order REPORTED, PRIVACY_PROXY, SCANNER_AGENT, CLICK_BURST. A sender's explicit "not a machine"
(machine=false, bot=false) overrides the per-event rules but not the click burst, which judges the
whole history. RULE_VERSION is stored with each response; bump it whenever a rule changes, then
run `campaign-graph reclassify`.
"""

import dataclasses
import ipaddress
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any, Protocol

from app.enums import ResponseType
from app.ingest.history import HistoryEntry

# 1: the unversioned machine/bot flags before responses kept their reason (migration 0005).
RULE_VERSION = 2


class ClassificationReason(str, Enum):
    """Why an open or click counts as a machine's or a bot's, not a person's."""

    REPORTED = "REPORTED"  # the event or its provider said so
    PRIVACY_PROXY = "PRIVACY_PROXY"  # Apple Mail Privacy Protection (its agent or network)
    SCANNER_AGENT = "SCANNER_AGENT"  # a link scanner's or security gateway's user agent
    CLICK_BURST = "CLICK_BURST"  # several links clicked within seconds of delivery


R = ClassificationReason
MPP_USER_AGENT = "Mozilla/5.0"
APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)
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
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return False
    return any(address in network for network in APPLE_NETWORKS)


def is_machine_open(user_agent: str | None, ip: str | None) -> bool:
    """An open made by a machine, from what the request shows."""
    return is_apple_privacy_proxy(user_agent, ip) or is_scanner_agent(user_agent)


def is_bot_click(user_agent: str | None) -> bool:
    """A click made by a link scanner, from what the request shows."""
    return is_scanner_agent(user_agent)


def event_reason(
    kind: ResponseType, user_agent: str | None, ip: str | None, reported: bool | None
) -> ClassificationReason | None:
    """Why one open or click is a machine's or a bot's from the event alone (None: a person's).

    `reported` is what the event itself said (machine for an open, bot for a click): it wins.
    """
    if kind is not T.OPENED and kind is not T.CLICKED:
        return None
    if reported is not None:
        return R.REPORTED if reported else None
    if kind is T.OPENED and is_apple_privacy_proxy(user_agent, ip):
        return R.PRIVACY_PROXY
    if is_scanner_agent(user_agent):
        return R.SCANNER_AGENT
    return None


class Timed(Protocol):
    """What the click-burst rule reads of a history entry."""

    @property
    def id(self) -> int: ...
    @property
    def type(self) -> ResponseType: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def link_id(self) -> int | None: ...


def scanner_click_ids(history: Iterable[Timed]) -> set[int]:
    """Ids of the clicks that several links clicked within seconds of delivery make a scanner's.

    Adding events can only add anchors and clicks, so the set only grows: whatever order events
    arrive in, the flags end the same.
    """
    entries = list(history)
    anchors = [e.occurred_at for e in entries if e.type in (T.SENT, T.DELIVERED)]
    clicks = [e for e in entries if e.type is T.CLICKED]
    found: set[int] = set()
    for anchor in anchors:
        inside = [c for c in clicks if anchor <= c.occurred_at <= anchor + SCANNER_WINDOW]
        if len({c.link_id for c in inside if c.link_id is not None}) >= SCANNER_LINKS:
            found.update(c.id for c in inside)
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class Observed:
    """What the rules read of one stored response."""

    id: int
    type: ResponseType
    occurred_at: datetime
    link_id: int | None = None
    user_agent: str | None = None
    ip: str | None = None
    reported: bool | None = None


def classify(history: Iterable[Observed]) -> dict[int, ClassificationReason]:
    """The reason of each open or click of one recipient's whole history that the rules set
    aside, by response id (absent: a person's). First matching rule wins."""
    entries = list(history)
    reasons: dict[int, ClassificationReason] = {}
    for e in entries:
        reason = event_reason(e.type, e.user_agent, e.ip, e.reported)
        if reason is not None:
            reasons[e.id] = reason
    for response_id in scanner_click_ids(entries):
        reasons.setdefault(response_id, R.CLICK_BURST)
    return reasons


def inferred_report(
    kind: ResponseType, flagged: bool, user_agent: str | None, ip: str | None, in_burst: bool
) -> bool | None:
    """The sender's flag of a response stored before flags were kept apart (rule_version NULL),
    inferred from its combined flag: set aside with no rule to explain it, the sender said so;
    counted as a person's although a rule matches, the sender said so; otherwise nothing."""
    if kind is not T.OPENED and kind is not T.CLICKED:
        return None
    ruled = event_reason(kind, user_agent, ip, None) is not None
    if flagged and not ruled and not (kind is T.CLICKED and in_burst):
        return True
    if not flagged and ruled:
        return False
    return None


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
