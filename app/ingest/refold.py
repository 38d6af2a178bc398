"""A recipient's state folded again from its history, and the aggregate deltas of the change.

Recipients are locked (PostgreSQL: SELECT ... FOR UPDATE) before their history or stored summary
is read, so concurrent batches never lose an update. Each write stores the recipient's summary
(app/ingest/fold_state.py) beside its state, so the next batch folds only its own events.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database import in_chunks
from app.enums import ResponseType
from app.ingest.aggregate_writer import add_deltas
from app.ingest.bulk import among, update_many
from app.ingest.contributions import Contribution, RecipientContext, contribution_change, total
from app.ingest.fold_state import FoldState, dumps, fold, loads
from app.ingest.history import HistoryEntry
from app.ingest.recipient_state import RecipientState, recipient_state
from app.models import Contact, Recipient, Response

HISTORY_COLUMNS = (
    Response.id,
    Response.recipient_id,
    Response.type,
    Response.occurred_at,
    Response.link_id,
    Response.amount_cents,
    Response.bounce_type,
    Response.bounce_category,
    Response.bounce_diagnostic,
    Response.skip_reason,
    Response.machine,
    Response.bot,
    Response.country,
    Response.city,
    Response.email_client,
    Response.device,
    Response.browser,
    Response.os,
)


# Looking a member up by value through ResponseType(...) is slow; the fold reads every row.
TYPE_OF_VALUE = {kind.value: kind for kind in ResponseType}


def history_entry(row: Any) -> HistoryEntry:
    """A stored response row (HISTORY_COLUMNS first) as the fold sees it."""
    # By position: the fold reads thousands of rows a batch, and a Row's attribute lookups cost
    # three times as much as building the entry.
    return HistoryEntry(
        row[0],
        TYPE_OF_VALUE[row[2]],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        bool(row[10]),
        bool(row[11]),
        row[12],
        row[13],
        row[14],
        row[15],
        row[16],
        row[17],
    )


async def load_histories(
    connection: AsyncConnection, recipient_ids: Iterable[int]
) -> dict[int, list[HistoryEntry]]:
    """The non-deleted history of each recipient."""
    histories: dict[int, list[HistoryEntry]] = defaultdict(list)
    for chunk in in_chunks(sorted(set(recipient_ids))):
        result = await connection.execute(
            select(*HISTORY_COLUMNS).where(
                Response.recipient_id.in_(chunk), Response.deleted_at.is_(None)
            )
        )
        for row in result:
            histories[row.recipient_id].append(history_entry(row))
    return histories


RECIPIENT_CONTEXT_COLUMNS = (
    Recipient.id,
    Recipient.campaign_id,
    Recipient.contact_id,
    Recipient.variant_id,
    Recipient.owner_id,
    Contact.email,
)


async def lock_recipients(
    connection: AsyncConnection, recipient_ids: Iterable[int]
) -> dict[int, RecipientContext]:
    """Each recipient's context, with the recipients locked until commit on PostgreSQL."""
    return {
        rid: context for rid, (context, _) in (await lock_folds(connection, recipient_ids)).items()
    }


async def lock_folds(
    connection: AsyncConnection, recipient_ids: Iterable[int]
) -> dict[int, tuple[RecipientContext, FoldState | None]]:
    """Each recipient's context and stored summary (None: fold its history), locked until commit
    on PostgreSQL, in id order so that concurrent writers wait rather than deadlock."""
    found: dict[int, tuple[RecipientContext, FoldState | None]] = {}
    for chunk in in_chunks(sorted(set(recipient_ids))):
        statement = (
            select(*RECIPIENT_CONTEXT_COLUMNS, Recipient.fold)
            .join(Contact, Contact.id == Recipient.contact_id)
            .where(among(connection, Recipient.id, chunk))
            .order_by(Recipient.id)
        )
        if connection.dialect.name == "postgresql":
            statement = statement.with_for_update(of=Recipient.__table__)
        for row in await connection.execute(statement):
            context = RecipientContext(row[1], row[3], row[4], row[2], row[5])
            found[row[0]] = (context, loads(row[6]))
    return found


# What store_recipients writes: the variant, the time, the summary, then state_columns.
STORED_COLUMNS = (
    "variant_id",
    "updated_at",
    "fold",
    "status",
    "skip_reason",
    "bounce_type",
    "bounce_category",
    "bounce_diagnostic",
    "sent_at",
    "delivered_at",
    "first_opened_at",
    "last_opened_at",
    "opens",
    "first_clicked_at",
    "clicks",
    "unsubscribed_at",
    "latest_response_id",
    "latest_response_at",
)


def state_columns(state: RecipientState) -> dict[str, Any]:
    """The recipient row's folded columns."""
    bounce = state.bounce
    return {
        "status": state.status.value,
        "skip_reason": state.skip_reason,
        "bounce_type": bounce.type if bounce else None,
        "bounce_category": bounce.category if bounce else None,
        "bounce_diagnostic": bounce.diagnostic if bounce else None,
        "sent_at": state.sent_at,
        "delivered_at": state.delivered_at,
        "first_opened_at": state.first_opened_at,
        "last_opened_at": state.last_opened_at,
        "opens": state.opens,
        "first_clicked_at": state.first_clicked_at,
        "clicks": state.clicks,
        "unsubscribed_at": state.unsubscribed_at,
        "latest_response_id": state.latest_response_id,
        "latest_response_at": state.latest_response_at,
    }


async def refold_recipients(
    connection: AsyncConnection,
    before: dict[int, tuple[RecipientContext, list[HistoryEntry]]],
    after: dict[int, tuple[RecipientContext, list[HistoryEntry]]],
    now: datetime,
) -> None:
    """Store each changed recipient's new state and summary, folded from its whole history, and
    add the change in its contribution (deletions, reclassification, moves to a variant)."""
    deltas: list[Contribution] = []
    folded: dict[int, tuple[RecipientContext, FoldState, RecipientState]] = {}
    for recipient_id, (context, history) in after.items():
        old_context, old_history = before[recipient_id]
        state = recipient_state(history)
        deltas.append(contribution_change(old_context, old_history, context, history, state=state))
        folded[recipient_id] = (context, fold(history), state)
    await store_recipients(connection, folded, now)
    await add_deltas(connection, total(deltas), now)


async def store_recipients(
    connection: AsyncConnection,
    folded: dict[int, tuple[RecipientContext, FoldState, RecipientState]],
    now: datetime,
) -> None:
    """Write each recipient's folded columns, summary and variant: one statement for all, in id
    order."""
    if not folded:
        return
    rows = [
        [
            context.variant_id,
            now,
            dumps(summary),
            *state_columns(state).values(),
            recipient_id,
        ]
        for recipient_id, (context, summary, state) in sorted(folded.items())
    ]
    await update_many(connection, Recipient.__table__, "id", STORED_COLUMNS, rows)  # type: ignore[arg-type]
