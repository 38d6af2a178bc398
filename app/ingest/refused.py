"""Malformed provider events kept as received (unmatched_events, keys `refused:…`): listed,
and replayed through the current code once it is fixed.

A webhook keeps each malformed event of a genuine batch with its reason, so that its good
neighbours are applied (app/ingest/providers/ingest.py). A replay normalizes the kept item again
with the adapters of now; those that are valid now are marked replayed and applied in the same
transaction (exactly once: their events are then duplicates by their own keys), the others stay
kept with the reason of now.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app import versions
from app.database import in_chunks
from app.ingest.apply import IngestResult
from app.ingest.providers.adapter import REFUSED_PREFIX, PayloadError, ProviderEvent
from app.ingest.providers.files import events_from_items
from app.ingest.providers.ingest import ingest_provider_events, refusal
from app.models import UnmatchedEvent


def refused_conditions(organization_id: int, replayed: bool = False) -> list[ColumnElement[bool]]:
    """The organization's kept malformed events; with `replayed`, those replayed already too."""
    conditions = [
        UnmatchedEvent.organization_id == organization_id,
        UnmatchedEvent.event_key.startswith(REFUSED_PREFIX, autoescape=True),
    ]
    if not replayed:
        conditions.append(UnmatchedEvent.applied_at.is_(None))
    return conditions


@dataclass(frozen=True, slots=True)
class RefusedEvent:
    id: int
    provider: str
    kind: str
    reason: str
    received_at: datetime
    replayed_at: datetime | None
    raw: Any  # the event as the provider sent it


def refused_event(row: Any) -> RefusedEvent:
    return RefusedEvent(
        id=row.id,
        provider=row.provider,
        kind=str(row.payload.get("kind") or "?"),
        reason=row.reason,
        received_at=row.received_at,
        replayed_at=row.applied_at,
        raw=row.payload.get("raw"),
    )


async def list_refused(
    connection: AsyncConnection, organization_id: int, replayed: bool = False
) -> list[RefusedEvent]:
    """The kept malformed events, oldest first."""
    rows = await connection.execute(
        select(UnmatchedEvent.__table__)
        .where(*refused_conditions(organization_id, replayed))
        .order_by(UnmatchedEvent.id)
    )
    return [refused_event(row) for row in rows]


@dataclass
class Replayed:
    """What a replay did: kept events applied now, those still malformed (id -> reason)."""

    replayed: list[int] = field(default_factory=list)
    still_refused: dict[int, str] = field(default_factory=dict)
    result: IngestResult = field(default_factory=IngestResult)


def renormalized(provider: str, source: Any, now: datetime) -> list[ProviderEvent] | str:
    """The kept item's events under the current code, or why it is still malformed."""
    try:
        events = events_from_items(provider, [source])
    except PayloadError as exc:
        return str(exc).removeprefix("item 0: ")  # the file's item number says nothing here
    for event in events:
        problem = refusal(event, event.canonical, now) if event.canonical else None
        if problem is not None:
            return problem
    return events


async def replay_refused(
    connection: AsyncConnection,
    organization_id: int,
    now: datetime,
    ids: Sequence[int] | None = None,
) -> Replayed:
    """Apply the kept malformed events (all, or those of `ids`) that the current code accepts,
    inside the caller's write transaction."""
    statement = select(
        UnmatchedEvent.id, UnmatchedEvent.provider, UnmatchedEvent.payload, UnmatchedEvent.reason
    ).where(*refused_conditions(organization_id))
    if ids is not None:
        statement = statement.where(UnmatchedEvent.id.in_(sorted(set(ids))))
    rows = (await connection.execute(statement.order_by(UnmatchedEvent.id))).all()
    done = Replayed()
    events: list[ProviderEvent] = []
    for row in rows:
        found = renormalized(row.provider, row.payload.get("source", row.payload.get("raw")), now)
        if isinstance(found, str):
            done.still_refused[row.id] = found[:200]
        else:
            events += found
            done.replayed.append(row.id)
    # Marked first, in this transaction: a replay applies each kept event once.
    for chunk in in_chunks(done.replayed):
        await connection.execute(
            update(UnmatchedEvent).where(UnmatchedEvent.id.in_(chunk)).values(applied_at=now)
        )
    if done.still_refused:
        # The reason of now: after a partial fix, an event may fail for another reason.
        await connection.execute(
            update(UnmatchedEvent)
            .where(UnmatchedEvent.id == bindparam("row_key"))
            .values(reason=bindparam("new_reason")),
            [
                {"row_key": key, "new_reason": reason}
                for key, reason in sorted(done.still_refused.items())
            ],
        )
    if events:
        done.result = await ingest_provider_events(connection, organization_id, events, now)
    # Last, after ingest has locked its recipients: the organization's version row is taken by
    # every writer, so taking it before other locks could deadlock with a concurrent ingest.
    new_reasons = any(done.still_refused.get(row.id, row.reason) != row.reason for row in rows)
    if done.replayed or new_reasons:
        await versions.bump(connection, organization_id, (), now)  # refusedEvents (issue 14)
    return done
