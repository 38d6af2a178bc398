"""A recipient's copy of its contact's sort keys (name, email).

The recipient table of a campaign pages in name or email order; with the keys on the recipient
row, an index (campaign, key, id) serves a page of a 1,000,000-recipient campaign as fast as
one of 1,000, instead of sorting the whole campaign joined with its contacts. The keys follow the
contact: they are set when a recipient is made and again when a contact's name changes.
"""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database import in_chunks
from app.models import Contact, Recipient


def contact_sort_name() -> ColumnElement[str]:
    """The name order of a contact: its name, else its email, case-insensitive."""
    return func.lower(func.coalesce(Contact.name, Contact.email))


def _of_recipients_contact(value: Any) -> ColumnElement[str]:
    return select(value).where(Contact.id == Recipient.contact_id).scalar_subquery()


async def refresh_sort_keys(
    connection: AsyncConnection,
    *,
    recipient_ids: Iterable[int] = (),
    contact_ids: Iterable[int] = (),
) -> None:
    """Copy the contacts' sort keys onto these recipients, and onto every recipient of these
    contacts."""
    for column, keys in ((Recipient.id, recipient_ids), (Recipient.contact_id, contact_ids)):
        for chunk in in_chunks(sorted(set(keys))):
            if chunk:
                await connection.execute(
                    update(Recipient)
                    .where(column.in_(chunk))
                    .values(
                        sort_name=_of_recipients_contact(contact_sort_name()),
                        sort_email=_of_recipients_contact(Contact.email),
                    )
                )
