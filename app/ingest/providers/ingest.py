"""The database edge for provider events: match, validate, apply, keep the rest.

Runs inside the caller's write transaction, so a batch is applied whole or not at all:
1. events without campaign metadata are matched by the provider message id recorded earlier
   (on the recipient, or on another event of the same batch);
2. every canonical event is validated (any problem: PayloadError, and nothing is stored);
3. the events go through `apply_events`, the same core as POST /events;
4. events with no canonical type, or matching nothing, are kept as unmatched with their raw
   payload (never dropped);
5. the message ids of applied events are recorded on their recipients, for later matching.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, update
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
    kept: Sequence[tuple[ProviderEvent, str]],
    now: datetime,
) -> int:
    """Store events that cannot be applied with their raw payload; how many were new."""
    rows = {
        event.key: {
            "organization_id": organization_id,
            "provider": event.provider,
            "event_key": event.key,
            "campaign_external_id": (event.canonical or {}).get("campaign"),
            "reason": reason[:200],
            "payload": {"kind": event.kind, "raw": event.raw},
            "received_at": now,
        }
        for event, reason in kept
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
) -> None:
    """Give recipients the provider message id of their applied events (the first one wins)."""
    if not response_message_ids:
        return
    recipients: dict[int, str] = {}
    for chunk in in_chunks(sorted(response_message_ids)):
        result = await connection.execute(
            select(Response.id, Response.recipient_id).where(Response.id.in_(chunk))
        )
        for row in result:
            recipients.setdefault(row.recipient_id, response_message_ids[row.id])
    await connection.execute(
        update(Recipient)
        .where(and_(Recipient.id == bindparam("recipient_key"), Recipient.message_id.is_(None)))
        .values(message_id=bindparam("message_key")),
        [
            {"recipient_key": recipient_id, "message_key": message_id[:MESSAGE_ID_LIMIT]}
            for recipient_id, message_id in sorted(recipients.items())
        ],
    )


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
    completed = await match_by_message_id(connection, organization_id, events)
    canonical: list[tuple[ProviderEvent, CanonicalEvent]] = []
    kept: list[tuple[ProviderEvent, str]] = []
    problems: list[str] = []
    for index, event in enumerate(events):
        data = completed.get(event.key)
        if data is None:
            kept.append((event, event.reason or "no canonical type"))
        elif "campaign" not in data:
            kept.append((event, NO_MATCH))
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
    fresh = await keep_raw(connection, organization_id, kept, now)
    result.unmatched += fresh
    result.duplicates += len(kept) - fresh
    await record_message_ids(
        connection,
        {
            result.response_ids[parsed.key]: event.message_id
            for event, parsed in canonical
            if event.message_id and parsed.key in result.response_ids
        },
    )
    return result
