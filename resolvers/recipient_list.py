"""A campaign's recipient table: filters, orders and keyset pages (`Campaign.recipients`).

The filter conditions and sort values live in app/recipient_query.py, shared with the downloads
(CSV, Excel), so that both list exactly the same rows.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.models import Contact, Recipient
from app.recipient_query import (
    RecipientCriteria,
    recipient_filter_conditions,
    recipient_sort_value,
)
from resolvers import batched_pages, loaders
from resolvers.arguments import argument_pk
from resolvers.context import Info
from resolvers.pagination import Page
from resolvers.records import RecipientRecord
from resolvers.search import search_argument
from resolvers.selection import selects_any

recipients = Recipient.__table__
contacts = Contact.__table__


def recipient_criteria(filter: Any) -> RecipientCriteria:
    """The criteria of a RecipientFilter input (None: every recipient). A malformed id or an id
    of another type raises BadArgument; another organization's id matches nothing."""
    if filter is None:
        return RecipientCriteria()
    search = search_argument(filter.search, "filter.search")
    return RecipientCriteria(
        statuses=tuple(sorted({status.value for status in filter.status or ()})),
        responded=tuple(sorted({kind.value for kind in filter.responded or ()})),
        variant_pk=argument_pk(filter.variant_id, "Variant", "filter.variantId"),
        owner_pk=argument_pk(filter.owner_id, "User", "filter.ownerId"),
        link_pk=argument_pk(filter.link_id, "Link", "filter.linkId"),
        search=search,
    )


def recipient_sort_key(order_by: Any) -> tuple[str, bool]:
    """(field, descending) of a RecipientOrder input; by default NAME ascending."""
    if order_by is None:
        return "NAME", False
    return order_by.field.value, order_by.direction.value == "DESC"


CURSOR_KINDS: dict[str, tuple[type, ...]] = {
    "NAME": (str, int),
    "EMAIL": (str, int),
    "STATUS": (int, int),
    "DATE": (datetime, int),
}


def _shape(query: tuple[RecipientCriteria, str, bool]) -> batched_pages.PageShape:
    criteria, field, descending = query
    value = recipient_sort_value(field)
    statement = select(recipients, value.label("sort_value"))
    if criteria.search:
        # Only a search reads the contact; a large campaign's page and count skip the join.
        statement = statement.join(contacts, contacts.c.id == recipients.c.contact_id)
    statement = statement.where(*recipient_filter_conditions(criteria))
    return batched_pages.PageShape(
        statement, recipients.c.campaign_id, [value, recipients.c.id], descending
    )


async def recipients_connection(
    info: Info,
    campaign_pk: int,
    first: int | None,
    after: str | None,
    filter: Any,
    order_by: Any,
) -> Page[RecipientRecord]:
    """A page of the campaign's recipients; the pages of every campaign in a list load at once."""
    criteria = recipient_criteria(filter)
    field, descending = recipient_sort_key(order_by)
    page = await batched_pages.batched_connection(
        info.context,
        "campaign_recipients",
        _shape,
        campaign_pk,
        (criteria, field, descending),
        first,
        after,
        cursor_of=lambda row: [row.sort_value, row.id],
        cursor_kinds=CURSOR_KINDS[field],
    )
    contacts: list[Any] = [None] * len(page.items)
    if page.items and selects_any(info, ("contact",)):
        # The page's contacts in one batch, so each row answers `contact` synchronously.
        contacts = await info.context.loader(loaders.contact_by_id).load_many(
            [row.contact_id for row in page.items]
        )
    return Page(
        items=[
            RecipientRecord(row, contact) for row, contact in zip(page.items, contacts, strict=True)
        ],
        cursors=page.cursors,
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        count_total=page.count_total,
    )
