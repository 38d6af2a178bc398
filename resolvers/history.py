"""Response history, newest first: a campaign's activity log, a recipient's responses and a
contact's responses across campaigns. Deleted responses are history no longer shown."""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select

from app.models import Response
from resolvers import batched_pages, campaigns
from resolvers.arguments import aware
from resolvers.context import Info
from resolvers.pagination import Page

responses = Response.__table__
# No campaign has this id: the filter of a campaign the organization does not have.
NO_CAMPAIGN = 0

# (types, since, campaign pk): the filters every history connection may have.
HistoryQuery = tuple[tuple[str, ...], datetime | None, int | None]


def history_query(
    types: list[Any] | None, since: datetime | None, campaign_pk: int | None = None
) -> HistoryQuery:
    """Hashable filters of a history connection (None or [] types: every type)."""
    return (
        tuple(sorted({kind.value for kind in types or ()})),
        aware(since, "since"),
        campaign_pk,
    )


def history_conditions(query: HistoryQuery) -> list[ColumnElement[bool]]:
    types, since, campaign_pk = query
    conditions: list[ColumnElement[bool]] = [responses.c.deleted_at.is_(None)]
    if types:
        conditions.append(responses.c.type.in_(types))
    if since is not None:
        conditions.append(responses.c.occurred_at >= since)
    if campaign_pk is not None:
        conditions.append(responses.c.campaign_id == campaign_pk)
    return conditions


def _shape_by(parent: ColumnElement[Any]) -> batched_pages.ShapeOf:
    def shape(query: HistoryQuery) -> batched_pages.PageShape:
        statement = select(responses).where(*history_conditions(query))
        return batched_pages.PageShape(
            statement, parent, [responses.c.occurred_at, responses.c.id], True
        )

    return shape


_by_campaign = _shape_by(responses.c.campaign_id)
_by_recipient = _shape_by(responses.c.recipient_id)
_by_contact = _shape_by(responses.c.contact_id)
CURSOR_KINDS = (datetime, int)


async def _history(
    info: Info,
    name: str,
    shape: batched_pages.ShapeOf,
    parent: int,
    query: HistoryQuery,
    first: int | None,
    after: str | None,
) -> Page[Any]:
    return await batched_pages.batched_connection(
        info.context,
        name,
        shape,
        parent,
        query,
        first,
        after,
        cursor_of=lambda row: [row.occurred_at, row.id],
        cursor_kinds=CURSOR_KINDS,
    )


async def campaign_activity(
    info: Info,
    campaign_pk: int,
    first: int | None,
    after: str | None,
    types: list[Any] | None,
    since: datetime | None,
) -> Page[Any]:
    """The campaign's event log, newest first, optionally of some types and since a moment."""
    query = history_query(types, since)
    return await _history(info, "campaign_activity", _by_campaign, campaign_pk, query, first, after)


async def recipient_responses(
    info: Info, recipient_pk: int, first: int | None, after: str | None
) -> Page[Any]:
    """A recipient's responses, newest first."""
    query = history_query(None, None)
    return await _history(
        info, "recipient_responses", _by_recipient, recipient_pk, query, first, after
    )


async def contact_responses(
    info: Info,
    contact_pk: int,
    first: int | None,
    after: str | None,
    campaign_id: str | None,
    types: list[Any] | None,
    since: datetime | None,
) -> Page[Any]:
    """A contact's whole history across campaigns, newest first: what integrations sync.
    `campaign_id` (global id or external id) keeps one campaign's; a campaign the organization
    does not have keeps nothing."""
    campaign_pk = None
    if campaign_id is not None:
        campaign = await campaigns.campaign_by_reference(info, campaign_id)
        campaign_pk = campaign.id if campaign is not None else NO_CAMPAIGN
    query = history_query(types, since, campaign_pk)
    return await _history(info, "contact_responses", _by_contact, contact_pk, query, first, after)
