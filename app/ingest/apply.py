"""The database edge of ingest: store history, fold recipients, add aggregate deltas.

`apply_events` runs inside the caller's write transaction, with a fixed number of statements per
batch whatever its size (SQLite's parameter limit splits the responses insert every 914 rows; a
batch naming several campaigns looks their recipients up per campaign). Each touched recipient is
locked (SQLite: BEGIN IMMEDIATE; PostgreSQL: SELECT ... FOR UPDATE, in id order) and its stored
summary read (app/ingest/fold_state.py); only the responses this batch inserted are folded into
it, and the aggregates change by the difference of the two summaries: the history is not read.
A recipient without a summary, or moving to a variant, is folded once from its whole history.
Rows are written set-based through the driver (app/ingest/bulk.py).
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app import versions
from app.database import in_chunks
from app.enums import BounceType, ResponseSource, ResponseType, SkipReason
from app.ingest.aggregate_writer import add_deltas
from app.ingest.automation import RULE_VERSION, ClassificationReason
from app.ingest.bulk import insert_returning
from app.ingest.contributions import (
    Contribution,
    RecipientContext,
    contribution_change,
)
from app.ingest.enrich import enrich
from app.ingest.events import CanonicalEvent
from app.ingest.fold_state import FoldState, fold, fold_change, nonzero, recipient_state_of
from app.ingest.history import HistoryEntry
from app.ingest.matching import (
    ContactRow,
    campaign_ids,
    contact_for,
    ensure_recipients,
    get_or_create,
    known_keys,
    resolve_contacts,
)
from app.ingest.merge_fields import store_sent_merge_fields
from app.ingest.recipient_state import RecipientState
from app.ingest.refold import (
    TYPE_OF_VALUE,
    load_histories,
    lock_folds,
    store_recipients,
)
from app.ingest.unmatched import keep_unmatched
from app.models import Contact, Link, Response, Variant

T = ResponseType

# Engagement that suppresses a contact for later campaigns, and the reason it gets.
SUPPRESSING = {
    T.COMPLAINED: SkipReason.COMPLAINED,
    T.UNSUBSCRIBED: SkipReason.UNSUBSCRIBED,
}


def suppression_reason(kind: ResponseType, bounce_type: str | None) -> SkipReason | None:
    """The reason a response keeps its contact out of later campaigns, if it does: a complaint,
    an unsubscribe, a hard bounce."""
    if kind is T.BOUNCED and bounce_type == BounceType.HARD.value:
        return SkipReason.PREVIOUSLY_BOUNCED
    return SUPPRESSING.get(kind)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    unmatched: int = 0
    campaign_ids: set[int] = field(default_factory=set)
    recipient_ids: set[int] = field(default_factory=set)
    # event key -> response id, for callers that return the stored response
    response_ids: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "unmatched": self.unmatched,
        }

    def merge(self, other: "IngestResult") -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.unmatched += other.unmatched
        self.campaign_ids |= other.campaign_ids
        self.recipient_ids |= other.recipient_ids
        self.response_ids.update(other.response_ids)


async def apply_events(
    connection: AsyncConnection,
    organization_id: int,
    events: Sequence[CanonicalEvent],
    *,
    source: ResponseSource = ResponseSource.TRACKED,
    recorded_by: str | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Apply a validated batch inside the caller's write transaction."""
    now = now or datetime.now(UTC)
    result = IngestResult()

    unique: dict[str, CanonicalEvent] = {}
    for event in events:
        if event.key in unique:
            result.duplicates += 1
        else:
            unique[event.key] = event
    known = await known_keys(connection, organization_id, list(unique))
    result.duplicates += len(known)
    fresh = [event for key, event in unique.items() if key not in known]
    if not fresh:
        return result

    campaigns = await campaign_ids(connection, organization_id, {e.campaign for e in fresh})
    no_campaign = [event for event in fresh if event.campaign not in campaigns]
    await keep_unmatched(connection, organization_id, no_campaign, "unknown campaign", now)
    matched = [event for event in fresh if event.campaign in campaigns]

    contacts = await resolve_contacts(connection, organization_id, matched, now)
    no_contact = [event for event in matched if contact_for(contacts, event) is None]
    await keep_unmatched(connection, organization_id, no_contact, "unknown contact", now)
    result.unmatched = len(no_campaign) + len(no_contact)
    matched = [event for event in matched if contact_for(contacts, event) is not None]
    if not matched:
        return result

    variants = await get_or_create(
        connection,
        Variant,
        "name",
        {(campaigns[e.campaign], e.variant) for e in matched if e.variant},
    )
    links = await get_or_create(
        connection, Link, "url", {(campaigns[e.campaign], e.url) for e in matched if e.url}
    )

    def keys_of(event: CanonicalEvent) -> tuple[int, ContactRow, int | None]:
        campaign_id = campaigns[event.campaign]
        contact = contact_for(contacts, event)
        assert contact is not None
        variant_id = variants[(campaign_id, event.variant)] if event.variant else None
        return campaign_id, contact, variant_id

    wanted: dict[tuple[int, int], tuple[int | None, int | None]] = {}
    for event in matched:
        campaign_id, contact, variant_id = keys_of(event)
        previous = wanted.get((campaign_id, contact.id), (None, contact.owner_id))
        wanted[(campaign_id, contact.id)] = (previous[0] or variant_id, contact.owner_id)
    recipients, _ = await ensure_recipients(connection, wanted, now)

    locked = await lock_folds(connection, recipients.values())

    rows = []
    moves: dict[int, int] = {}  # recipient first seen without a variant -> the variant named
    for event in matched:
        campaign_id, contact, variant_id = keys_of(event)
        recipient_id = recipients[(campaign_id, contact.id)]
        if variant_id is not None and locked[recipient_id][0].variant_id is None:
            moves.setdefault(recipient_id, variant_id)
        rows.append(
            response_row(
                organization_id,
                event,
                campaign_id,
                contact.id,
                recipient_id,
                variant_id,
                links,
                source,
                recorded_by,
                now,
            )
        )
    # In event-key order: concurrent batches of the same events wait for each other, never
    # deadlock on the unique key.
    rows.sort(key=lambda row: row["event_key"])
    inserted_rows = await insert_returning(
        connection,
        Response.__table__,  # type: ignore[arg-type]
        RESPONSE_COLUMNS,
        [[row[name] for name in RESPONSE_COLUMNS] for row in rows],
        conflict=("organization_id", "event_key"),
        returning=("id", "recipient_id", "event_key"),
    )
    await store_sent_merge_fields(connection, unique, inserted_rows, now)  # issue 15
    # A concurrent batch may have stored the same event first: then it is a duplicate here.
    result.duplicates += len(rows) - len(inserted_rows)
    result.accepted = len(inserted_rows)

    by_key = {row["event_key"]: row for row in rows}
    added: dict[int, list[HistoryEntry]] = {}
    for response_id, recipient_id, event_key in sorted(inserted_rows):
        added.setdefault(recipient_id, []).append(new_entry(response_id, by_key[event_key]))
        result.response_ids[event_key] = response_id
    changed = set(added)
    # Only the events inserted now are folded into each stored summary. A recipient without one,
    # or moving to a variant (its every event moves), is folded again from its whole history.
    refolded = {rid for rid in changed if locked[rid][1] is None or rid in moves}
    histories = await load_histories(connection, refolded) if refolded else {}
    marked: set[int] = set()
    folded: dict[int, tuple[RecipientContext, FoldState, RecipientState]] = {}
    delta: Contribution = {}  # the batch's, summed per aggregate key as it is computed
    for rid in sorted(changed):
        context, stored = locked[rid]
        new_ids = {entry.id for entry in added[rid]}
        old_history = [e for e in histories.get(rid, []) if e.id not in new_ids]
        old = stored if stored is not None else fold(old_history)
        new = fold(added[rid], old)
        # Several links clicked within seconds of delivery are a scanner's
        # (app/ingest/automation.py); the rule only ever adds flags, so any order of arrival ends
        # the same.
        flagged = new.flag_scanner_clicks()
        marked |= flagged
        state = recipient_state_of(new)
        if rid in moves or stored is None:
            new_context = dataclasses.replace(
                context, variant_id=moves.get(rid, context.variant_id)
            )
            history = [
                dataclasses.replace(e, bot=True) if e.id in flagged else e
                for e in old_history + added[rid]
            ]
            change = contribution_change(context, old_history, new_context, history, state)
            for key, counters in change.items():
                target = delta.setdefault(key, {})
                for name, amount in counters.items():
                    target[name] = target.get(name, 0) + amount
            folded[rid] = (new_context, new, state)
        else:
            fold_change(context, old, new, added[rid], into=delta)
            folded[rid] = (context, new, state)
    for chunk in in_chunks(sorted(marked)):
        await connection.execute(
            update(Response)
            .where(Response.id.in_(chunk))
            .values(
                bot=True,
                classified_by=ClassificationReason.CLICK_BURST.value,
                rule_version=RULE_VERSION,
            )
        )
    await store_recipients(connection, folded, now)
    await add_deltas(connection, nonzero(delta), now)
    await suppress_contacts(connection, matched, contacts, now)
    result.campaign_ids = {locked[rid][0].campaign_id for rid in changed}
    await versions.bump(connection, organization_id, result.campaign_ids, now)  # issue 14
    result.recipient_ids = changed
    return result


