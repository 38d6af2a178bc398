"""Kept events applied once they can be: when their campaign exists (`apply_unmatched`), or
when a recipient records the provider message id they wait for (`apply_pending`).

Each is marked applied before it goes through `apply_events`, in the same transaction: it is
applied exactly once, and a replay of it is a duplicate by its event key from then on.
"""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database import in_chunks
from app.ingest.apply import IngestResult, apply_events
from app.ingest.events import CanonicalEvent, EventError, parse_event
from app.ingest.unmatched import deserialize_event
from app.models import Campaign, Contact, Recipient, Response, UnmatchedEvent

MESSAGE_ID_LIMIT = 255
# First key of the PostgreSQL advisory lock on an organization's message ids (second: its id).
MESSAGE_ID_LOCK = 0x6367


async def lock_message_ids(
    connection: AsyncConnection, organization_id: int, exclusive: bool
) -> None:
    """Order, on PostgreSQL, batches that keep events to be matched by message id later.

    A batch that records message ids holds the organization's lock shared; one that keeps events
    waiting for a message id holds it exclusive. So the keeping batch sees every message id
    recorded by a batch before it, and a batch after it sees the kept events. Without it, under
    READ COMMITTED, each of two concurrent batches could miss the other's uncommitted rows and
    the kept event would wait forever. Batches with metadata on every event still run side by
    side (shared). SQLite has one writer at a time already.
    """
    if connection.dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await connection.execute(
        text(f"SELECT {function}(:namespace, :organization)"),
        {"namespace": MESSAGE_ID_LOCK, "organization": organization_id % 2**31},
    )


# message id -> (campaign externalId, contact email) of each recipient that recorded it.
# One send to several recipients shares its message id (SendGrid's X-Message-Id, Mailgun's
# Message-Id), so an id may name several recipients: the event's own address picks one.
Recorded = dict[str, list[tuple[str, str]]]


def recipient_of(recorded: Recorded, message_id: str | None, email: Any) -> tuple[str, str] | None:
    """The (campaign, email) an event of `message_id` sent to `email` belongs to, if recorded.

    An event that names its address matches only the recipient with that address (never
    another recipient of the same send); one without an address matches when its message id
    names exactly one recipient.
    """
    candidates = recorded.get(message_id or "", [])
    if isinstance(email, str) and email.strip():
        address = email.strip().lower()
        return next((c for c in candidates if c[1] == address), None)
    return candidates[0] if len(candidates) == 1 else None


async def recorded_message_ids(
    connection: AsyncConnection, organization_id: int, message_ids: set[str]
) -> Recorded:
    """The recipients (campaign externalId, contact email) that recorded each message id."""
    found: Recorded = {}
    for chunk in in_chunks(sorted(message_ids)):
        result = await connection.execute(
            select(Recipient.message_id, Campaign.external_id, Contact.email)
            .join(Campaign, Campaign.id == Recipient.campaign_id)
            .join(Contact, Contact.id == Recipient.contact_id)
            .where(Campaign.organization_id == organization_id, Recipient.message_id.in_(chunk))
            .order_by(Recipient.id)
        )
        for row in result:
            found.setdefault(row.message_id, []).append((row.external_id, row.email))
    return found


async def record_message_ids(
    connection: AsyncConnection, response_message_ids: dict[int, str]
) -> set[str]:
    """Give recipients the provider message id of their applied events (the first one wins).

    Returns the message ids recorded now: only those can be what kept events wait for.
    """
    if not response_message_ids:
        return set()
    recipients: dict[int, str] = {}
    for chunk in in_chunks(sorted(response_message_ids)):
        result = await connection.execute(
            select(Response.id, Response.recipient_id)
            .join(Recipient, Recipient.id == Response.recipient_id)
            .where(Response.id.in_(chunk), Recipient.message_id.is_(None))
        )
        for row in result:
            recipients.setdefault(row.recipient_id, response_message_ids[row.id])
    if not recipients:
        return set()
    await connection.execute(
        update(Recipient)
        .where(and_(Recipient.id == bindparam("recipient_key"), Recipient.message_id.is_(None)))
        .values(message_id=bindparam("message_key")),
        [
            {"recipient_key": recipient_id, "message_key": message_id[:MESSAGE_ID_LIMIT]}
            for recipient_id, message_id in sorted(recipients.items())
        ],
    )
    return {message_id[:MESSAGE_ID_LIMIT] for message_id in recipients.values()}


async def apply_pending(
    connection: AsyncConnection, organization_id: int, message_ids: set[str], now: datetime
) -> IngestResult:
    """Apply kept events waiting for one of `message_ids`, where a recipient recorded it.

    Each is marked applied before it goes through `apply_events`, in the same transaction: it is
    applied exactly once, and a replay of it is a duplicate by its event key from then on.
    """
    rows: list[Any] = []
    for chunk in in_chunks(sorted({m[:MESSAGE_ID_LIMIT] for m in message_ids})):
        if not chunk:
            continue
        result = await connection.execute(
            select(
                UnmatchedEvent.id,
                UnmatchedEvent.provider,
                UnmatchedEvent.message_id,
                UnmatchedEvent.payload,
            )
            .where(
                UnmatchedEvent.organization_id == organization_id,
                UnmatchedEvent.message_id.in_(chunk),
                UnmatchedEvent.applied_at.is_(None),
            )
            .order_by(UnmatchedEvent.id)
        )
        rows.extend(row for row in result if "pending" in row.payload)
    if not rows:
        return IngestResult()
    known = await recorded_message_ids(
        connection, organization_id, {row.message_id for row in rows}
    )
    events: list[CanonicalEvent] = []
    applied: list[int] = []
    for row in rows:
        pending = row.payload["pending"]
        match = recipient_of(known, row.message_id, pending["contact"].get("email"))
        if match is None:
            continue  # not this address's message (yet): stays kept
        campaign, email = match
        data = {
            **pending,
            "campaign": campaign,
            "contact": {"email": email} if email else pending["contact"],
        }
        try:
            events.append(parse_event(data, now, row.provider))
        except EventError:
            continue  # validated when kept; should it fail now, it stays kept, not lost
        applied.append(row.id)
    for chunk in in_chunks(applied):
        await connection.execute(
            update(UnmatchedEvent).where(UnmatchedEvent.id.in_(chunk)).values(applied_at=now)
        )
    return await apply_events(connection, organization_id, events, now=now)


async def record_and_apply_pending(
    connection: AsyncConnection,
    organization_id: int,
    response_message_ids: dict[int, str],
    result: IngestResult,
    now: datetime,
) -> None:
    """Record applied events' message ids, then apply kept events waiting for them.

    The campaigns and recipients they change join `result` (for live updates); its counts stay
    those of the events the caller was given.
    """
    recorded = await record_message_ids(connection, response_message_ids)
    if not recorded:
        return
    pending = await apply_pending(connection, organization_id, recorded, now)
    result.campaign_ids |= pending.campaign_ids
    result.recipient_ids |= pending.recipient_ids


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
        await lock_message_ids(connection, organization_id, exclusive=False)
        await record_and_apply_pending(connection, organization_id, message_ids, result, now)
    return result
