"""Every recipient of a campaign with its folded state, read in keyset batches.

Batches are ordered by contact id: (campaign_id, contact_id) is a unique index on both backends,
so each batch is one index range scan however large the campaign is, and memory stays flat.
"""

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, func, select, type_coerce
from sqlalchemy.orm import aliased

from app.database import Database
from app.exports.csv_stream import moment as datetime_moment
from app.exports.csv_stream import sqlite_moment, text
from app.exports.filters import RecipientFilter
from app.ids import global_id
from app.models import Contact, Recipient, Response, User, Variant
from app.recipient_query import RecipientCriteria, recipient_filter_conditions

BATCH_SIZE = 5000

HEADER = (
    "recipient_id",
    "contact_id",
    "contact_external_id",
    "email",
    "name",
    "owner_id",
    "owner_name",
    "owner_email",
    "variant_id",
    "variant",
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
    "latest_response",
    "latest_response_at",
)

LatestResponse = aliased(Response, name="latest_response")


def filter_conditions(campaign_pk: int, chosen: RecipientFilter) -> list[ColumnElement[bool]]:
    """The campaign's recipients that Campaign.recipients(filter: ...) lists: the table's own
    filter conditions (app/recipient_query.py), so the download and the table always agree."""
    criteria = RecipientCriteria(
        statuses=tuple(sorted({status.value for status in chosen.status})),
        responded=tuple(sorted({kind.value for kind in chosen.responded})),
        variant_pk=chosen.variant_id,
        owner_pk=chosen.owner_id,
        link_pk=chosen.link_id,
        search=(chosen.search or "").strip().lower() or None,
    )
    return [
        Recipient.campaign_id == campaign_pk,
        *recipient_filter_conditions(criteria),
    ]


def recipients_statement(
    campaign_pk: int, chosen: RecipientFilter, stored_times: bool = False
) -> Select:  # type: ignore[type-arg]
    """The export's columns for the recipients that match, without order or limit; with
    `stored_times` (SQLite), times as the text stored, for `sqlite_moment`."""

    def time(column: Any) -> Any:
        return type_coerce(column, String).label(column.key) if stored_times else column

    return (
        select(
            Recipient.id,
            Recipient.contact_id,
            Contact.external_id,
            Contact.email,
            Contact.name,
            Recipient.owner_id,
            User.name.label("owner_name"),
            User.email.label("owner_email"),
            Recipient.variant_id,
            Variant.name.label("variant_name"),
            Recipient.status,
            Recipient.skip_reason,
            Recipient.bounce_type,
            Recipient.bounce_category,
            Recipient.bounce_diagnostic,
            time(Recipient.sent_at),
            time(Recipient.delivered_at),
            time(Recipient.first_opened_at),
            time(Recipient.last_opened_at),
            Recipient.opens,
            time(Recipient.first_clicked_at),
            Recipient.clicks,
            time(Recipient.unsubscribed_at),
            LatestResponse.type.label("latest_response"),
            time(LatestResponse.occurred_at).label("latest_response_at"),
        )
        .select_from(Recipient)
        .join(Contact, Contact.id == Recipient.contact_id)
        .outerjoin(User, User.id == Recipient.owner_id)
        .outerjoin(Variant, Variant.id == Recipient.variant_id)
        .outerjoin(
            LatestResponse,
            and_(
                LatestResponse.id == Recipient.latest_response_id,
                LatestResponse.deleted_at.is_(None),
            ),
        )
        .where(*filter_conditions(campaign_pk, chosen))
    )


def count_statement(campaign_pk: int, chosen: RecipientFilter) -> Select[Any]:
    """How many rows the export will have (for a progress bar)."""
    return (
        select(func.count())
        .select_from(Recipient)
        .join(Contact, Contact.id == Recipient.contact_id)
        .where(*filter_conditions(campaign_pk, chosen))
    )


class _GlobalIds:
    """Global ids of one type, remembered: owners and variants repeat on every row."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        self.known: dict[int, str] = {}

    def __call__(self, pk: int | None) -> str | None:
        if pk is None:
            return None
        found = self.known.get(pk)
        if found is None:
            found = self.known[pk] = global_id(self.type_name, pk)
        return found


def row_converter(stored_times: bool = False) -> Any:
    """A function from a result row to the export's cells, in HEADER order."""
    owner_id, variant_id = _GlobalIds("User"), _GlobalIds("Variant")
    moment = sqlite_moment if stored_times else datetime_moment

    def convert(row: Any) -> tuple[Any, ...]:
        # Unpacked by position: a Row's attribute lookup costs more than the rest of the row.
        (
            pk, contact_pk, external_id, email, name, owner_pk, owner_name, owner_email,
            variant_pk, variant_name, status, skip_reason, bounce_type, bounce_category,
            bounce_diagnostic, sent_at, delivered_at, first_opened_at, last_opened_at, opens,
            first_clicked_at, clicks, unsubscribed_at, latest_response, latest_response_at,
        ) = row  # fmt: skip
        return (
            global_id("Recipient", pk),
            global_id("Contact", contact_pk),
            text(external_id),
            text(email),
            text(name),
            owner_id(owner_pk),
            text(owner_name),
            text(owner_email),
            variant_id(variant_pk),
            text(variant_name),
            status,
            skip_reason,
            bounce_type,
            bounce_category,
            text(bounce_diagnostic),
            moment(sent_at),
            moment(delivered_at),
            moment(first_opened_at),
            moment(last_opened_at),
            opens,
            moment(first_clicked_at),
            clicks,
            moment(unsubscribed_at),
            latest_response,
            moment(latest_response_at),
        )

    return convert


async def recipient_batches(
    database: Database,
    campaign_pk: int,
    chosen: RecipientFilter,
    batch_size: int = BATCH_SIZE,
) -> AsyncIterator[list[Sequence[Any]]]:
    """The matching recipients as CSV rows, `batch_size` at a time, each batch one short read."""
    statement = recipients_statement(campaign_pk, chosen, stored_times=database.sqlite)
    convert = row_converter(stored_times=database.sqlite)
    after = 0
    while True:
        page = (
            statement.where(Recipient.contact_id > after)
            .order_by(Recipient.contact_id)
            .limit(batch_size)
        )
        async with database.read() as connection:
            rows = (await connection.execute(page)).all()
        if not rows:
            return
        after = rows[-1].contact_id
        yield [convert(row) for row in rows]
        if len(rows) < batch_size:
            return
