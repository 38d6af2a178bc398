"""Recompute every aggregate, every recipient's state and stored summary from the history, report
drift, and optionally repair it."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app import versions
from app.ingest.aggregate_writer import AGGREGATE_TABLES, add_deltas
from app.ingest.contributions import (
    AggregateKey,
    Contribution,
    Counters,
    RecipientContext,
    contribution,
    difference,
    total,
)
from app.ingest.fold_state import dumps, fold, loads
from app.ingest.history import HistoryEntry
from app.ingest.recipient_state import recipient_state
from app.ingest.refold import (
    HISTORY_COLUMNS,
    RECIPIENT_CONTEXT_COLUMNS,
    history_entry,
    state_columns,
)
from app.models import Campaign, Contact, Link, Recipient, Response


@dataclass(frozen=True)
class Drift:
    table: str
    key: tuple[object, ...]
    field: str
    stored: Any
    expected: Any


async def _campaign_ids(connection: AsyncConnection, campaign_id: int | None) -> list[int]:
    statement = select(Campaign.id).order_by(Campaign.id)
    if campaign_id is not None:
        statement = statement.where(Campaign.id == campaign_id)
    return list((await connection.execute(statement)).scalars())


async def campaign_histories(
    connection: AsyncConnection, campaign_id: int
) -> tuple[dict[int, RecipientContext], dict[int, list[HistoryEntry]]]:
    """Each recipient of a campaign with its non-deleted history."""
    contexts: dict[int, RecipientContext] = {}
    rows = await connection.execute(
        select(*RECIPIENT_CONTEXT_COLUMNS)
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
    async for history_row in result:
        histories[history_row.recipient_id].append(history_entry(history_row))
    return contexts, histories


async def expected_aggregates(connection: AsyncConnection, campaign_id: int) -> Contribution:
    """The aggregates of one campaign recomputed from its non-deleted history."""
    contexts, histories = await campaign_histories(connection, campaign_id)
    return total(contribution(contexts[rid], history) for rid, history in histories.items())


async def stored_aggregates(connection: AsyncConnection, campaign_id: int) -> Contribution:
    """The aggregate rows of one campaign as stored."""
    stored: Contribution = {}
    link_ids = select(Link.id).where(Link.campaign_id == campaign_id).scalar_subquery()
    for name, (table, key_columns, counters) in AGGREGATE_TABLES.items():
        if "campaign_id" in table.c:
            condition = table.c.campaign_id == campaign_id
        else:
            condition = table.c.link_id.in_(link_ids)
        for row in await connection.execute(select(table).where(condition)):
            key = tuple(getattr(row, column) for column in key_columns)
            stored[(name, key)] = {column: getattr(row, column) for column in counters}
    return stored


def _nonzero(aggregates: Contribution) -> dict[AggregateKey, Counters]:
    return {
        key: {field: value for field, value in counters.items() if value}
        for key, counters in aggregates.items()
    }


async def _recipient_drift(
    connection: AsyncConnection,
    campaign_id: int,
    histories: dict[int, list[HistoryEntry]],
    repair: bool,
) -> list[Drift]:
    """Recipients whose stored state, or stored summary (app/ingest/fold_state.py), differs from
    the fold of their history. A recipient without a summary (NULL) is not drift: its next change
    folds its history."""
    drifts: list[Drift] = []
    repairs = []
    columns = list(state_columns(recipient_state([])))
    stored_rows = await connection.execute(
        select(Recipient.id, Recipient.fold, *(getattr(Recipient, name) for name in columns)).where(
            Recipient.campaign_id == campaign_id
        )
    )
    for row in stored_rows:
        if row.id not in histories:
            continue
        expected = state_columns(recipient_state(histories[row.id]))
        changed = {name: value for name, value in expected.items() if getattr(row, name) != value}
        for name, value in sorted(changed.items()):
            drifts.append(Drift("recipients", (row.id,), name, getattr(row, name), value))
        summary = loads(row.fold)
        expected_fold = row.fold
        if summary is not None and summary != (folded := fold(histories[row.id])):
            expected_fold = dumps(folded)
            drifts.append(Drift("recipients", (row.id,), "fold", row.fold, expected_fold))
        if changed or expected_fold != row.fold:
            repairs.append({"recipient_key": row.id, **expected, "fold": expected_fold})
    if repair and repairs:
        await connection.execute(
            update(Recipient)
            .where(Recipient.id == bindparam("recipient_key"))
            .values({name: bindparam(name) for name in [*columns, "fold"]}),
            repairs,
        )
    return drifts


async def reconcile(
    connection: AsyncConnection, campaign_id: int | None = None, repair: bool = False
) -> list[Drift]:
    """Every difference between stored and recomputed aggregates, recipient states and stored
    summaries; with repair, fix them (inside the caller's write transaction)."""
    drifts: list[Drift] = []
    repaired: set[int] = set()  # campaigns whose rows the repair changed
    for cid in await _campaign_ids(connection, campaign_id):
        found = len(drifts)
        contexts, histories = await campaign_histories(connection, cid)
        expected = total(contribution(contexts[rid], history) for rid, history in histories.items())
        stored = await stored_aggregates(connection, cid)
        delta = difference(_nonzero(expected), _nonzero(stored))
        for (table, key), counters in sorted(delta.items(), key=lambda item: str(item[0])):
            for field, change in sorted(counters.items()):
                stored_value = stored.get((table, key), {}).get(field, 0)
                drifts.append(Drift(table, key, field, stored_value, stored_value + change))
        if repair and delta:
            await add_deltas(connection, delta, datetime.now(UTC))
        if histories:
            drifts += await _recipient_drift(connection, cid, histories, repair)
        if repair and len(drifts) > found:
            repaired.add(cid)
    await versions.bump_campaigns(connection, repaired)  # issue 14
    return drifts
