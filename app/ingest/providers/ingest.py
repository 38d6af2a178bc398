"""The database edge for provider events: match, validate, apply, keep the rest.

Runs inside the caller's write transaction:
1. events without campaign metadata are matched by the provider message id recorded earlier
   (on the recipient with the event's address, or on another event of the same batch);
2. every canonical event is validated: for a file (strict), any problem is a PayloadError and
   nothing is stored; for a webhook, a malformed event is kept with its reason (listed and
   replayed by app/ingest/refused.py) and the valid ones are applied;
3. the events go through `apply_events`, the same core as POST /events;
4. events with no canonical type, or matching nothing, are kept as unmatched with their raw
   payload (never dropped); one without campaign metadata keeps its canonical form (minus the
   campaign) and its message id too;
5. the message ids of applied events are recorded on their recipients, for later matching, and
   kept events waiting for one of those message ids are applied now (and marked applied), so
   an open that arrives before its message's first event counts all the same.
"""

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app import versions
from app.enums import ResponseSource
from app.ingest.aggregate_writer import dialect_insert
from app.ingest.apply import IngestResult, apply_events
from app.ingest.events import CanonicalEvent, EventError, parse_event
from app.ingest.geolocation import Geolocator, with_place
from app.ingest.pending import (
    MESSAGE_ID_LIMIT,
    lock_message_ids,
    recipient_of,
    record_and_apply_pending,
    recorded_message_ids,
)
from app.ingest.providers.adapter import PayloadError, ProviderEvent
from app.models import UnmatchedEvent

NO_MATCH = "no campaign in the event's metadata, and its message id is not recorded"
# Stands in for the campaign while an event without one is validated before it is kept.
PLACEHOLDER_CAMPAIGN = "-"


async def match_by_message_id(
    connection: AsyncConnection, organization_id: int, events: Sequence[ProviderEvent]
) -> dict[str, dict[str, Any]]:
    """Canonical events by key, those without campaign metadata completed by message id.

    A message id is matched together with the event's address: one send to several recipients
    shares its id, and an open by one of them must not count for another.
    """
    missing = {
        event.message_id
        for event in events
        if event.canonical and "campaign" not in event.canonical and event.message_id
    }
    if not missing:
        return {event.key: event.canonical for event in events if event.canonical is not None}
    known = await recorded_message_ids(connection, organization_id, missing)
    for event in events:  # events of the same batch that carry the metadata
        if event.canonical and "campaign" in event.canonical and event.message_id in missing:
            email = str(event.canonical["contact"].get("email") or "").strip().lower()
            pair = (event.canonical["campaign"], email)
            if email and pair not in known.setdefault(event.message_id, []):
                known[event.message_id].append(pair)
    completed: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.canonical is None:
            continue
        data = event.canonical
        match = (
            recipient_of(known, event.message_id, data["contact"].get("email"))
            if "campaign" not in data
            else None
        )
        if match is not None:
            campaign, email = match
            data = {
                **data,
                "campaign": campaign,
                "contact": {"email": email} if email else data["contact"],
            }
        completed[event.key] = data
    return completed


def address_of(event: ProviderEvent) -> str:
    """The event's recipient address as contacts store it (lower case), or ""."""
    email = (event.canonical or {}).get("contact", {}).get("email")
    return email.strip().lower() if isinstance(email, str) else ""


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
            | ({"pending": pending} if pending is not None else {})
            | (
                {"malformed": True, "source": event.source if event.source else event.raw}
                if event.malformed
                else {}
            ),
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


def refusal(event: ProviderEvent, data: dict[str, Any], now: datetime) -> str | None:
    """Why a (completed) canonical event is malformed, or None when it is valid.

    One without its campaign is validated as it would be with it, so that a bad event gets the
    same answer whether it comes before or after its message id is recorded.
    """
    try:
        parse_event({"campaign": PLACEHOLDER_CAMPAIGN, **data}, now, event.provider)
    except EventError as exc:
        return str(exc)
    return None


async def ingest_provider_events(
    connection: AsyncConnection,
    organization_id: int,
    events: Sequence[ProviderEvent],
    now: datetime,
    geolocator: Geolocator | None = None,
    strict: bool = True,
) -> IngestResult:
    """Apply a verified batch of provider events.

    `strict` (files): any invalid event is a PayloadError and nothing is stored. Not strict
    (webhooks): each invalid event is kept as malformed with its reason and the others are
    applied, as a provider would otherwise retry, then drop, the whole batch.
    With a geolocator, events whose provider gives no place get one from their IP.
    """
    with_metadata = {
        (event.message_id, address_of(event))
        for event in events
        if event.canonical and "campaign" in event.canonical and event.message_id
    }
    waiting = any(
        event.canonical
        and "campaign" not in event.canonical
        and event.message_id
        and (event.message_id, address_of(event)) not in with_metadata
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
            continue
        data = with_place(data, geolocator)
        problem = refusal(event, data, now)
        if problem is not None:
            if strict:
                problems.append(f"event {index} ({event.kind} {event.event_id}): {problem}")
            else:
                bad = dataclasses.replace(event, canonical=None, malformed=True, reason=problem)
                kept.append((bad, problem, None))
        elif "campaign" not in data:
            kept.append((event, NO_MATCH, data if event.message_id else None))
        else:
            canonical.append((event, parse_event(data, now, event.provider)))
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
    if fresh:  # kept aside: Query.refusedEvents changed (issue 14); last, after every lock
        await versions.bump(connection, organization_id, (), now)
    return result
