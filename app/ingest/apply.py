"""The database edge of ingest: store history, fold recipients, add aggregate deltas.

`apply_events` runs inside the caller's write transaction, with a fixed number of statements per
batch whatever its size. A recipient's contribution before and after is computed from its history
read under the write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: SELECT ... FOR UPDATE), so
concurrent batches never lose an update.
"""

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database import in_chunks
from app.enums import BounceType, ResponseSource, ResponseType, SkipReason
from app.ingest.aggregate_writer import add_deltas, dialect_insert
from app.ingest.automation import flag_scanner_clicks
from app.ingest.contributions import (
    Contribution,
    RecipientContext,
    contribution,
    contribution_change,
    total,
)
from app.ingest.enrich import enrich
from app.ingest.events import CanonicalEvent
from app.ingest.history import HistoryEntry
from app.ingest.recipient_sort import refresh_sort_keys
from app.ingest.recipient_state import RecipientState, recipient_state
from app.models import Campaign, Contact, Link, Recipient, Response, UnmatchedEvent, Variant

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


HISTORY_COLUMNS = (
    Response.id,
    Response.recipient_id,
    Response.type,
    Response.occurred_at,
    Response.link_id,
    Response.amount_cents,
    Response.bounce_type,
    Response.bounce_category,
    Response.bounce_diagnostic,
    Response.skip_reason,
    Response.machine,
    Response.bot,
    Response.country,
    Response.city,
    Response.email_client,
    Response.device,
    Response.browser,
    Response.os,
)


# Looking a member up by value through ResponseType(...) is slow; the fold reads every row.
TYPE_OF_VALUE = {kind.value: kind for kind in ResponseType}


def history_entry(row: Any) -> HistoryEntry:
    """A stored response row (HISTORY_COLUMNS first) as the fold sees it."""
    # By position: the fold reads thousands of rows a batch, and a Row's attribute lookups cost
    # three times as much as building the entry.
    return HistoryEntry(
        row[0],
        TYPE_OF_VALUE[row[2]],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        bool(row[10]),
        bool(row[11]),
        row[12],
        row[13],
        row[14],
        row[15],
        row[16],
        row[17],
    )


async def load_histories(
    connection: AsyncConnection, recipient_ids: Iterable[int]
) -> dict[int, list[HistoryEntry]]:
    """The non-deleted history of each recipient."""
    histories: dict[int, list[HistoryEntry]] = defaultdict(list)
    for chunk in in_chunks(sorted(set(recipient_ids))):
        result = await connection.execute(
            select(*HISTORY_COLUMNS).where(
                Response.recipient_id.in_(chunk), Response.deleted_at.is_(None)
            )
        )
        for row in result:
            histories[row.recipient_id].append(history_entry(row))
    return histories


RECIPIENT_CONTEXT_COLUMNS = (
    Recipient.id,
    Recipient.campaign_id,
    Recipient.contact_id,
    Recipient.variant_id,
    Recipient.owner_id,
    Contact.email,
)


async def lock_recipients(
    connection: AsyncConnection, recipient_ids: Iterable[int]
) -> dict[int, RecipientContext]:
    """Each recipient's context, with the recipients locked until commit on PostgreSQL."""
    contexts: dict[int, RecipientContext] = {}
    for chunk in in_chunks(sorted(set(recipient_ids))):
        statement = (
            select(*RECIPIENT_CONTEXT_COLUMNS)
            .join(Contact, Contact.id == Recipient.contact_id)
            .where(Recipient.id.in_(chunk))
            .order_by(Recipient.id)
        )
        if connection.dialect.name == "postgresql":
            statement = statement.with_for_update(of=Recipient.__table__)
        for row in await connection.execute(statement):
            contexts[row.id] = RecipientContext(
                campaign_id=row.campaign_id,
                variant_id=row.variant_id,
                owner_id=row.owner_id,
                contact_id=row.contact_id,
                email=row.email,
            )
    return contexts


def state_columns(state: RecipientState) -> dict[str, Any]:
    """The recipient row's folded columns."""
    bounce = state.bounce
    return {
        "status": state.status.value,
        "skip_reason": state.skip_reason,
        "bounce_type": bounce.type if bounce else None,
        "bounce_category": bounce.category if bounce else None,
        "bounce_diagnostic": bounce.diagnostic if bounce else None,
        "sent_at": state.sent_at,
        "delivered_at": state.delivered_at,
        "first_opened_at": state.first_opened_at,
        "last_opened_at": state.last_opened_at,
        "opens": state.opens,
        "first_clicked_at": state.first_clicked_at,
        "clicks": state.clicks,
        "unsubscribed_at": state.unsubscribed_at,
        "latest_response_id": state.latest_response_id,
        "latest_response_at": state.latest_response_at,
    }


