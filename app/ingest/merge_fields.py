"""Storing recipients' merge fields: from addRecipients, and from the SENT events of a batch.

Given fields replace what a recipient had. Those of a SENT event are stamped with its time, and
do not replace the fields of a later SENT event already stored (events arrive in any order);
fields from addRecipients (no time) always replace, and are replaced by any SENT event's.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncConnection

from app.enums import ResponseType
from app.ingest.aggregate_writer import dialect_insert
from app.ingest.events import CanonicalEvent
from app.models import RecipientMergeFields


@dataclass(frozen=True, slots=True)
class GivenMergeFields:
    recipient_id: int
    fields: Sequence[tuple[str, str]]
    given_at: datetime | None  # the SENT event's time; None: given by addRecipients


async def save_merge_fields(
    connection: AsyncConnection, given: Iterable[GivenMergeFields], now: datetime
) -> None:
    """Store each recipient's fields (one statement), under the rule of the module docstring."""
    rows = [
        {
            "recipient_id": item.recipient_id,
            "fields": [{"name": name, "value": value} for name, value in item.fields],
            "given_at": item.given_at,
            "updated_at": now,
        }
        for item in sorted(given, key=lambda item: item.recipient_id)  # a fixed lock order
    ]
    if not rows:
        return
    table = RecipientMergeFields.__table__
    statement = dialect_insert(connection, table)  # type: ignore[arg-type]
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["recipient_id"],
            set_={
                "fields": statement.excluded.fields,
                "given_at": statement.excluded.given_at,
                "updated_at": statement.excluded.updated_at,
            },
            where=or_(
                statement.excluded.given_at.is_(None),
                table.c.given_at.is_(None),  # type: ignore[attr-defined]
                table.c.given_at <= statement.excluded.given_at,  # type: ignore[attr-defined]
            ),
        ),
        rows,
    )


async def store_sent_merge_fields(
    connection: AsyncConnection,
    events: Mapping[str, CanonicalEvent],
    inserted: Iterable[Any],
    now: datetime,
) -> None:
    """The merge fields of the SENT events just stored: `events` by event key, `inserted` the
    stored responses (with .event_key and .recipient_id). No statement when none has fields."""
    latest: dict[int, CanonicalEvent] = {}
    for row in inserted:
        event = events.get(row.event_key)
        if event is None or event.type is not ResponseType.SENT or event.merge_fields is None:
            continue
        known = latest.get(row.recipient_id)
        if known is None or event.occurred_at >= known.occurred_at:
            latest[row.recipient_id] = event
    await save_merge_fields(
        connection,
        [
            # An event kept aside comes back from JSON with lists: pairs again.
            GivenMergeFields(rid, [(n, v) for n, v in event.merge_fields or ()], event.occurred_at)
            for rid, event in latest.items()
        ],
        now,
    )
