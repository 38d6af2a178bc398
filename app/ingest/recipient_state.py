"""A recipient's state as a pure function of its history (docs/metrics.md).

Nothing here depends on the order the entries arrive in: every choice is by `occurred_at`, with
fixed tie-breaks, so the same events in any order fold to the same state.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app.enums import BounceType, RecipientStatus, ResponseType
from app.ingest.history import HistoryEntry

T = ResponseType

# Delivery-stage events, in the order that breaks ties at the same instant (BOUNCED wins).
DELIVERY_STAGE = (T.SENT, T.DEFERRED, T.DROPPED, T.DELIVERED, T.BOUNCED)
DELIVERY_RANK = {kind: rank for rank, kind in enumerate(DELIVERY_STAGE)}
# Engagement that can only happen to a delivered message.
PROVES_DELIVERY = frozenset({T.OPENED, T.CLICKED, T.COMPLAINED, T.UNSUBSCRIBED})
# The order that breaks ties for "latest response" at the same instant: the further point wins.
TYPE_RANK = {kind: rank for rank, kind in enumerate(ResponseType)}
# Iterating an Enum class is slow; the fold runs for every touched recipient.
ALL_TYPES = tuple(ResponseType)


@dataclass(frozen=True, slots=True)
class Bounce:
    type: str
    category: str
    diagnostic: str | None


@dataclass(frozen=True, slots=True)
class RecipientState:
    status: RecipientStatus
    delivery_state: ResponseType | None
    not_sent: bool
    skip_reason: str | None
    bounce: Bounce | None
    hard_bounced: bool
    sent_at: datetime | None
    delivered_at: datetime | None
    first_opened_at: datetime | None
    last_opened_at: datetime | None
    first_clicked_at: datetime | None
    unsubscribed_at: datetime | None
    opens: int
    machine_opens: int
    clicks: int
    bot_clicks: int
    opened: bool
    human_opened: bool
    clicked: bool
    human_clicked: bool
    complained: bool
    unsubscribed: bool
    responded: bool
    lead: bool
    opportunity: bool
    purchased: bool
    revenue_cents: int
    latest_response_id: int | None
    latest_response_at: datetime | None


def _latest(entries: list[HistoryEntry], rank: dict[ResponseType, int]) -> HistoryEntry | None:
    if not entries:
        return None
    return max(entries, key=lambda entry: (entry.occurred_at, rank[entry.type], entry.id))


def _earliest(entries: Iterable[HistoryEntry]) -> datetime | None:
    return min((entry.occurred_at for entry in entries), default=None)


def status_of(
    complained: bool,
    unsubscribed: bool,
    clicked: bool,
    opened: bool,
    delivery_state: ResponseType | None,
    not_sent: bool,
) -> RecipientStatus:
    """A recipient's status: the strongest of what its history shows (opting out over engagement,
    engagement over delivery, delivery over a skip), one rule for the full fold and the summary."""
    if complained:
        return RecipientStatus.COMPLAINED
    if unsubscribed:
        return RecipientStatus.UNSUBSCRIBED
    if clicked:
        return RecipientStatus.CLICKED
    if opened:
        return RecipientStatus.OPENED
    if delivery_state is not None:
        return RecipientStatus(delivery_state.value)
    if not_sent:
        return RecipientStatus.NOT_SENT
    return RecipientStatus.QUEUED


def recipient_state(history: Iterable[HistoryEntry]) -> RecipientState:
    """Fold a recipient's non-deleted responses into its state."""
    by_type: dict[ResponseType, list[HistoryEntry]] = {kind: [] for kind in ALL_TYPES}
    for entry in history:
        by_type[entry.type].append(entry)

    opens, clicks = by_type[T.OPENED], by_type[T.CLICKED]
    engaged = opens or clicks or by_type[T.COMPLAINED] or by_type[T.UNSUBSCRIBED]
    delivery_events = [entry for kind in DELIVERY_STAGE for entry in by_type[kind]]

    delivery_state: ResponseType | None
    if engaged:
        delivery_state = T.DELIVERED
    else:
        latest_delivery = _latest(delivery_events, DELIVERY_RANK)
        delivery_state = latest_delivery.type if latest_delivery else None

    not_sent = bool(by_type[T.NOT_SENT])
    skip_reason = None
    if delivery_state is T.DROPPED:
        skip_reason = _latest(by_type[T.DROPPED], TYPE_RANK).skip_reason  # type: ignore[union-attr]
    elif delivery_state is None and not_sent:
        skip_reason = _latest(by_type[T.NOT_SENT], TYPE_RANK).skip_reason  # type: ignore[union-attr]

    bounces = by_type[T.BOUNCED]
    hard_bounced = delivery_state is T.BOUNCED and any(
        entry.bounce_type == BounceType.HARD.value for entry in bounces
    )
    bounce = None
    if delivery_state is T.BOUNCED:
        # The bounce that decides: a hard one if there is any, the latest of those.
        shown = max(
            bounces,
            key=lambda e: (e.bounce_type == BounceType.HARD.value, e.occurred_at, e.id),
        )
        bounce = Bounce(
            type=shown.bounce_type or BounceType.SOFT.value,
            category=shown.bounce_category or "UNSPECIFIED",
            diagnostic=shown.bounce_diagnostic,
        )

    human_opens = [entry for entry in opens if not entry.machine]
    human_clicks = [entry for entry in clicks if not entry.bot]
    opened = bool(opens or clicks)
    clicked = bool(clicks)
    complained = bool(by_type[T.COMPLAINED])
    unsubscribed = bool(by_type[T.UNSUBSCRIBED])

    status = status_of(complained, unsubscribed, clicked, opened, delivery_state, not_sent)

    all_entries = [entry for entries in by_type.values() for entry in entries]
    latest = _latest(all_entries, TYPE_RANK)
    proofs = [entry for kind in PROVES_DELIVERY for entry in by_type[kind]]
    delivered_at = _earliest(by_type[T.DELIVERED]) or (
        _earliest(proofs) if delivery_state is T.DELIVERED else None
    )
    return RecipientState(
        status=status,
        delivery_state=delivery_state,
        not_sent=not_sent,
        skip_reason=skip_reason,
        bounce=bounce,
        hard_bounced=hard_bounced,
        sent_at=_earliest(delivery_events) or delivered_at,
        delivered_at=delivered_at,
        first_opened_at=_earliest(opens + clicks),
        last_opened_at=max((e.occurred_at for e in opens + clicks), default=None),
        first_clicked_at=_earliest(clicks),
        unsubscribed_at=_earliest(by_type[T.UNSUBSCRIBED]),
        opens=len(opens),
        machine_opens=len(opens) - len(human_opens),
        clicks=len(clicks),
        bot_clicks=len(clicks) - len(human_clicks),
        opened=opened,
        human_opened=bool(human_opens or human_clicks),
        clicked=clicked,
        human_clicked=bool(human_clicks),
        complained=complained,
        unsubscribed=unsubscribed,
        responded=bool(by_type[T.RESPONDED]),
        lead=bool(by_type[T.LEAD]),
        opportunity=bool(by_type[T.OPPORTUNITY]),
        purchased=bool(by_type[T.PURCHASED]),
        revenue_cents=sum(entry.amount_cents or 0 for entry in by_type[T.PURCHASED]),
        latest_response_id=latest.id if latest else None,
        latest_response_at=latest.occurred_at if latest else None,
    )