async def refold_recipients(
    connection: AsyncConnection,
    before: dict[int, tuple[RecipientContext, list[HistoryEntry]]],
    after: dict[int, tuple[RecipientContext, list[HistoryEntry]]],
    now: datetime,
) -> None:
    """Store each changed recipient's new state and add the change in its contribution."""
    deltas: list[Contribution] = []
    rows = []
    for recipient_id, (context, history) in after.items():
        old_context, old_history = before[recipient_id]
        state = recipient_state(history)
        deltas.append(contribution_change(old_context, old_history, context, history, state=state))
        rows.append(
            {"recipient_key": recipient_id, "variant_id": context.variant_id, "updated_at": now}
            | state_columns(state)
        )
    if rows:
        columns = [name for name in rows[0] if name != "recipient_key"]
        await connection.execute(
            update(Recipient)
            .where(Recipient.id == bindparam("recipient_key"))
            .values({name: bindparam(name) for name in columns}),
            rows,
        )
    await add_deltas(connection, total(deltas), now)


def serialize_event(event: CanonicalEvent) -> dict[str, Any]:
    data = dataclasses.asdict(event)
    data["type"] = event.type.value
    data["occurred_at"] = event.occurred_at.isoformat()
    return data


def deserialize_event(data: dict[str, Any]) -> CanonicalEvent:
    values = dict(data)
    values["type"] = ResponseType(values["type"])
    values["occurred_at"] = datetime.fromisoformat(values["occurred_at"])
    return CanonicalEvent(**values)


async def keep_unmatched(
    connection: AsyncConnection,
    organization_id: int,
    events: Sequence[CanonicalEvent],
    reason: str,
    now: datetime,
) -> None:
    """Keep events that cannot be applied yet; a kept event that comes back stays kept."""
    if not events:
        return
    statement = dialect_insert(connection, UnmatchedEvent.__table__)  # type: ignore[arg-type]
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["organization_id", "event_key"],
            set_={"applied_at": None, "reason": statement.excluded.reason},
        ),
        [
            {
                "organization_id": organization_id,
                "provider": event.provider,
                "event_key": event.key,
                "campaign_external_id": event.campaign,
                "reason": reason,
                "payload": {"canonical": serialize_event(event)},
                "received_at": now,
            }
            for event in events
        ],
    )


async def _known_keys(
    connection: AsyncConnection, organization_id: int, keys: list[str]
) -> set[str]:
    known: set[str] = set()
    for chunk in in_chunks(keys):
        result = await connection.execute(
            select(Response.event_key).where(
                Response.organization_id == organization_id, Response.event_key.in_(chunk)
            )
        )
        known.update(result.scalars())
        result = await connection.execute(
            select(UnmatchedEvent.event_key).where(
                UnmatchedEvent.organization_id == organization_id,
                UnmatchedEvent.event_key.in_(chunk),
                UnmatchedEvent.applied_at.is_(None),
            )
        )
        known.update(result.scalars())
    return known


async def _campaign_ids(
    connection: AsyncConnection, organization_id: int, external_ids: set[str]
) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in in_chunks(sorted(external_ids)):
        result = await connection.execute(
            select(Campaign.external_id, Campaign.id).where(
                Campaign.organization_id == organization_id, Campaign.external_id.in_(chunk)
            )
        )
        found.update({row.external_id: row.id for row in result})
    return found


@dataclass(frozen=True)
class ContactRow:
    id: int
    email: str
    external_id: str | None
    owner_id: int | None


