"""A campaign's recipient table: filters, orders and keyset pages (`Campaign.recipients`).

`recipient_filter_conditions` and `recipient_sort_key` are public so that downloads (CSV, Excel)
list exactly the rows the table shows, in the same order.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, case, exists, func, literal, select

from app.database import UTCDateTime
from app.enums import RecipientStatus, ResponseType
from app.models import Contact, Recipient, Response
from resolvers import batched_pages, loaders, rows
from resolvers.arguments import argument_pk
from resolvers.context import Info
from resolvers.search import search_argument
from resolvers.selection import selects_any
from schema.connection import Connection

if TYPE_CHECKING:  # the schema modules import these resolvers
    from schema import campaign as campaign_types
    from schema import recipient as recipient_types

recipients = Recipient.__table__
contacts = Contact.__table__
responses = Response.__table__

# STATUS sorts in the order RecipientStatus lists its values (roughly, how far a recipient got).
STATUS_RANK = {status.value: rank for rank, status in enumerate(RecipientStatus)}
# DATE of a recipient without responses: before anything that can happen.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RecipientCriteria:
    """A RecipientFilter with its ids checked: hashable, so that pages can be batched by it."""

    statuses: tuple[str, ...] = ()
    responded: tuple[str, ...] = ()
    variant_pk: int | None = None
    owner_pk: int | None = None
    link_pk: int | None = None
    search: str | None = None


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


def _has_response(**matching: Any) -> ColumnElement[bool]:
    """The recipient has a non-deleted response with these column values."""
    return exists(
        select(responses.c.id).where(
            responses.c.recipient_id == recipients.c.id,
            responses.c.deleted_at.is_(None),
            *(responses.c[name] == value for name, value in matching.items()),
        )
    )


def recipient_filter_conditions(filter: Any) -> list[ColumnElement[bool]]:
    """WHERE conditions for a RecipientFilter (or RecipientCriteria) over `recipients JOIN
    contacts ON contacts.id = recipients.contact_id` (search reads the contact's name and email).

    The caller limits the rows to campaigns of its organization."""
    criteria = filter if isinstance(filter, RecipientCriteria) else recipient_criteria(filter)
    conditions: list[ColumnElement[bool]] = []
    if criteria.statuses:
        conditions.append(recipients.c.status.in_(criteria.statuses))
    for response_type in criteria.responded:
        conditions.append(_has_response(type=response_type))
    if criteria.variant_pk is not None:
        conditions.append(recipients.c.variant_id == criteria.variant_pk)
    if criteria.owner_pk is not None:
        conditions.append(recipients.c.owner_id == criteria.owner_pk)
    if criteria.link_pk is not None:
        conditions.append(_has_response(type=ResponseType.CLICKED.value, link_id=criteria.link_pk))
    if criteria.search:
        # autoescape: a % or _ typed in the search box is a character, not a wildcard.
        conditions.append(
            func.lower(func.coalesce(contacts.c.name, "")).contains(
                criteria.search, autoescape=True
            )
            | func.lower(contacts.c.email).contains(criteria.search, autoescape=True)
        )
    return conditions


def recipient_sort_value(field: str) -> ColumnElement[Any]:
    """The value a RecipientOrderField sorts by; never NULL, so that keyset tuples compare.

    NAME: the contact's name, case-insensitive (a contact without a name sorts by its email).
    EMAIL: the email. STATUS: the status's rank in RecipientStatus. DATE: when the latest
    response happened; a recipient without responses sorts as older than any (last when
    newest first)."""
    if field == "NAME":
        return recipients.c.sort_name  # lower(name or email), copied from the contact
    if field == "EMAIL":
        return recipients.c.sort_email
    if field == "STATUS":
        return case(STATUS_RANK, value=recipients.c.status, else_=len(STATUS_RANK))
    if field == "DATE":
        return func.coalesce(recipients.c.latest_response_at, literal(NEVER, UTCDateTime()))
    raise ValueError(f"unknown recipient order {field!r}")


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
    campaign: "campaign_types.Campaign",
    first: int | None,
    after: str | None,
    filter: Any,
    order_by: Any,
) -> Connection["recipient_types.Recipient"]:
    """A page of the campaign's recipients; the pages of every campaign in a list load at once."""
    criteria = recipient_criteria(filter)
    field, descending = recipient_sort_key(order_by)
    connection = await batched_pages.batched_connection(
        info.context,
        "campaign_recipients",
        _shape,
        campaign.pk,
        (criteria, field, descending),
        first,
        after,
        cursor_of=lambda row: [row.sort_value, row.id],
        node_of=rows.recipient,
        cursor_kinds=CURSOR_KINDS[field],
    )
    if connection.edges and selects_any(info, ("contact",)):
        # The page's contacts in one batch, so each row answers `contact` synchronously.
        nodes = [edge.node for edge in connection.edges]
        found = await info.context.loader(loaders.contact_by_id).load_many(
            [node.contact_pk for node in nodes]
        )
        for node, row in zip(nodes, found, strict=True):
            node.known_contact = rows.contact(row) if row else None
    return connection
