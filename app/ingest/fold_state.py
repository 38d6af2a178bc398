"""A recipient's folded history as an order-independent summary, so ingest folds only new events.

`FoldState` keeps what `recipient_state` and a contribution's per-recipient parts read of a whole
history: counts per type, the earliest and latest instants with the same total-order tie-breaks
(time, rank, id), the latest DROPPED, NOT_SENT and deciding bounce, the values and links engaged
in, and what the click-burst rule needs (the anchors' instants and every click). Adding entries
in any order gives the same summary, so `fold(history)` equals folding any split of it batch by
batch, and `recipient_state_of(fold(history)) == recipient_state(history)` (tests/unit).

Instants are kept as integer microseconds since the epoch (UTC). The summary is stored as JSON
(recipients.fold); a NULL there means "fold the history once" (app/ingest/refold.py).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from app.enums import BounceType, ResponseType
from app.ingest.automation import SCANNER_LINKS, SCANNER_WINDOW
from app.ingest.contributions import (
    ENGAGEMENT,
    LINKS,
    STATS,
    Contribution,
    Counters,
    RecipientContext,
    engagement_values,
    per_event_parts,
)
from app.ingest.history import HistoryEntry
from app.ingest.recipient_state import (
    DELIVERY_RANK,
    DELIVERY_STAGE,
    PROVES_DELIVERY,
    TYPE_RANK,
    Bounce,
    RecipientState,
    status_of,
)

T = ResponseType
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
WINDOW = SCANNER_WINDOW // MICROSECOND
HARD = BounceType.HARD.value
VERSION = 2  # of the stored JSON; another version is folded again from the history

# Plain values for the hot loop: enum lookups are slow on Python 3.11.
_OPENED, _CLICKED, _DELIVERED = T.OPENED, T.CLICKED, T.DELIVERED
_UNSUBSCRIBED, _DROPPED, _NOT_SENT, _BOUNCED = T.UNSUBSCRIBED, T.DROPPED, T.NOT_SENT, T.BOUNCED
_PURCHASED, _SENT = T.PURCHASED, T.SENT
_ANCHORS = frozenset({T.SENT, T.DELIVERED})
_TYPE_RANK = {kind: rank for kind, rank in TYPE_RANK.items()}
DELIVERED_RANK, BOUNCED_RANK = DELIVERY_RANK[T.DELIVERED], DELIVERY_RANK[T.BOUNCED]
DEFERRED_RANK, DROPPED_RANK = DELIVERY_RANK[T.DEFERRED], DELIVERY_RANK[T.DROPPED]


def micros(moment: datetime) -> int:
    """An aware instant as integer microseconds since the epoch."""
    return (moment - EPOCH) // MICROSECOND


def instant(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + value * MICROSECOND


def _min(a: int | None, b: int) -> int:
    return b if a is None or b < a else a


def _max(a: int | None, b: int) -> int:
    return b if a is None or b > a else a


Latest = tuple[int, int, int]  # (instant, rank, response id): the total order of "latest"
Choice = tuple[int, int, str | None]  # (instant, response id, skip reason) of DROPPED, NOT_SENT
# (1 when hard, instant, id, bounce type, category, diagnostic): the bounce that decides
BounceChoice = tuple[int, int, int, str | None, str | None, str | None]


@dataclass(slots=True)
class FoldState:
    """The summary of a recipient's non-deleted history (see the module docstring)."""

    counts: dict[str, int] = field(default_factory=dict)  # response type value -> responses
    machine_opens: int = 0
    revenue_cents: int = 0
    latest: Latest | None = None
    latest_delivery: Latest | None = None  # rank in DELIVERY_STAGE
    first_delivery: int | None = None
    first_delivered: int | None = None
    first_proof: int | None = None
    first_open: int | None = None  # opens and clicks
    last_open: int | None = None
    first_click: int | None = None
    first_unsubscribe: int | None = None
    dropped: Choice | None = None
    not_sent: Choice | None = None
    bounce: BounceChoice | None = None
    anchors: set[int] = field(default_factory=set)  # SENT and DELIVERED instants
    clicks: dict[int, tuple[int, int | None, bool]] = field(
        default_factory=dict
    )  # id -> t, link, bot
    # "DIMENSION:value" strings (a set of strings loads at C speed), besides the email domain
    opened_values: set[str] = field(default_factory=set)
    clicked_values: set[str] = field(default_factory=set)
    links: set[int] = field(default_factory=set)

    def copy(self) -> "FoldState":
        return FoldState(
            dict(self.counts),
            self.machine_opens,
            self.revenue_cents,
            self.latest,
            self.latest_delivery,
            self.first_delivery,
            self.first_delivered,
            self.first_proof,
            self.first_open,
            self.last_open,
            self.first_click,
            self.first_unsubscribe,
            self.dropped,
            self.not_sent,
            self.bounce,
            set(self.anchors),
            dict(self.clicks),
            set(self.opened_values),
            set(self.clicked_values),
            set(self.links),
        )

    def add(self, entry: HistoryEntry) -> None:
        """Fold one more entry in (in place)."""
        kind = entry.type
        value = kind.value
        t = micros(entry.occurred_at)
        self.counts[value] = self.counts.get(value, 0) + 1
        order = (t, _TYPE_RANK[kind], entry.id)
        if self.latest is None or order > self.latest:
            self.latest = order
        rank = DELIVERY_RANK.get(kind)
        if rank is not None:
            order = (t, rank, entry.id)
            if self.latest_delivery is None or order > self.latest_delivery:
                self.latest_delivery = order
            self.first_delivery = _min(self.first_delivery, t)
            if kind is _DELIVERED:
                self.first_delivered = _min(self.first_delivered, t)
            elif kind is _DROPPED:
                if self.dropped is None or (t, entry.id) > self.dropped[:2]:
                    self.dropped = (t, entry.id, entry.skip_reason)
            elif kind is _BOUNCED:
                hard = int(entry.bounce_type == HARD)
                if self.bounce is None or (hard, t, entry.id) > self.bounce[:3]:
                    self.bounce = (
                        hard,
                        t,
                        entry.id,
                        entry.bounce_type,
                        entry.bounce_category,
                        entry.bounce_diagnostic,
                    )
            if kind in _ANCHORS:
                self.anchors.add(t)
        elif kind is _NOT_SENT:
            if self.not_sent is None or (t, entry.id) > self.not_sent[:2]:
                self.not_sent = (t, entry.id, entry.skip_reason)
        elif kind is _PURCHASED:
            self.revenue_cents += entry.amount_cents or 0
        if kind in PROVES_DELIVERY:
            self.first_proof = _min(self.first_proof, t)
            if kind is _UNSUBSCRIBED:
                self.first_unsubscribe = _min(self.first_unsubscribe, t)
        if kind is _OPENED or kind is _CLICKED:
            self.first_open = _min(self.first_open, t)
            self.last_open = _max(self.last_open, t)
            values = [f"{dimension}:{value}" for dimension, value in engagement_values(entry)]
            self.opened_values.update(values)
            if kind is _OPENED:
                self.machine_opens += entry.machine
            else:
                self.first_click = _min(self.first_click, t)
                self.clicked_values.update(values)
                self.clicks[entry.id] = (t, entry.link_id, entry.bot)
                if entry.link_id is not None:
                    self.links.add(entry.link_id)

    def scanner_clicks(self) -> set[int]:
        """automation.scanner_click_ids over the summary: clicks on several links within seconds
        of an anchor."""
        found: set[int] = set()
        if not self.anchors or len(self.clicks) < SCANNER_LINKS:
            return found
        for anchor in self.anchors:
            inside = [
                (click_id, link)
                for click_id, (t, link, _) in self.clicks.items()
                if anchor <= t <= anchor + WINDOW
            ]
            if len({link for _, link in inside if link is not None}) >= SCANNER_LINKS:
                found.update(click_id for click_id, _ in inside)
        return found

    def flag_scanner_clicks(self) -> set[int]:
        """Mark the click-burst rule's clicks as bot clicks (in place); the ids newly marked."""
        marked = {i for i in self.scanner_clicks() if not self.clicks[i][2]}
        for click_id in marked:
            t, link, _ = self.clicks[click_id]
            self.clicks[click_id] = (t, link, True)
        return marked


