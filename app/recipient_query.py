"""Which recipients of a campaign a recipient filter matches, and the value each order sorts by.

One home for the table (`Campaign.recipients`) and the downloads (CSV, Excel), so that both list
exactly the same rows.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, literal, select

from app.database import UTCDateTime
from app.enums import RecipientStatus, ResponseType
from app.models import Contact, Recipient, Response

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


def _has_response(**matching: Any) -> ColumnElement[bool]:
    """The recipient has a non-deleted response with these column values."""
    return exists(
        select(responses.c.id).where(
            responses.c.recipient_id == recipients.c.id,
            responses.c.deleted_at.is_(None),
            *(responses.c[name] == value for name, value in matching.items()),
        )
    )


def recipient_filter_conditions(criteria: RecipientCriteria) -> list[ColumnElement[bool]]:
    """WHERE conditions for the criteria over `recipients JOIN contacts ON contacts.id =
    recipients.contact_id` (search reads the contact's name and email).

    The caller limits the rows to campaigns of its organization."""
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