# The responses columns ingest writes, in the order of `response_row`.
RESPONSE_COLUMNS = (
    "organization_id", "campaign_id", "contact_id", "recipient_id", "variant_id", "link_id",
    "type", "occurred_at", "recorded_at", "source", "event_key", "provider", "note",
    "amount_cents", "bounce_type", "bounce_category", "bounce_diagnostic", "skip_reason",
    "user_agent", "ip", "country", "city", "email_client", "device", "browser", "os", "machine",
    "bot", "classified_by", "rule_version", "reported", "recorded_by", "deleted_at", "deleted_by",
    "deletion_note",
)  # fmt: skip


def new_entry(response_id: int, row: dict[str, Any]) -> HistoryEntry:
    """The history entry of a response just stored from `row` (what the fold reads of it)."""
    return HistoryEntry(
        response_id,
        TYPE_OF_VALUE[row["type"]],
        row["occurred_at"],
        row["link_id"],
        row["amount_cents"],
        row["bounce_type"],
        row["bounce_category"],
        row["bounce_diagnostic"],
        row["skip_reason"],
        bool(row["machine"]),
        bool(row["bot"]),
        row["country"],
        row["city"],
        row["email_client"],
        row["device"],
        row["browser"],
        row["os"],
    )


def response_row(
    organization_id: int,
    event: CanonicalEvent,
    campaign_id: int,
    contact_id: int,
    recipient_id: int,
    variant_id: int | None,
    links: dict[tuple[int, str], int],
    source: ResponseSource,
    recorded_by: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The responses row of one event."""
    enrichment = enrich(event)
    return {
        "organization_id": organization_id,
        "campaign_id": campaign_id,
        "contact_id": contact_id,
        "recipient_id": recipient_id,
        "variant_id": variant_id,
        "link_id": links.get((campaign_id, event.url)) if event.url else None,
        "type": event.type.value,
        "occurred_at": event.occurred_at,
        "recorded_at": now,
        "source": source.value,
        "event_key": event.key,
        "provider": event.provider,
        "note": event.note,
        "amount_cents": event.amount_cents,
        "bounce_type": event.bounce_type,
        "bounce_category": event.bounce_category,
        "bounce_diagnostic": event.bounce_diagnostic,
        "skip_reason": event.skip_reason,
        "user_agent": event.user_agent,
        "ip": event.ip,
        "country": event.country,
        "city": event.city,
        "email_client": enrichment.email_client,
        "device": enrichment.device,
        "browser": enrichment.browser,
        "os": enrichment.os,
        "machine": enrichment.machine,
        "bot": enrichment.bot,
        "classified_by": enrichment.reason.value if enrichment.reason else None,
        "rule_version": RULE_VERSION,
        "reported": enrichment.reported,
        "recorded_by": recorded_by,
        "deleted_at": None,
        "deleted_by": None,
        "deletion_note": None,
    }


async def suppress_contacts(
    connection: AsyncConnection,
    events: Sequence[CanonicalEvent],
    contacts: dict[str, ContactRow],
    now: datetime,
) -> None:
    """A hard bounce, complaint or unsubscribe keeps the contact out of later campaigns."""
    reasons: dict[int, str] = {}
    for event in events:
        reason = suppression_reason(event.type, event.bounce_type)
        contact = contact_for(contacts, event)
        if reason is not None and contact is not None:
            reasons.setdefault(contact.id, reason.value)
    if reasons:
        await connection.execute(
            update(Contact)
            .where(
                and_(Contact.id == bindparam("contact_key"), Contact.suppression_reason.is_(None))
            )
            .values(suppression_reason=bindparam("reason"), suppressed_at=now),
            [{"contact_key": cid, "reason": reason} for cid, reason in sorted(reasons.items())],
        )
