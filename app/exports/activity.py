"""A campaign's event log (its non-deleted responses), oldest first, read in keyset batches."""

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from app.database import Database
from app.exports.csv_stream import moment, text
from app.exports.filters import ActivityFilter
from app.ids import global_id
from app.metrics import cents_to_decimal
from app.models import Contact, Link, Response, Variant

BATCH_SIZE = 5000

HEADER = (
    "response_id",
    "occurred_at",
    "type",
    "recipient_id",
    "contact_id",
    "email",
    "name",
    "variant",
    "link_url",
    "source",
    "provider",
    "amount",
    "bounce_type",
    "bounce_category",
    "bounce_diagnostic",
    "skip_reason",
    "country",
    "city",
    "email_client",
    "device",
    "browser",
    "os",
    "machine",
    "bot",
    "classified_by",  # why an open or click counts as automated (ClassificationReason); empty: a person's
    "note",
    "recorded_at",
    "recorded_by",
)


def filter_conditions(campaign_pk: int, chosen: ActivityFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        Response.campaign_id == campaign_pk,
        Response.deleted_at.is_(None),
    ]
    if chosen.types:
        conditions.append(Response.type.in_([kind.value for kind in chosen.types]))
    if chosen.since is not None:
        conditions.append(Response.occurred_at >= chosen.since)
    if chosen.until is not None:
        conditions.append(Response.occurred_at < chosen.until)
    return conditions


def activity_statement(campaign_pk: int, chosen: ActivityFilter) -> Select:  # type: ignore[type-arg]
    return (
        select(
            Response.id,
            Response.occurred_at,
            Response.type,
            Response.recipient_id,
            Response.contact_id,
            Contact.email,
            Contact.name,
            Variant.name.label("variant_name"),
            Link.url.label("link_url"),
            Response.source,
            Response.provider,
            Response.amount_cents,
            Response.bounce_type,
            Response.bounce_category,
            Response.bounce_diagnostic,
            Response.skip_reason,
            Response.country,
            Response.city,
            Response.email_client,
            Response.device,
            Response.browser,
            Response.os,
            Response.machine,
            Response.bot,
            Response.classified_by,
            Response.note,
            Response.recorded_at,
            Response.recorded_by,
        )
        .select_from(Response)
        .join(Contact, Contact.id == Response.contact_id)
        .outerjoin(Variant, Variant.id == Response.variant_id)
        .outerjoin(Link, Link.id == Response.link_id)
        .where(*filter_conditions(campaign_pk, chosen))
    )


def count_statement(campaign_pk: int, chosen: ActivityFilter) -> Select[Any]:
    return select(func.count()).select_from(Response).where(*filter_conditions(campaign_pk, chosen))


def csv_row(row: Any) -> tuple[Any, ...]:
    """One response as the export's cells, in HEADER order."""
    # Unpacked by position: a Row's attribute lookup costs more than the rest of the row.
    (
        pk, occurred_at, kind, recipient_pk, contact_pk, email, name, variant_name, link_url,
        source, provider, amount_cents, bounce_type, bounce_category, bounce_diagnostic,
        skip_reason, country, city, email_client, device, browser, os, machine, bot, classified_by,
        note, recorded_at, recorded_by,
    ) = row  # fmt: skip
    return (
        global_id("Response", pk),
        moment(occurred_at),
        kind,
        global_id("Recipient", recipient_pk),
        global_id("Contact", contact_pk),
        text(email),
        text(name),
        text(variant_name),
        text(link_url),
        source,
        provider,
        cents_to_decimal(amount_cents),
        bounce_type,
        bounce_category,
        text(bounce_diagnostic),
        skip_reason,
        text(country),
        text(city),
        text(email_client),
        text(device),
        text(browser),
        text(os),
        "true" if machine else "false",
        "true" if bot else "false",
        classified_by,
        text(note),
        moment(recorded_at),
        text(recorded_by),
    )


async def activity_batches(
    database: Database,
    campaign_pk: int,
    chosen: ActivityFilter,
    batch_size: int = BATCH_SIZE,
) -> AsyncIterator[list[Sequence[Any]]]:
    """The matching responses as CSV rows by (occurredAt, id), `batch_size` at a time."""
    statement = activity_statement(campaign_pk, chosen)
    after: tuple[datetime, int] | None = None
    while True:
        page = statement
        if after is not None:
            moment, last_id = after
            page = page.where(
                # Redundant with the OR below, but a plain range the planner can seek the
                # (campaign_id, occurred_at) index with; the OR alone rescans from the start.
                Response.occurred_at >= moment,
                or_(
                    Response.occurred_at > moment,
                    and_(Response.occurred_at == moment, Response.id > last_id),
                ),
            )
        page = page.order_by(Response.occurred_at, Response.id).limit(batch_size)
        async with database.read() as connection:
            rows = (await connection.execute(page)).all()
        if not rows:
            return
        after = (rows[-1].occurred_at, rows[-1].id)
        yield [csv_row(row) for row in rows]
        if len(rows) < batch_size:
            return
