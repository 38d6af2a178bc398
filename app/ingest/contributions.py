"""What one recipient adds to each pre-aggregated table: a pure function of its history.

When a recipient's history changes, the aggregates change by `difference(after, before)`; adding
that to the stored rows keeps every aggregate equal to a recomputation from the history.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from app.enums import Dimension, ResponseType
from app.ingest.history import HistoryEntry
from app.ingest.recipient_state import RecipientState, recipient_state

T = ResponseType

# Table names as the aggregate writer knows them.
STATS = "campaign_stats"
TIMELINE = "timeline_buckets"
ENGAGEMENT = "engagement_stats"
LINKS = "link_stats"
LINK_CLICKERS = "link_clicker_stats"

TIMELINE_FIELD = {
    T.SENT: "sent",
    T.DELIVERED: "delivered",
    T.OPENED: "opens",
    T.CLICKED: "clicks",
    T.BOUNCED: "bounced",
    T.UNSUBSCRIBED: "unsubscribed",
}

ENTRY_DIMENSIONS = {
    Dimension.COUNTRY: "country",
    Dimension.CITY: "city",
    Dimension.EMAIL_CLIENT: "email_client",
    Dimension.DEVICE: "device",
    Dimension.BROWSER: "browser",
    Dimension.OS: "os",
}

AggregateKey = tuple[str, tuple[object, ...]]  # (table, primary key)
Counters = dict[str, int]
Contribution = dict[AggregateKey, Counters]


@dataclass(frozen=True, slots=True)
class RecipientContext:
    """Where a recipient's contribution lands: its campaign, variant, owner, contact."""

    campaign_id: int
    variant_id: int | None
    owner_id: int | None
    contact_id: int
    email: str

    @property
    def email_domain(self) -> str:
        return self.email.rsplit("@", 1)[-1].lower()


def quarter_hour(moment: datetime) -> datetime:
    """The start of the 15-minute UTC bucket holding `moment`."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def stats_counters(state: RecipientState) -> Counters:
    """The recipient's row in the campaign statistics (docs/metrics.md)."""
    delivery = state.delivery_state
    opted_out = state.unsubscribed or state.complained
    return {
        "recipients": 1,
        "sent": int(delivery is not None),
        "not_sent": int(delivery is None and state.not_sent),
        "delivered": int(delivery is T.DELIVERED),
        "deferred": int(delivery is T.DEFERRED),
        "dropped": int(delivery is T.DROPPED),
        "bounced": int(delivery is T.BOUNCED),
        "hard_bounced": int(state.hard_bounced),
        "soft_bounced": int(delivery is T.BOUNCED and not state.hard_bounced),
        "opened": int(state.opened),
        "opens": state.opens,
        "clicked": int(state.clicked),
        "clicks": state.clicks,
        "human_opened": int(state.human_opened),
        "human_clicked": int(state.human_clicked),
        "machine_opens": state.machine_opens,
        "bot_clicks": state.bot_clicks,
        "complained": int(state.complained),
        "unsubscribed": int(state.unsubscribed),
        "responded": int(state.responded),
        "leads": int(state.lead),
        "opportunities": int(state.opportunity),
        "purchases": int(state.purchased),
        "revenue_cents": state.revenue_cents,
        "funnel_opted_out": int(opted_out),
        "funnel_clicked": int(not opted_out and state.clicked),
        "funnel_opened": int(not opted_out and not state.clicked and state.opened),
        "funnel_received": int(not opted_out and not state.opened and delivery is T.DELIVERED),
        "funnel_not_received": int(
            not opted_out and not state.opened and delivery is not T.DELIVERED
        ),
    }


def _add(contribution: Contribution, key: AggregateKey, field: str, amount: int = 1) -> None:
    counters = contribution.setdefault(key, {})
    counters[field] = counters.get(field, 0) + amount