async def resolve_contacts(
    connection: AsyncConnection,
    organization_id: int,
    events: Sequence[CanonicalEvent],
    now: datetime,
) -> dict[str, ContactRow]:
    """Contacts of the events by email and by external id, creating those with a new email."""

    async def lookup() -> list[ContactRow]:
        rows: list[ContactRow] = []
        emails = sorted({e.contact_email for e in events if e.contact_email})
        external_ids = sorted({e.contact_external_id for e in events if e.contact_external_id})
        columns = (Contact.id, Contact.email, Contact.external_id, Contact.owner_id)
        for column, values in ((Contact.email, emails), (Contact.external_id, external_ids)):
            for chunk in in_chunks(values):
                if chunk:
                    result = await connection.execute(
                        select(*columns).where(
                            Contact.organization_id == organization_id, column.in_(chunk)
                        )
                    )
                    rows += [ContactRow(r.id, r.email, r.external_id, r.owner_id) for r in result]
        return rows

    def index(rows: list[ContactRow]) -> dict[str, ContactRow]:
        found: dict[str, ContactRow] = {}
        for row in rows:
            found[f"email:{row.email}"] = row
            if row.external_id:
                found[f"external:{row.external_id}"] = row
        return found

    found = index(await lookup())
    new: dict[str, dict[str, Any]] = {}
    for event in events:
        if contact_for(found, event) is None and event.contact_email:
            external_id = event.contact_external_id
            if external_id and f"external:{external_id}" in found:
                external_id = None  # taken by another contact: match by email alone
            new.setdefault(
                event.contact_email,
                {
                    "organization_id": organization_id,
                    "email": event.contact_email,
                    "external_id": external_id,
                    "name": event.contact_name,
                    "created_at": now,
                },
            )
    if new:
        statement = dialect_insert(connection, Contact.__table__)  # type: ignore[arg-type]
        # In email order, so that two batches creating the same contacts wait, never deadlock.
        await connection.execute(
            statement.on_conflict_do_nothing(), [new[email] for email in sorted(new)]
        )
        found = index(await lookup())
    return found


def contact_for(found: dict[str, ContactRow], event: CanonicalEvent) -> ContactRow | None:
    """The contact an event names: by external id first, then by email."""
    if event.contact_external_id and f"external:{event.contact_external_id}" in found:
        return found[f"external:{event.contact_external_id}"]
    if event.contact_email:
        return found.get(f"email:{event.contact_email}")
    return None


async def _get_or_create(
    connection: AsyncConnection,
    model: Any,
    key_column: str,
    pairs: set[tuple[int, str]],
) -> dict[tuple[int, str], int]:
    """Ids of variants (by name) or links (by url) of campaigns, created when missing."""
    if not pairs:
        return {}
    table = model.__table__
    statement = dialect_insert(connection, table)
    await connection.execute(
        statement.on_conflict_do_nothing(),
        [{"campaign_id": campaign_id, key_column: value} for campaign_id, value in sorted(pairs)],
    )
    found: dict[tuple[int, str], int] = {}
    for chunk in in_chunks(sorted({campaign_id for campaign_id, _ in pairs})):
        result = await connection.execute(
            select(table.c.id, table.c.campaign_id, table.c[key_column]).where(
                table.c.campaign_id.in_(chunk)
            )
        )
        found.update({(row[1], row[2]): row[0] for row in result})
    return found


