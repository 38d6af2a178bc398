"""Contacts: lookup by id, email or external id, the contact list, and a contact's campaigns."""

from datetime import datetime
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import ColumnElement, func, select

from app.database import in_chunks
from app.models import Campaign, Contact, Recipient
from resolvers import batched_pages, loaders
from resolvers.arguments import BadArgument, argument_pk
from resolvers.context import Context, Info
from resolvers.pagination import Page, keyset_page, page_of, page_size
from resolvers.search import search_argument

contacts = Contact.__table__
recipients = Recipient.__table__
campaigns = Campaign.__table__


def _contact_by(column: str) -> Any:
    """A loader of the organization's contacts by a unique column (email, external_id)."""

    def factory(context: Context) -> DataLoader:
        async def batch(keys: list[str]) -> list[Any]:
            found: dict[str, Any] = {}
            for chunk in in_chunks(sorted(set(keys))):
                for row in await context.fetch(
                    select(contacts).where(
                        contacts.c.organization_id == context.organization_id,
                        contacts.c[column].in_(chunk),
                    )
                ):
                    found[getattr(row, column)] = row
            return [found.get(key) for key in keys]

        return DataLoader(batch)

    return factory


contact_by_email = _contact_by("email")
contact_by_external_id = _contact_by("external_id")


async def contact(info: Info, id: str | None, email: str | None, external_id: str | None) -> Any:
    """The organization's contact row with this id, email or external id; None when there is none
    (another organization's contact included)."""
    given = [
        name
        for name, value in (("id", id), ("email", email), ("externalId", external_id))
        if value is not None
    ]
    if len(given) != 1:
        raise BadArgument("give exactly one of id, email and externalId")
    context = info.context
    if id is not None:
        row = await context.loader(loaders.contact_by_id).load(argument_pk(id, "Contact", "id"))
    elif email is not None:
        # Emails are stored trimmed and lower-cased.
        row = await context.loader(contact_by_email).load(email.strip().lower())
    else:
        row = await context.loader(contact_by_external_id).load(external_id)
    return row


def contact_filter_conditions(info: Info, filter: Any) -> list[ColumnElement[bool]]:
    """WHERE conditions of a ContactFilter, within the caller's organization."""
    conditions: list[ColumnElement[bool]] = [
        contacts.c.organization_id == info.context.organization_id
    ]
    if filter is None:
        return conditions
    search = search_argument(filter.search, "filter.search")
    if search:
        conditions.append(
            func.lower(func.coalesce(contacts.c.name, "")).contains(search, autoescape=True)
            | func.lower(contacts.c.email).contains(search, autoescape=True)
            | func.lower(func.coalesce(contacts.c.external_id, "")).contains(
                search, autoescape=True
            )
        )
    owner_pk = argument_pk(filter.owner_id, "User", "filter.ownerId")
    if owner_pk is not None:
        conditions.append(contacts.c.owner_id == owner_pk)
    if filter.suppressed is not None:
        suppressed = contacts.c.suppression_reason.is_not(None)
        conditions.append(suppressed if filter.suppressed else ~suppressed)
    return conditions


async def contacts_connection(
    info: Info, first: int | None, after: str | None, filter: Any
) -> Page[Any]:
    """The organization's contacts by email."""
    size = page_size(first)
    batched_pages.check_cursor(after, (str, int))
    conditions = contact_filter_conditions(info, filter)
    statement = select(contacts).where(*conditions)
    found = await info.context.fetch(
        keyset_page(statement, [contacts.c.email, contacts.c.id], False, size, after)
    )

    async def count_total() -> int:
        counted = await info.context.fetch(
            select(func.count()).select_from(contacts).where(*conditions)
        )
        return int(counted[0][0])

    return page_of(found, size, after, lambda row: [row.email, row.id], count_total)


# A contact's campaigns, newest first: by when the campaign was sent (or created, if unsent).
_campaign_date = func.coalesce(campaigns.c.sent_at, campaigns.c.created_at)


def _campaigns_shape(query: tuple[()]) -> batched_pages.PageShape:
    statement = select(recipients, _campaign_date.label("sort_value")).join(
        campaigns, campaigns.c.id == recipients.c.campaign_id
    )
    return batched_pages.PageShape(
        statement, recipients.c.contact_id, [_campaign_date, recipients.c.id], True
    )


async def contact_campaigns(
    info: Info, contact_pk: int, first: int | None, after: str | None
) -> Page[Any]:
    """The contact's recipient rows, one per campaign, newest campaign first."""
    return await batched_pages.batched_connection(
        info.context,
        "contact_campaigns",
        _campaigns_shape,
        contact_pk,
        (),
        first,
        after,
        cursor_of=lambda row: [row.sort_value, row.id],
        cursor_kinds=(datetime, int),
    )