# Plain values for the hot loop below: enum attribute lookups are slow on Python 3.11.
_OPENED, _CLICKED = T.OPENED, T.CLICKED
_ENTRY_DIMENSIONS = tuple(
    (dimension.value, attribute) for dimension, attribute in ENTRY_DIMENSIONS.items()
)
_EMAIL_DOMAIN = Dimension.EMAIL_DOMAIN.value


def contribution(context: RecipientContext, history: Iterable[HistoryEntry]) -> Contribution:
    """Everything a recipient with this history adds to the aggregate tables."""
    entries = list(history)
    campaign_id = context.campaign_id
    variant = context.variant_id or 0
    result = per_event_parts(context, entries)
    result[(STATS, (campaign_id, variant, context.owner_id or 0))] = stats_counters(
        recipient_state(entries)
    )
    opened, clicked, links = _engaged_values(context, entries)
    for dimension, value in opened:
        _add(result, (ENGAGEMENT, (campaign_id, dimension, value)), "opened")
    for dimension, value in clicked:
        _add(result, (ENGAGEMENT, (campaign_id, dimension, value)), "clicked")
    for link_id in links:
        _add(result, (LINKS, (link_id, variant)), "clicked")
    return result


def _entry_key(entry: HistoryEntry) -> tuple[object, ...]:
    """What the per-event parts of a contribution read of an entry (not its machine/bot flags)."""
    return (
        entry.type,
        entry.occurred_at,
        entry.link_id,
        entry.country,
        entry.city,
        entry.email_client,
        entry.device,
        entry.browser,
        entry.os,
    )


def engagement_values(entry: HistoryEntry) -> list[tuple[str, str]]:
    """The (dimension, value) pairs an open or click carries itself (not the email domain)."""
    return [
        (dimension, value)
        for dimension, attribute in _ENTRY_DIMENSIONS
        if (value := getattr(entry, attribute))
    ]


def _engagement_values(entry: HistoryEntry, domain: tuple[str, str]) -> list[tuple[str, str]]:
    """The (dimension, value) pairs an open or click counts in: the email domain and each
    dimension the event carries."""
    return [domain, *engagement_values(entry)]


def _engaged_values(
    context: RecipientContext, entries: Iterable[HistoryEntry]
) -> tuple[set[tuple[str, str]], set[tuple[str, str]], set[int]]:
    """The values a recipient opened and clicked in, and the links it clicked."""
    opened: set[tuple[str, str]] = set()
    clicked: set[tuple[str, str]] = set()
    links: set[int] = set()
    domain = (_EMAIL_DOMAIN, context.email_domain)
    for entry in entries:
        kind = entry.type
        if kind is not _OPENED and kind is not _CLICKED:
            continue
        values = _engagement_values(entry, domain)
        opened.update(values)
        if kind is _CLICKED:
            clicked.update(values)
            if entry.link_id is not None:
                links.add(entry.link_id)
    return opened, clicked, links