async def ensure_recipients(
    connection: AsyncConnection,
    pairs: dict[tuple[int, int], tuple[int | None, int | None]],
    now: datetime,
) -> tuple[dict[tuple[int, int], int], set[int]]:
    """Recipient ids by (campaign, contact), and which of them are new.

    New recipients get the given (variant, owner), and their contribution with an empty history
    (one more recipient, not received) is added at once: every recipient counts from its creation.
    """
    if not pairs:
        return {}, set()
    statement = dialect_insert(connection, Recipient.__table__)  # type: ignore[arg-type]
    created = await connection.execute(
        statement.on_conflict_do_nothing().returning(Recipient.id),
        [
            {
                "campaign_id": campaign_id,
                "contact_id": contact_id,
                "variant_id": variant_id,
                "owner_id": owner_id,
                "created_at": now,
                "updated_at": now,
                "status": "QUEUED",
            }
            for (campaign_id, contact_id), (variant_id, owner_id) in sorted(pairs.items())
        ],
    )
    new_ids = set(created.scalars())
    await refresh_sort_keys(connection, recipient_ids=new_ids)
    found: dict[tuple[int, int], int] = {}
    for chunk in in_chunks(sorted(pairs)):
        result = await connection.execute(
            select(Recipient.id, Recipient.campaign_id, Recipient.contact_id).where(
                tuple_(Recipient.campaign_id, Recipient.contact_id).in_(chunk)
            )
        )
        found.update({(row.campaign_id, row.contact_id): row.id for row in result})
    if new_ids:
        # Lock every recipient of the batch before touching an aggregate row: writers then take
        # recipients first and aggregate rows second, and cannot deadlock on PostgreSQL.
        contexts = await lock_recipients(connection, found.values())
        await add_deltas(
            connection, total(contribution(contexts[rid], []) for rid in sorted(new_ids)), now
        )
    return found, new_ids


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
    known = await _known_keys(connection, organization_id, list(unique))
    result.duplicates += len(known)
    fresh = [event for key, event in unique.items() if key not in known]
    if not fresh:
        return result

    campaigns = await _campaign_ids(connection, organization_id, {e.campaign for e in fresh})
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

    variants = await _get_or_create(
        connection,
        Variant,
        "name",
        {(campaigns[e.campaign], e.variant) for e in matched if e.variant},
    )
    links = await _get_or_create(
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

    contexts = await lock_recipients(connection, recipients.values())
    histories = await load_histories(connection, contexts)

    rows = []
    for event in matched:
        campaign_id, contact, variant_id = keys_of(event)
        recipient_id = recipients[(campaign_id, contact.id)]
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
    statement = dialect_insert(connection, Response.__table__)  # type: ignore[arg-type]
    inserted = await connection.execute(
        statement.on_conflict_do_nothing(index_elements=["organization_id", "event_key"]).returning(
            *HISTORY_COLUMNS, Response.event_key
        ),
        rows,
    )
    inserted_rows = inserted.all()
    # A concurrent batch may have stored the same event first: then it is a duplicate here.
    result.duplicates += len(rows) - len(inserted_rows)
    result.accepted = len(inserted_rows)

    before = {rid: (contexts[rid], list(histories.get(rid, []))) for rid in contexts}
    after = {rid: (context, list(history)) for rid, (context, history) in before.items()}
    event_variant = {row["event_key"]: row["variant_id"] for row in rows}
    for row in inserted_rows:
        context, history = after[row.recipient_id]
        if context.variant_id is None and event_variant[row.event_key] is not None:
            # A recipient first seen without a variant moves to the variant its events name.
            context = dataclasses.replace(context, variant_id=event_variant[row.event_key])
        history.append(history_entry(row))
        after[row.recipient_id] = (context, history)
        result.response_ids[row.event_key] = row.id
    changed = {rid for rid in after if len(after[rid][1]) != len(before[rid][1])}
    # Several links clicked within seconds of delivery are a scanner's (app/ingest/automation.py).
    # The rule needs the whole history, so it runs here; it only ever adds flags, so any order of
    # arrival ends the same.
    for chunk in in_chunks(sorted(flag_scanner_clicks(after, changed))):
        await connection.execute(update(Response).where(Response.id.in_(chunk)).values(bot=True))
    await refold_recipients(
        connection,
        {rid: before[rid] for rid in changed},
        {rid: after[rid] for rid in changed},
        now,
    )
    await suppress_contacts(connection, matched, contacts, now)
    result.campaign_ids = {contexts[rid].campaign_id for rid in changed}
    result.recipient_ids = changed
    return result


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


async def apply_unmatched(
    connection: AsyncConnection,
    organization_id: int,
    campaign_external_ids: Iterable[str] | None = None,
) -> IngestResult:
    """Apply kept events whose campaign (or contact) may exist now.

    Provider events among them record their message ids, and kept events waiting for those
    (without campaign metadata) are applied too.
    """
    statement = select(UnmatchedEvent.id, UnmatchedEvent.payload, UnmatchedEvent.message_id).where(
        UnmatchedEvent.organization_id == organization_id, UnmatchedEvent.applied_at.is_(None)
    )
    if campaign_external_ids is not None:
        statement = statement.where(
            UnmatchedEvent.campaign_external_id.in_(sorted(set(campaign_external_ids)))
        )
    rows = (await connection.execute(statement.order_by(UnmatchedEvent.id))).all()
    replayable = [row for row in rows if "canonical" in row.payload]
    if not replayable:
        return IngestResult()
    now = datetime.now(UTC)
    for chunk in in_chunks([row.id for row in replayable]):
        await connection.execute(
            update(UnmatchedEvent).where(UnmatchedEvent.id.in_(chunk)).values(applied_at=now)
        )
    events = [deserialize_event(row.payload["canonical"]) for row in replayable]
    result = await apply_events(connection, organization_id, events, now=now)
    message_ids = {
        result.response_ids[event.key]: row.message_id
        for row, event in zip(replayable, events, strict=True)
        if row.message_id and event.key in result.response_ids
    }
    if message_ids:
        # Imported here: the provider ingest module builds on this one.
        from app.ingest.providers.ingest import lock_message_ids, record_and_apply_pending

        await lock_message_ids(connection, organization_id, exclusive=False)
        await record_and_apply_pending(connection, organization_id, message_ids, result, now)
    return result
