"""Recompute every aggregate from the history, report drift, and optionally repair it."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ingest.aggregate_writer import AGGREGATE_TABLES, add_deltas
from app.ingest.apply import HISTORY_COLUMNS, history_entry
from app.ingest.contributions import (
    AggregateKey,
    Contribution,
    Counters,
    RecipientContext,
    contribution,
    difference,
    total,
)
from app.ingest.history import HistoryEntry
from app.models import Campaign, Contact, Link, Recipient, Response


@dataclass(frozen=True)
class Drift:
    table: str
    key: tuple[object, ...]
    field: str
    stored: int
    expected: int


async def _campaign_ids(connection: AsyncConnection, campaign_id: int | None) -> list[int]:
    statement = select(Campaign.id).order_by(Campaign.id)
    if campaign_id is not None:
        statement = statement.where(Campaign.id == campaign_id)
    return list((await connection.execute(statement)).scalars())


async def expected_aggregates(connection: AsyncConnection, campaign_id: int) -> Contribution:
    """The aggregates of one campaign recomputed from its non-deleted history."""
    contexts: dict[int, RecipientContext] = {}
    rows = await connection.execute(
        select(
            Recipient.id,
            Recipient.campaign_id,
            Recipient.contact_id,
            Recipient.variant_id,
            Recipient.owner_id,
            Contact.email,
        )
        .join(Contact, Contact.id == Recipient.contact_id)
        .where(Recipient.campaign_id == campaign_id)
    )
    for row in rows:
        contexts[row.id] = RecipientContext(
            row.campaign_id, row.variant_id, row.owner_id, row.contact_id, row.email
        )
    histories: dict[int, list[HistoryEntry]] = {rid: [] for rid in contexts}
    result = await connection.stream(
        select(*HISTORY_COLUMNS).where(
            Response.campaign_id == campaign_id, Response.deleted_at.is_(None)
        )
    )
    async for row in result:
        histories[row.recipient_id].append(history_entry(row))
    return total(contribution(contexts[rid], history) for rid, history in histories.items())


async def stored_aggregates(connection: AsyncConnection, campaign_id: int) -> Contribution:
    """The aggregate rows of one campaign as stored."""
    stored: Contribution = {}
    link_ids = select(Link.id).where(Link.campaign_id == campaign_id).scalar_subquery()
    for name, (table, key_columns, counters) in AGGREGATE_TABLES.items():
        owner = table.c.campaign_id if "campaign_id" in table.c else table.c.link_id
        condition = owner == campaign_id if "campaign_id" in table.c else owner.in_(link_ids)
        for row in await connection.execute(select(table).where(condition)):
            key = tuple(getattr(row, column) for column in key_columns)
            stored[(name, key)] = {column: getattr(row, column) for column in counters}
    return stored


def _nonzero(aggregates: Contribution) -> dict[AggregateKey, Counters]:
    return {
        key: {field: value for field, value in counters.items() if value}
        for key, counters in aggregates.items()
    }


async def reconcile(
    connection: AsyncConnection, campaign_id: int | None = None, repair: bool = False
) -> list[Drift]:
    """Every difference between stored and recomputed aggregates; with repair, fix them."""
    drifts: list[Drift] = []
    for cid in await _campaign_ids(connection, campaign_id):
        expected = await expected_aggregates(connection, cid)
        stored = await stored_aggregates(connection, cid)
        delta = difference(_nonzero(expected), _nonzero(stored))
        for (table, key), counters in sorted(delta.items(), key=lambda item: str(item[0])):
            for field, change in sorted(counters.items()):
                stored_value = stored.get((table, key), {}).get(field, 0)
                drifts.append(Drift(table, key, field, stored_value, stored_value + change))
        if repair and delta:
            await add_deltas(connection, delta, datetime.now(UTC))
    return drifts


async def delete_empty_rows(connection: AsyncConnection) -> None:
    """Rows whose counters are all zero carry nothing; reconcile may drop them."""
    for table, _, counters in AGGREGATE_TABLES.values():
        await connection.execute(delete(table).where(*(table.c[c] == 0 for c in counters)))