def fold(history: Iterable[HistoryEntry], start: FoldState | None = None) -> FoldState:
    """`start` (or nothing) with every entry of `history` folded in; `start` is not changed."""
    state = start.copy() if start is not None else FoldState()
    for entry in history:
        state.add(entry)
    return state


def recipient_state_of(s: FoldState) -> RecipientState:
    """The recipient's state (app/ingest/recipient_state.py) from its summary."""
    count = s.counts.get
    opens, clicks = count("OPENED", 0), count("CLICKED", 0)
    complained, unsubscribed = bool(count("COMPLAINED")), bool(count("UNSUBSCRIBED"))
    delivery_state: ResponseType | None = None
    if opens or clicks or complained or unsubscribed:
        delivery_state = T.DELIVERED
    elif s.latest_delivery is not None:
        delivery_state = DELIVERY_STAGE[s.latest_delivery[1]]
    not_sent = bool(count("NOT_SENT"))
    skip_reason = None
    if delivery_state is T.DROPPED and s.dropped is not None:
        skip_reason = s.dropped[2]
    elif delivery_state is None and s.not_sent is not None:
        skip_reason = s.not_sent[2]
    bounce = None
    hard_bounced = False
    if delivery_state is T.BOUNCED and s.bounce is not None:
        hard_bounced = bool(s.bounce[0])
        bounce = Bounce(
            type=s.bounce[3] or BounceType.SOFT.value,
            category=s.bounce[4] or "UNSPECIFIED",
            diagnostic=s.bounce[5],
        )
    bot_clicks = sum(1 for _, _, bot in s.clicks.values() if bot)
    opened, clicked = bool(opens or clicks), bool(clicks)
    status = status_of(complained, unsubscribed, clicked, opened, delivery_state, not_sent)
    delivered_at = instant(s.first_delivered) or (
        instant(s.first_proof) if delivery_state is T.DELIVERED else None
    )
    return RecipientState(
        status=status,
        delivery_state=delivery_state,
        not_sent=not_sent,
        skip_reason=skip_reason,
        bounce=bounce,
        hard_bounced=hard_bounced,
        sent_at=instant(s.first_delivery) or delivered_at,
        delivered_at=delivered_at,
        first_opened_at=instant(s.first_open),
        last_opened_at=instant(s.last_open),
        first_clicked_at=instant(s.first_click),
        unsubscribed_at=instant(s.first_unsubscribe),
        opens=opens,
        machine_opens=s.machine_opens,
        clicks=clicks,
        bot_clicks=bot_clicks,
        opened=opened,
        human_opened=opens > s.machine_opens or clicks > bot_clicks,
        clicked=clicked,
        human_clicked=clicks > bot_clicks,
        complained=complained,
        unsubscribed=unsubscribed,
        responded=bool(count("RESPONDED")),
        lead=bool(count("LEAD")),
        opportunity=bool(count("OPPORTUNITY")),
        purchased=bool(count("PURCHASED")),
        revenue_cents=s.revenue_cents,
        latest_response_id=s.latest[2] if s.latest else None,
        latest_response_at=instant(s.latest[0]) if s.latest else None,
    )