def contribution_change(
    old_context: RecipientContext,
    old_history: list[HistoryEntry],
    context: RecipientContext,
    history: list[HistoryEntry],
    state: RecipientState | None = None,
) -> Contribution:
    """`difference(contribution(context, history), contribution(old_context, old_history))`,
    computed from what changed rather than from two whole contributions.

    Ingest adds a few events to long histories: the per-event parts (timeline, events per value,
    link clicks) change by the added and removed events alone, and the per-recipient parts (stats,
    unique openers per value, unique clickers per link) are compared whole. A test checks that
    this equals the plain difference for arbitrary histories.
    """
    if context != old_context:
        return difference(contribution(context, history), contribution(old_context, old_history))
    old_state = recipient_state(old_history)
    state = state or recipient_state(history)  # the caller may have folded it already
    result: Contribution = {}
    stats_key = (STATS, (context.campaign_id, context.variant_id or 0, context.owner_id or 0))
    old_stats, new_stats = stats_counters(old_state), stats_counters(state)
    changed = {
        name: value - old_stats[name]
        for name, value in new_stats.items()
        if value != old_stats[name]
    }
    if changed:
        result[stats_key] = changed

    old_keys = {entry.id: _entry_key(entry) for entry in old_history}
    new_keys = {entry.id: _entry_key(entry) for entry in history}
    added = [entry for entry in history if old_keys.get(entry.id) != new_keys[entry.id]]
    removed = [entry for entry in old_history if new_keys.get(entry.id) != old_keys[entry.id]]
    if not added and not removed:
        return result
    # The per-event parts of the added minus the removed entries.
    for entries, sign in ((added, 1), (removed, -1)):
        for key, counters in per_event_parts(context, entries).items():
            target = result.setdefault(key, {})
            for field, amount in counters.items():
                target[field] = target.get(field, 0) + sign * amount
    if any(entry.type in (_OPENED, _CLICKED) for entry in (*added, *removed)):
        old_opened, old_clicked, old_links = _engaged_values(old_context, old_history)
        if removed:
            opened, clicked, links = _engaged_values(context, history)
        else:  # only added: the new sets are the old ones and the added entries' values
            opened, clicked, links = _engaged_values(context, added)
            opened, clicked, links = opened | old_opened, clicked | old_clicked, links | old_links
        campaign_id, variant = context.campaign_id, context.variant_id or 0
        for values, old_values, field in (
            (opened, old_opened, "opened"),
            (clicked, old_clicked, "clicked"),
        ):
            for dimension, value in values ^ old_values:
                sign = 1 if (dimension, value) in values else -1
                _add(result, (ENGAGEMENT, (campaign_id, dimension, value)), field, sign)
        for link_id in links ^ old_links:
            _add(result, (LINKS, (link_id, variant)), "clicked", 1 if link_id in links else -1)
    return {
        key: kept
        for key, counters in result.items()
        if (kept := {field: amount for field, amount in counters.items() if amount})
    }


def per_event_parts(
    context: RecipientContext, entries: Iterable[HistoryEntry], into: Contribution | None = None
) -> Contribution:
    """The parts of a contribution that each event adds on its own: timeline counts, events per
    value, link clicks and clicks per link and contact (added to `into` when given)."""
    result: Contribution = {} if into is None else into
    campaign_id = context.campaign_id
    variant = context.variant_id or 0
    domain = (_EMAIL_DOMAIN, context.email_domain)
    for entry in entries:
        kind = entry.type
        timeline_field = TIMELINE_FIELD.get(kind)
        if timeline_field:
            bucket = (campaign_id, variant, quarter_hour(entry.occurred_at))
            _add(result, (TIMELINE, bucket), timeline_field)
        if kind is not _OPENED and kind is not _CLICKED:
            continue
        values = _engagement_values(entry, domain)
        events_field = "opens" if kind is _OPENED else "clicks"
        for dimension, value in values:
            _add(result, (ENGAGEMENT, (campaign_id, dimension, value)), events_field)
        if kind is _CLICKED and entry.link_id is not None:
            _add(result, (LINKS, (entry.link_id, variant)), "clicks")
            _add(result, (LINK_CLICKERS, (entry.link_id, context.contact_id)), "clicks")
    return result


def difference(
    after: Mapping[AggregateKey, Counters], before: Mapping[AggregateKey, Counters]
) -> Contribution:
    """after - before, keeping only the counters that change."""
    delta: Contribution = {}
    for key in after.keys() | before.keys():
        new, old = after.get(key, {}), before.get(key, {})
        changed = {
            field: new.get(field, 0) - old.get(field, 0)
            for field in new.keys() | old.keys()
            if new.get(field, 0) != old.get(field, 0)
        }
        if changed:
            delta[key] = changed
    return delta


def total(contributions: Iterable[Mapping[AggregateKey, Counters]]) -> Contribution:
    """The sum of several contributions (a batch's deltas, or a recomputation)."""
    result: Contribution = {}
    for part in contributions:
        for key, counters in part.items():
            target = result.get(key)
            if target is None:
                result[key] = dict(counters)
                continue
            for field, amount in counters.items():
                target[field] = target.get(field, 0) + amount
    return result
