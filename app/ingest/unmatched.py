"""Events that cannot be applied yet (unknown campaign or contact), kept in unmatched_events.

Kept in their canonical form, so that app/ingest/pending.py can apply them once they can be.
"""

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.enums import ResponseType
from app.ingest.aggregate_writer import dialect_insert
from app.ingest.events import CanonicalEvent
from app.models import UnmatchedEvent


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