def engaged_sets(
    s: FoldState, context: RecipientContext
) -> tuple[set[tuple[str, str]], set[tuple[str, str]], set[int]]:
    """The values a recipient opened and clicked in (its email domain too), and its links."""
    domain = ("EMAIL_DOMAIN", context.email_domain)
    opened = {_pair(v) for v in s.opened_values} | {domain} if s.first_open is not None else set()
    clicked = (
        {_pair(v) for v in s.clicked_values} | {domain} if s.first_click is not None else set()
    )
    return opened, clicked, set(s.links)


def _pair(value: str) -> tuple[str, str]:
    dimension, _, text = value.partition(":")
    return dimension, text


def stats_of(s: FoldState) -> Counters:
    """contributions.stats_counters(recipient_state_of(s)), straight from the summary."""
    count = s.counts.get
    opens, clicks = count("OPENED", 0), count("CLICKED", 0)
    complained, unsubscribed = bool(count("COMPLAINED")), bool(count("UNSUBSCRIBED"))
    rank = None
    if opens or clicks or complained or unsubscribed:
        rank = DELIVERED_RANK
    elif s.latest_delivery is not None:
        rank = s.latest_delivery[1]
    bounced = rank == BOUNCED_RANK
    hard = bounced and s.bounce is not None and bool(s.bounce[0])
    bot_clicks = sum(1 for _, _, bot in s.clicks.values() if bot) if clicks else 0
    opened, clicked = bool(opens or clicks), bool(clicks)
    opted_out = unsubscribed or complained
    delivered = rank == DELIVERED_RANK
    return {
        "recipients": 1,
        "sent": int(rank is not None),
        "not_sent": int(rank is None and bool(count("NOT_SENT"))),
        "delivered": int(delivered),
        "deferred": int(rank == DEFERRED_RANK),
        "dropped": int(rank == DROPPED_RANK),
        "bounced": int(bounced),
        "hard_bounced": int(hard),
        "soft_bounced": int(bounced and not hard),
        "opened": int(opened),
        "opens": opens,
        "clicked": int(clicked),
        "clicks": clicks,
        "human_opened": int(opens > s.machine_opens or clicks > bot_clicks),
        "human_clicked": int(clicks > bot_clicks),
        "machine_opens": s.machine_opens,
        "bot_clicks": bot_clicks,
        "complained": int(complained),
        "unsubscribed": int(unsubscribed),
        "responded": int(bool(count("RESPONDED"))),
        "leads": int(bool(count("LEAD"))),
        "opportunities": int(bool(count("OPPORTUNITY"))),
        "purchases": int(bool(count("PURCHASED"))),
        "revenue_cents": s.revenue_cents,
        "funnel_opted_out": int(opted_out),
        "funnel_clicked": int(not opted_out and clicked),
        "funnel_opened": int(not opted_out and not clicked and opened),
        "funnel_received": int(not opted_out and not opened and delivered),
        "funnel_not_received": int(not opted_out and not opened and not delivered),
    }


