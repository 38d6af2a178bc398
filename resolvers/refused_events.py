"""Query.refusedEvents: the organization's malformed provider events kept aside (ADMIN only)."""

from typing import Any

from sqlalchemy import func, select

from app.enums import Role
from app.ingest.refused import RefusedEvent, refused_conditions, refused_event
from app.models import UnmatchedEvent
from resolvers import batched_pages
from resolvers.context import Info
from resolvers.pagination import Page, keyset_page, page_of, page_size

unmatched_events = UnmatchedEvent.__table__


async def refused_events(
    info: Info, first: int | None, after: str | None, replayed: bool
) -> Page[RefusedEvent]:
    """The kept malformed events, oldest first; with `replayed`, those replayed already too.

    ADMIN only: the raw events carry recipients' addresses and the provider's data as sent."""
    info.context.require(Role.ADMIN)
    size = page_size(first)
    batched_pages.check_cursor(after, (int,))
    conditions = refused_conditions(info.context.organization_id, replayed)
    found = await info.context.fetch(
        keyset_page(
            select(unmatched_events).where(*conditions),
            [unmatched_events.c.id],
            False,
            size,
            after,
        )
    )

    async def count_total() -> int:
        counted = await info.context.fetch(
            select(func.count()).select_from(unmatched_events).where(*conditions)
        )
        return int(counted[0][0])

    page: Page[Any] = page_of(found, size, after, lambda row: [row.id], count_total)
    return Page(
        items=[refused_event(row) for row in page.items],
        cursors=page.cursors,
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        count_total=count_total,
    )
