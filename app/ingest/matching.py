"""Which campaign, contact and recipient each event is about; the new ones are made.

Also which events are stored already (a replay is a duplicate by its event key).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database import in_chunks
from app.ingest.aggregate_writer import add_deltas, dialect_insert
from app.ingest.bulk import among
from app.ingest.contributions import contribution, total
from app.ingest.events import CanonicalEvent
from app.ingest.fold_state import EMPTY
from app.ingest.recipient_sort import refresh_sort_keys
from app.ingest.refold import lock_recipients
from app.models import Campaign, Contact, Recipient, Response, UnmatchedEvent


async def known_keys(
    connection: AsyncConnection, organization_id: int, keys: list[str]
) -> set[str]:
    known: set[str] = set()
    for chunk in in_chunks(keys):
        # Stored and kept-unmatched keys in one statement: one round trip less a batch.
        result = await connection.execute(
            select(Response.event_key)
            .where(
                Response.organization_id == organization_id,
                among(connection, Response.event_key, chunk),
            )
            .union_all(
                select(UnmatchedEvent.event_key).where(
                    UnmatchedEvent.organization_id == organization_id,
                    among(connection, UnmatchedEvent.event_key, chunk),
                    UnmatchedEvent.applied_at.is_(None),
                )
            )
        )
        # IN (...) matches no NULL key: every key read is a string.
        known.update(key for key in result.scalars() if key is not None)
    return known


async def campaign_ids(
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
                            Contact.organization_id == organization_id,
                            among(connection, column, chunk),
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


async def get_or_create(
    connection: AsyncConnection,
    model: Any,
    key_column: str,
    pairs: set[tuple[int, str]],
) -> dict[tuple[int, str], int]:
    """Ids of variants (by name) or links (by url) of campaigns, created when missing.

    Looked up first: a batch naming only known ones (the usual case) costs one statement."""
    if not pairs:
        return {}
    table = model.__table__

    async def lookup() -> dict[tuple[int, str], int]:
        found: dict[tuple[int, str], int] = {}
        for chunk in in_chunks(sorted({campaign_id for campaign_id, _ in pairs})):
            result = await connection.execute(
                select(table.c.id, table.c.campaign_id, table.c[key_column]).where(
                    table.c.campaign_id.in_(chunk)
                )
            )
            found.update({(row[1], row[2]): row[0] for row in result})
        return found

    found = await lookup()
    missing = sorted(pair for pair in pairs if pair not in found)
    if not missing:
        return found
    await connection.execute(
        dialect_insert(connection, table).on_conflict_do_nothing(),
        [{"campaign_id": campaign_id, key_column: value} for campaign_id, value in missing],
    )
    return await lookup()


async def ensure_recipients(
    connection: AsyncConnection,
    pairs: dict[tuple[int, int], tuple[int | None, int | None]],
    now: datetime,
) -> tuple[dict[tuple[int, int], int], set[int]]:
    """Recipient ids by (campaign, contact), and which of them are new.

    The existing ones are looked up first, so a batch for known recipients (the usual case) costs
    one statement. New recipients get the given (variant, owner), and their contribution with an
    empty history (one more recipient, not received) is added at once: every recipient counts
    from its creation.
    """
    if not pairs:
        return {}, set()
    found = await _recipient_ids(connection, sorted(pairs))
    missing = sorted(pair for pair in pairs if pair not in found)
    if not missing:
        return found, set()
    statement = dialect_insert(connection, Recipient.__table__)  # type: ignore[arg-type]
    created = await connection.execute(
        statement.on_conflict_do_nothing().returning(Recipient.id),
        [
            {
                "campaign_id": campaign_id,
                "contact_id": contact_id,
                "variant_id": pairs[(campaign_id, contact_id)][0],
                "owner_id": pairs[(campaign_id, contact_id)][1],
                "created_at": now,
                "updated_at": now,
                "status": "QUEUED",
                "fold": EMPTY,  # an empty history's summary: nothing to fold later
            }
            for campaign_id, contact_id in missing
        ],
    )
    new_ids = set(created.scalars())
    await refresh_sort_keys(connection, recipient_ids=new_ids)
    # A concurrent batch may have made some of them first.
    found.update(await _recipient_ids(connection, missing))
    if new_ids:
        # Lock every recipient of the batch before touching an aggregate row: writers then take
        # recipients first and aggregate rows second, and cannot deadlock on PostgreSQL.
        contexts = await lock_recipients(connection, found.values())
        await add_deltas(
            connection, total(contribution(contexts[rid], []) for rid in sorted(new_ids)), now
        )
    return found, new_ids


async def _recipient_ids(
    connection: AsyncConnection, pairs: list[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    """Ids of existing recipients by (campaign, contact): per campaign, its contacts in one IN
    list (the unique index (campaign_id, contact_id) serves it; PostgreSQL plans a long list of
    row values far worse)."""
    contacts: dict[int, list[int]] = {}
    for campaign_id, contact_id in pairs:
        contacts.setdefault(campaign_id, []).append(contact_id)
    found: dict[tuple[int, int], int] = {}
    for campaign_id, contact_ids in sorted(contacts.items()):
        for chunk in in_chunks(contact_ids):
            result = await connection.execute(
                select(Recipient.id, Recipient.contact_id).where(
                    Recipient.campaign_id == campaign_id,
                    among(connection, Recipient.contact_id, chunk),
                )
            )
            found.update({(campaign_id, row[1]): row[0] for row in result})
    return found