def fold_change(
    context: RecipientContext,
    old: FoldState,
    new: FoldState,
    added: Iterable[HistoryEntry],
    into: Contribution | None = None,
) -> Contribution:
    """What a recipient adds to the aggregates after `added` folded `old` into `new` (and click
    flags may have moved), with the same context: contributions.contribution_change without the
    history. Added to `into` when given (a batch's total; counters may end at 0 there)."""
    result: Contribution = {} if into is None else into
    per_event_parts(context, added, into=result)
    old_stats, new_stats = stats_of(old), stats_of(new)
    if old_stats != new_stats:
        key = (STATS, (context.campaign_id, context.variant_id or 0, context.owner_id or 0))
        target = result.setdefault(key, {})
        for field_name, amount in new_stats.items():
            if amount != old_stats[field_name]:
                target[field_name] = target.get(field_name, 0) + amount - old_stats[field_name]
    if (
        (new.first_open is None) != (old.first_open is None)
        or (new.first_click is None) != (old.first_click is None)
        or new.opened_values != old.opened_values
        or new.clicked_values != old.clicked_values
        or new.links != old.links
    ):
        old_opened, old_clicked, old_links = engaged_sets(old, context)
        opened, clicked, links = engaged_sets(new, context)
        campaign_id, variant = context.campaign_id, context.variant_id or 0
        for values, old_values, name in (
            (opened, old_opened, "opened"),
            (clicked, old_clicked, "clicked"),
        ):
            for dimension, value in values ^ old_values:
                counters = result.setdefault((ENGAGEMENT, (campaign_id, dimension, value)), {})
                counters[name] = counters.get(name, 0) + (1 if (dimension, value) in values else -1)
        for link_id in links ^ old_links:
            counters = result.setdefault((LINKS, (link_id, variant)), {})
            counters["clicked"] = counters.get("clicked", 0) + (1 if link_id in links else -1)
    if into is not None:
        return result
    return nonzero(result)


def nonzero(contribution: Contribution) -> Contribution:
    """The contribution without counters at 0, and without keys left empty."""
    return {
        key: kept
        for key, counters in contribution.items()
        if (kept := {name: amount for name, amount in counters.items() if amount})
    }


def dumps(s: FoldState) -> str:
    """The summary as compact JSON (sets sorted, so equal summaries give equal text)."""
    return orjson.dumps(
        [
            VERSION,
            s.counts,
            s.machine_opens,
            s.revenue_cents,
            s.latest,
            s.latest_delivery,
            s.first_delivery,
            s.first_delivered,
            s.first_proof,
            s.first_open,
            s.last_open,
            s.first_click,
            s.first_unsubscribe,
            s.dropped,
            s.not_sent,
            s.bounce,
            sorted(s.anchors),
            sorted([click_id, *click] for click_id, click in s.clicks.items()),
            sorted(s.opened_values),
            sorted(s.clicked_values),
            sorted(s.links),
        ],
        option=orjson.OPT_SORT_KEYS,
    ).decode()


def _tuple(value: Any) -> Any:
    return tuple(value) if value is not None else None


def loads(text: str | bytes | None) -> FoldState | None:
    """The stored summary, or None when there is none (or of another version): fold again."""
    if text is None:
        return None
    data = orjson.loads(text)
    if not isinstance(data, list) or not data or data[0] != VERSION:
        return None
    return FoldState(
        counts=data[1],
        machine_opens=data[2],
        revenue_cents=data[3],
        latest=_tuple(data[4]),
        latest_delivery=_tuple(data[5]),
        first_delivery=data[6],
        first_delivered=data[7],
        first_proof=data[8],
        first_open=data[9],
        last_open=data[10],
        first_click=data[11],
        first_unsubscribe=data[12],
        dropped=_tuple(data[13]),
        not_sent=_tuple(data[14]),
        bounce=_tuple(data[15]),
        anchors=set(data[16]),
        clicks={click[0]: (click[1], click[2], bool(click[3])) for click in data[17]},
        opened_values=set(data[18]),
        clicked_values=set(data[19]),
        links=set(data[20]),
    )


EMPTY = dumps(FoldState())
