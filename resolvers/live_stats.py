"""Live campaign statistics: the newest numbers whenever the campaign changes, at most once a
second for each subscriber.

A subscription lives as long as its websocket, so it keeps no dataloaders or connection: each
message is one short read of the pre-aggregated rows.
"""

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

from graphql import GraphQLError
from sqlalchemy import Select, bindparam, func, select

from app import pubsub
from app.database import Database
from app.metrics import metrics
from app.models import STATS_COUNTERS, Campaign, CampaignStats
from resolvers.context import Info
from schema.node import parse_pk
from schema.stats import Stats

# At most one message a second per subscriber; numbers that arrive meanwhile are merged into it.
MIN_INTERVAL_SECONDS = 1.0

_stats_table = CampaignStats.__table__
CAMPAIGN_COUNTERS: Select[Any] = (
    select(
        Campaign.cost_cents,
        *(func.coalesce(func.sum(_stats_table.c[name]), 0).label(name) for name in STATS_COUNTERS),
        func.max(_stats_table.c.updated_at).label("updated_at"),
    )
    .select_from(Campaign)
    .outerjoin(_stats_table, _stats_table.c.campaign_id == Campaign.id)
    .where(
        Campaign.id == bindparam("campaign_id"),
        Campaign.organization_id == bindparam("organization_id"),
    )
    .group_by(Campaign.id, Campaign.cost_cents)
)


async def current_stats(
    database: Database, organization_id: int, campaign_pk: int, human_only: bool = False
) -> dict[str, Any] | None:
    """The Stats fields of the organization's campaign now; None if it has no such campaign."""
    async with database.read() as connection:
        row = (
            await connection.execute(
                CAMPAIGN_COUNTERS,
                {"campaign_id": campaign_pk, "organization_id": organization_id},
            )
        ).first()
    if row is None:
        return None
    counters = row._asdict()
    cost_cents = counters.pop("cost_cents")
    return metrics(counters, cost_cents, human_only)


def _not_found(campaign_id: str) -> GraphQLError:
    return GraphQLError(
        f"no campaign with id {campaign_id!r} in this organization",
        extensions={"code": "NOT_FOUND"},
    )


async def campaign_stats(
    info: Info, campaign_id: str, human_only: bool = False
) -> AsyncGenerator[Stats, None]:
    """The campaign's Stats now, then again after each change (at most once a second)."""
    context = info.context
    database, organization_id = context.database, context.principal.organization_id
    campaign_pk = parse_pk(campaign_id, "Campaign")
    if campaign_pk is None:
        raise _not_found(campaign_id)
    broker = pubsub.broker_for(database)
    # Listen first, then read: a change between the two is never missed.
    async with broker.listen(campaign_pk) as changed:
        last: dict[str, Any] | None = None
        sent_at = float("-inf")
        while True:
            numbers = await current_stats(database, organization_id, campaign_pk, human_only)
            if numbers is None:
                raise _not_found(campaign_id)
            if numbers != last:
                last = numbers
                sent_at = time.monotonic()
                yield Stats(**numbers)
            await changed.wait()
            wait = sent_at + MIN_INTERVAL_SECONDS - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            # Cleared after the pause: changes during it are all in the one read that follows.
            changed.clear()
