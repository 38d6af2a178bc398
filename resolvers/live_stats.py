"""Live campaign statistics: the newest numbers whenever the campaign changes, at most once a
second.

A subscription lives as long as its websocket, so it keeps no dataloaders or connection. The
subscribers of one campaign in this process share a feed: one listener and one short read of the
pre-aggregated rows per wake-up (at most one a second), however many dashboards watch it.
"""

import asyncio
import time
import weakref
from collections.abc import AsyncGenerator
from typing import Any

from graphql import GraphQLError
from sqlalchemy import Select, bindparam, func, select

from app import pubsub
from app.auth import key_is_active
from app.campaign_references import campaign_row_by_reference
from app.database import Database
from app.metrics import metrics
from app.models import STATS_COUNTERS, Campaign, CampaignStats
from app.telemetry import telemetry_of
from resolvers.context import Info

# At most one message a second per subscriber; numbers that arrive meanwhile are merged into it.
MIN_INTERVAL_SECONDS = 1.0
# A subscription outlives the request that proved its key: before a message, the key is checked
# again when the last check is older than this, so a revoked key stops receiving numbers.
KEY_CHECK_SECONDS = 30.0

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


async def _read_counters(
    database: Database, organization_id: int, campaign_pk: int
) -> dict[str, Any] | None:
    """The summed counters and cost of the organization's campaign; None if it has none such."""
    async with database.read() as connection:
        row = (
            await connection.execute(
                CAMPAIGN_COUNTERS,
                {"campaign_id": campaign_pk, "organization_id": organization_id},
            )
        ).first()
    return None if row is None else row._asdict()


def _stats(counters: dict[str, Any], human_only: bool) -> dict[str, Any]:
    counters = dict(counters)
    cost_cents = counters.pop("cost_cents")
    return metrics(counters, cost_cents, human_only)


async def current_stats(
    database: Database, organization_id: int, campaign_pk: int, human_only: bool = False
) -> dict[str, Any] | None:
    """The Stats fields of the organization's campaign now; None if it has no such campaign."""
    counters = await _read_counters(database, organization_id, campaign_pk)
    return None if counters is None else _stats(counters, human_only)


class _Feed:
    """One campaign's counters for every subscriber of this process: read once when the feed
    starts, then once per wake-up, at most once a second. Subscribers wait for a newer version.
    """

    def __init__(self, database: Database, organization_id: int, campaign_pk: int) -> None:
        self.version = 0
        self.counters: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.subscribers = 0
        self.updated = asyncio.Condition()
        self.task = asyncio.get_running_loop().create_task(
            self._run(database, organization_id, campaign_pk)
        )

    async def _publish(self, counters: dict[str, Any] | None, error: BaseException | None) -> None:
        async with self.updated:
            self.counters, self.error = counters, error
            self.version += 1
            self.updated.notify_all()

    async def _run(self, database: Database, organization_id: int, campaign_pk: int) -> None:
        try:
            # Listen first, then read: a change between the two is never missed.
            async with pubsub.broker_for(database).listen(campaign_pk) as changed:
                while True:
                    read_at = time.monotonic()
                    counters = await _read_counters(database, organization_id, campaign_pk)
                    await self._publish(counters, None)
                    await changed.wait()
                    wait = read_at + MIN_INTERVAL_SECONDS - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    # Cleared after the pause: changes during it are all in the next read.
                    changed.clear()
        except Exception as exc:  # noqa: BLE001 - handed to every subscriber, which raises it
            await self._publish(None, exc)

    async def next(self, seen: int) -> tuple[int, dict[str, Any] | None]:
        """The version after `seen` and its counters (None: no such campaign); waits for it."""
        async with self.updated:
            await self.updated.wait_for(lambda: self.version > seen)
            if self.error is not None:
                raise self.error
            return self.version, self.counters


FeedKey = tuple[int, int]  # (organization id, campaign id)
_feeds: "weakref.WeakKeyDictionary[Database, dict[FeedKey, _Feed]]" = weakref.WeakKeyDictionary()


def _join(database: Database, organization_id: int, campaign_pk: int) -> _Feed:
    feeds = _feeds.setdefault(database, {})
    key = (organization_id, campaign_pk)
    feed = feeds.get(key)
    if feed is None or feed.task.done():
        # A feed that ended (its read failed) is replaced: a new subscriber tries afresh.
        feed = feeds[key] = _Feed(database, organization_id, campaign_pk)
    feed.subscribers += 1
    return feed


def _leave(database: Database, organization_id: int, campaign_pk: int, feed: _Feed) -> None:
    feed.subscribers -= 1
    if feed.subscribers == 0:
        feed.task.cancel()  # its listener is released as the task unwinds
        feeds = _feeds.get(database, {})
        if feeds.get((organization_id, campaign_pk)) is feed:
            del feeds[(organization_id, campaign_pk)]


def _not_found(campaign_id: str) -> GraphQLError:
    return GraphQLError(
        f"no campaign with id {campaign_id!r} in this organization",
        extensions={"code": "NOT_FOUND"},
    )


async def campaign_stats(
    info: Info, campaign_id: str, human_only: bool = False
) -> AsyncGenerator[dict[str, Any], None]:
    """The campaign's Stats fields now, then again after each change (at most once a second).
    `campaign_id` is its global id or its external id."""
    context = info.context
    database, organization_id = context.database, context.principal.organization_id
    async with database.read() as connection:
        found = await campaign_row_by_reference(connection, organization_id, campaign_id)
    if found is None:
        raise _not_found(campaign_id)
    campaign_pk = int(found.id)
    feed = _join(database, organization_id, campaign_pk)
    telemetry = telemetry_of(context.request)
    if telemetry is not None:
        telemetry.live_subscriptions.inc()
    try:
        # A feed that is already running gives its newest counters first: a change since
        # that read has woken the feed, so its numbers follow within a second.
        seen, last = feed.version - 1 if feed.version else 0, None
        sent_at = float("-inf")
        key_checked_at = time.monotonic()  # connection_init has just checked it
        while True:
            seen, counters = await feed.next(seen)
            wait = sent_at + MIN_INTERVAL_SECONDS - time.monotonic()
            if wait > 0:
                # Joined between two reads of the feed: still a second between two messages,
                # and then the newest version (asking for one after seen - 1 does not wait).
                await asyncio.sleep(wait)
                seen, counters = await feed.next(seen - 1)
            if counters is None:
                raise _not_found(campaign_id)
            numbers = _stats(counters, human_only)
            if numbers != last:
                if time.monotonic() - key_checked_at >= KEY_CHECK_SECONDS:
                    async with database.read() as connection:
                        if not await key_is_active(connection, context.principal.key_id):
                            # Ending the stream completes the subscription for the client.
                            return
                    key_checked_at = time.monotonic()
                last = numbers
                sent_at = time.monotonic()
                yield numbers
    finally:
        if telemetry is not None:
            telemetry.live_subscriptions.dec()
        _leave(database, organization_id, campaign_pk, feed)
