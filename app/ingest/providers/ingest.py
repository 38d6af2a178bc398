"""The database edge for provider events: match, validate, apply, keep the rest.

Runs inside the caller's write transaction, so a batch is applied whole or not at all:
1. events without campaign metadata are matched by the provider message id recorded earlier
   (on the recipient, or on another event of the same batch);
2. every canonical event is validated (any problem: PayloadError, and nothing is stored);
3. the events go through `apply_events`, the same core as POST /events;
4. events with no canonical type, or matching nothing, are kept as unmatched with their raw
   payload (never dropped); one without campaign metadata keeps its canonical form (minus the
   campaign) and its message id too;
5. the message ids of applied events are recorded on their recipients, for later matching, and
   kept events waiting for one of those message ids are applied now (and marked applied), so
   an open that arrives before its message's first event counts all the same.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database import in_chunks
from app.enums import ResponseSource
from app.ingest.aggregate_writer import dialect_insert
from app.ingest.apply import IngestResult, apply_events
from app.ingest.events import CanonicalEvent, EventError, parse_event
from app.ingest.geolocation import Geolocator, with_place
from app.ingest.providers.events import PayloadError, ProviderEvent
from app.models import Campaign, Contact, Recipient, Response, UnmatchedEvent

NO_MATCH = "no campaign in the event's metadata, and its message id is not recorded"
MESSAGE_ID_LIMIT = 255
# Stands in for the campaign while an event without one is validated before it is kept.
PLACEHOLDER_CAMPAIGN = "-"
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


async def recorded_message_ids(
    connection: AsyncConnection, organization_id: int, message_ids: set[str]
) -> dict[str, tuple[str, str]]:
    """message id -> (campaign externalId, contact email) of recipients that recorded it."""
    found: dict[str, tuple[str, str]] = {}
    for chunk in in_chunks(sorted(message_ids)):
        result = await connection.execute(
            select(Recipient.message_id, Campaign.external_id, Contact.email)
            .join(Campaign, Campaign.id == Recipient.campaign_id)
            .join(Contact, Contact.id == Recipient.contact_id)
            .where(Campaign.organization_id == organization_id, Recipient.message_id.in_(chunk))
        )
        found.update({row.message_id: (row.external_id, row.email) for row in result})
    return found


async def match_by_message_id(
    connection: AsyncConnection, organization_id: int, events: Sequence[ProviderEvent]
) -> dict[str, dict[str, Any]]:
    """Canonical events by key, those without campaign metadata completed by message id."""
    in_batch = {
        event.message_id: (event.canonical["campaign"], event.canonical["contact"].get("email"))
        for event in events
        if event.canonical and "campaign" in event.canonical and event.message_id
    }
    missing = {
        event.message_id
        for event in events
        if event.canonical and "campaign" not in event.canonical and event.message_id
    } - set(in_batch)
    known = in_batch | await recorded_message_ids(connection, organization_id, missing)
    completed: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.canonical is None:
            continue
        data = event.canonical
        if "campaign" not in data and event.message_id in known:
            campaign, email = known[event.message_id]  # type: ignore[index]
            data = {
                **data,
                "campaign": campaign,
                "contact": {"email": email} if email else data["contact"],
            }
        completed[event.key] = data
    return completed


async def keep_raw(
    connection: AsyncConnection,
    organization_id: int,
    kept: Sequence[tuple[ProviderEvent, str, dict[str, Any] | None]],
    now: datetime,
) -> int:
    """Store events that cannot be applied with their raw payload; how many were new.

    An event waiting for its message id also keeps its canonical form ("pending", without the
    campaign) and the message id, so that `apply_pending` can apply it once the id is recorded.
    """
    rows = {
        event.key: {
            "organization_id": organization_id,
            "provider": event.provider,
            "event_key": event.key,
            "campaign_external_id": (event.canonical or {}).get("campaign"),
            "reason": reason[:200],
            "payload": {"kind": event.kind, "raw": event.raw}
            | ({"pending": pending} if pending is not None else {}),
            "received_at": now,
            "message_id": event.message_id[:MESSAGE_ID_LIMIT]
            if pending is not None and event.message_id
            else None,
        }
        for event, reason, pending in kept
    }
    if not rows:
        return 0
    statement = dialect_insert(connection, UnmatchedEvent.__table__)  # type: ignore[arg-type]
    inserted = await connection.execute(
        statement.on_conflict_do_nothing(index_elements=["organization_id", "event_key"]).returning(
            UnmatchedEvent.id
        ),
        list(rows.values()),
    )
    return len(inserted.all())


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


async def note_kept_message_ids(
    connection: AsyncConnection, organization_id: int, message_ids: dict[str, str]
) -> None:
    """Give kept events (event key -> message id) their message id, where they have none yet.

    For events kept because their campaign is not known yet: once it is, `apply_unmatched`
    applies them and records the message id, which may be what other kept events wait for.
    """
    if not message_ids:
        return
    await connection.execute(
        update(UnmatchedEvent)
        .where(
            and_(
                UnmatchedEvent.organization_id == organization_id,
                UnmatchedEvent.event_key == bindparam("key"),
                UnmatchedEvent.message_id.is_(None),
            )
        )
        .values(message_id=bindparam("message_key")),
        [
            {"key": key, "message_key": message_id[:MESSAGE_ID_LIMIT]}
            for key, message_id in sorted(message_ids.items())
        ],
    )


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
        if row.message_id not in known:
            continue  # another recipient's id won ("the first one wins"): stays kept
        campaign, email = known[row.message_id]
        pending = row.payload["pending"]
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


async def ingest_provider_events(
    connection: AsyncConnection,
    organization_id: int,
    events: Sequence[ProviderEvent],
    now: datetime,
    geolocator: Geolocator | None = None,
) -> IngestResult:
    """Apply a verified batch of provider events; PayloadError (nothing stored) when invalid.

    With a geolocator, events whose provider gives no place get one from their IP.
    """
    with_metadata = {
        event.message_id
        for event in events
        if event.canonical and "campaign" in event.canonical and event.message_id
    }
    waiting = any(
        event.canonical
        and "campaign" not in event.canonical
        and event.message_id
        and event.message_id not in with_metadata
        for event in events
    )
    if waiting or with_metadata:
        # Before the first read, so every read below sees what batches ordered before saw.
        await lock_message_ids(connection, organization_id, exclusive=waiting)
    completed = await match_by_message_id(connection, organization_id, events)
    canonical: list[tuple[ProviderEvent, CanonicalEvent]] = []
    kept: list[tuple[ProviderEvent, str, dict[str, Any] | None]] = []
    problems: list[str] = []
    for index, event in enumerate(events):
        data = completed.get(event.key)
        if data is None:
            kept.append((event, event.reason or "no canonical type", None))
        elif "campaign" not in data:
            # Validated now as it would be with its campaign, so that a bad event gets the
            # same answer whether it comes before or after its message id is recorded.
            try:
                data = with_place(data, geolocator)
                parse_event({**data, "campaign": PLACEHOLDER_CAMPAIGN}, now, event.provider)
            except EventError as exc:
                problems.append(f"event {index} ({event.kind} {event.event_id}): {exc}")
            kept.append((event, NO_MATCH, data if event.message_id else None))
        else:
            try:
                data = with_place(data, geolocator)
                canonical.append((event, parse_event(data, now, event.provider)))
            except EventError as exc:
                problems.append(f"event {index} ({event.kind} {event.event_id}): {exc}")
    if problems:
        raise PayloadError("; ".join(problems[:20]))

    result = await apply_events(
        connection,
        organization_id,
        [parsed for _, parsed in canonical],
        source=ResponseSource.TRACKED,
        now=now,
    )
    if result.unmatched:
        # Kept for an unknown campaign or contact: they remember their message id too.
        await note_kept_message_ids(
            connection,
            organization_id,
            {
                parsed.key: event.message_id
                for event, parsed in canonical
                if event.message_id and parsed.key not in result.response_ids
            },
        )
    fresh = await keep_raw(connection, organization_id, kept, now)
    result.unmatched += fresh
    result.duplicates += len(kept) - fresh
    await record_and_apply_pending(
        connection,
        organization_id,
        {
            result.response_ids[parsed.key]: event.message_id
            for event, parsed in canonical
            if event.message_id and parsed.key in result.response_ids
        },
        result,
        now,
    )
    return result
