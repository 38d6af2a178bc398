"""Per-request dataloaders: each batches one kind of read into one SQL statement.

Every loader of an organization's own rows filters on the caller's organization, so another
organization's id loads as None, exactly like an id that does not exist.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from functools import cache
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import ColumnElement, Select, bindparam, func, select, tuple_

from app.database import in_chunks
from app.models import (
    STATS_COUNTERS,
    TIMELINE_COUNTERS,
    Campaign,
    CampaignStats,
    Contact,
    EngagementStats,
    Link,
    LinkClickerStats,
    LinkStats,
    Project,
    Recipient,
    Response,
    TimelineBucket,
    User,
    Variant,
)
from resolvers.context import Context
from resolvers.rows import positional

Row = Any


async def _fetch_in(
    context: Context, build: Callable[[list[Any]], Select[Any]], keys: Sequence[Any]
) -> list[Row]:
    rows: list[Row] = []
    for chunk in in_chunks(sorted(set(keys))):
        rows += positional(await context.fetch(build(chunk)))
    return rows


# Statements built once, with the keys as an expanding parameter: building a select() per batch
# and hashing its cache key cost about as much as running it (half of a statement's time).
KEYS: Any = bindparam("keys", expanding=True)
ORGANIZATION: Any = bindparam("organization_id")


async def _fetch_keys(
    context: Context, statement: Select[Any], keys: Sequence[Any], **parameters: Any
) -> list[Row]:
    """Run a prebuilt statement whose `IN :keys` takes the keys, in chunks."""
    rows: list[Row] = []
    for chunk in in_chunks(sorted(set(keys))):
        rows += positional(await context.fetch(statement, {"keys": chunk, **parameters}))
    return rows


def _by_id(model: Any, scope: ColumnElement[bool]) -> Callable[[Context], DataLoader]:
    """A loader of one table's rows by id, limited to what the caller's organization may see
    (`scope` compares with the :organization_id parameter)."""
    table = model.__table__
    statement = select(table).where(table.c.id.in_(KEYS), scope)

    def factory(context: Context) -> DataLoader:
        async def batch(keys: list[int]) -> list[Row | None]:
            rows = await _fetch_keys(
                context, statement, keys, organization_id=context.organization_id
            )
            found = {row.id: row for row in rows}
            return [found.get(key) for key in keys]

        return DataLoader(batch)

    return factory


campaign_by_id = _by_id(Campaign, Campaign.organization_id == ORGANIZATION)
user_by_id = _by_id(User, User.organization_id == ORGANIZATION)
project_by_id = _by_id(Project, Project.organization_id == ORGANIZATION)
contact_by_id = _by_id(Contact, Contact.organization_id == ORGANIZATION)
# Rows reached through their campaign: the caller's organization's campaigns.
OWN_CAMPAIGNS = select(Campaign.id).where(Campaign.organization_id == ORGANIZATION)
variant_by_id = _by_id(Variant, Variant.campaign_id.in_(OWN_CAMPAIGNS))
link_by_id = _by_id(Link, Link.campaign_id.in_(OWN_CAMPAIGNS))


Counters = dict[str, Any]


def _sum_columns(table: Any, counters: Sequence[str], with_updated: bool) -> list[Any]:
    columns = [func.coalesce(func.sum(table.c[name]), 0).label(name) for name in counters]
    if with_updated:
        columns.append(func.max(table.c.updated_at).label("updated_at"))
    return columns


def _children(
    model: Any,
    order: Callable[[], Sequence[Any]],
    counters_table: Any,
    joined: ColumnElement[bool],
    counters: Sequence[str],
    with_updated: bool,
    primes: Callable[[Context], DataLoader],
) -> Callable[[Context], DataLoader]:
    """A loader of a campaign's children (variants, links) as (row, counters), reached through a
    scoped campaign, each with its counters summed in the same statement.

    The counters prime the request's `primes` loader (the child's own counters), so a dashboard
    asking for the children's stats spends no statement on them. `joined` matches a child with
    its aggregate rows.
    """
    table = model.__table__
    statement = (
        select(table, *_sum_columns(counters_table, counters, with_updated))
        .select_from(table.outerjoin(counters_table, joined))
        .where(table.c.campaign_id.in_(KEYS))
        .group_by(table.c.id)  # the primary key: every other column follows from it
        .order_by(*order())
    )
    names = [*counters, "updated_at"] if with_updated else list(counters)
    first = len(table.columns)  # the counters follow the child's own columns

    def factory(context: Context) -> DataLoader:
        async def batch(campaign_ids: list[int]) -> list[list[tuple[Row, Counters]]]:
            rows = await _fetch_keys(context, statement, campaign_ids)
            grouped: dict[int, list[tuple[Row, Counters]]] = defaultdict(list)
            for row in rows:
                counters = dict(zip(names, row[first:], strict=True))
                grouped[row.campaign_id].append((row, counters))
                context.prime(primes, row.id, counters)
            return [grouped.get(key, []) for key in campaign_ids]

        return DataLoader(batch)

    return factory


def _summed(
    group_column: Any, table: Any, counters: Sequence[str], with_updated: bool
) -> Callable[[Context], DataLoader]:
    """A loader of counters summed over the aggregate rows of each key."""
    # Built once: making ~30 SUM columns per batch cost about a fifth of a dashboard request.
    names = [*counters, "updated_at"] if with_updated else list(counters)
    summed = (
        select(group_column.label("key"), *_sum_columns(table, counters, with_updated))
        .where(group_column.in_(KEYS))
        .group_by(group_column)
    )

    def factory(context: Context) -> DataLoader:
        async def batch(keys: list[Hashable]) -> list[Counters]:
            rows = await _fetch_keys(context, summed, keys)
            found = {row[0]: dict(zip(names, row[1:], strict=True)) for row in rows}
            empty: Counters = dict.fromkeys(counters, 0)
            return [found.get(key, empty) for key in keys]

        return DataLoader(batch)

    return factory


stats_table = CampaignStats.__table__
campaign_counters = _summed(stats_table.c.campaign_id, stats_table, STATS_COUNTERS, True)
variant_counters = _summed(stats_table.c.variant_id, stats_table, STATS_COUNTERS, True)
link_table = LinkStats.__table__
link_counters = _summed(
    LinkStats.__table__.c.link_id, LinkStats.__table__, ("clicks", "clicked"), False
)
variants_by_campaign = _children(
    Variant,
    lambda: (Variant.is_control.desc(), Variant.name, Variant.id),
    stats_table,
    # The aggregate's key starts with the campaign: without it the join scans the table.
    (stats_table.c.campaign_id == Variant.campaign_id) & (stats_table.c.variant_id == Variant.id),
    STATS_COUNTERS,
    True,
    primes=variant_counters,
)
links_by_campaign = _children(
    Link,
    lambda: (Link.position.is_(None), Link.position, Link.id),
    link_table,
    link_table.c.link_id == Link.id,
    ("clicks", "clicked"),
    False,
    primes=link_counters,
)


def top_clickers(context: Context) -> DataLoader:
    """The contacts who clicked a link most, by (link id, how many)."""

    async def batch(keys: list[tuple[int, int]]) -> list[list[Row]]:
        most = max(first for _, first in keys)
        table = LinkClickerStats.__table__
        ranked = select(
            table.c.link_id,
            table.c.contact_id,
            table.c.clicks,
            func.row_number()
            .over(
                partition_by=table.c.link_id, order_by=(table.c.clicks.desc(), table.c.contact_id)
            )
            .label("rank"),
        ).where(table.c.clicks > 0)

        def build(chunk: list[int]) -> Select[Any]:
            ranked_links = ranked.where(table.c.link_id.in_(chunk)).subquery()
            return select(ranked_links).where(ranked_links.c.rank <= most)

        rows = await _fetch_in(context, build, [link_id for link_id, _ in keys])
        grouped: dict[int, list[Row]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: (r.link_id, r.rank)):
            grouped[row.link_id].append(row)
        return [grouped.get(link_id, [])[:first] for link_id, first in keys]

    return DataLoader(batch)


def link_variant_counters(context: Context) -> DataLoader:
    """A link's clicks within one variant, by (link id, variant id)."""

    async def batch(keys: list[tuple[int, int]]) -> list[Counters]:
        rows = await _fetch_in(
            context,
            lambda chunk: select(link_table).where(
                tuple_(link_table.c.link_id, link_table.c.variant_id).in_(chunk)
            ),
            keys,
        )
        found = {
            (row.link_id, row.variant_id): {"clicks": row.clicks, "clicked": row.clicked}
            for row in rows
        }
        return [found.get(key, {"clicks": 0, "clicked": 0}) for key in keys]

    return DataLoader(batch)


recipient_by_id = _by_id(Recipient, Recipient.campaign_id.in_(OWN_CAMPAIGNS))
response_by_id = _by_id(
    Response, (Response.organization_id == ORGANIZATION) & Response.deleted_at.is_(None)
)


# --- Read-side metrics: timeline, engagement, owner sections -----------------------------


@cache
def _timeline_statement(variant: bool, start: bool, end: bool) -> Select[Any]:
    """The timeline's statement for the bounds it has, built once (a dashboard's share of
    building and hashing it was about that of running it)."""
    table = TimelineBucket.__table__
    sums = [func.sum(table.c[name]).label(name) for name in TIMELINE_COUNTERS]
    conditions: list[ColumnElement[bool]] = [table.c.campaign_id.in_(KEYS)]
    if variant:
        conditions.append(table.c.variant_id == bindparam("variant_id"))
    if start:
        conditions.append(table.c.bucket_start >= bindparam("start"))
    if end:
        conditions.append(table.c.bucket_start < bindparam("end"))
    return (
        select(table.c.campaign_id, table.c.bucket_start, *sums)
        .where(*conditions)
        .group_by(table.c.campaign_id, table.c.bucket_start)
    )


def timeline_rows(context: Context) -> DataLoader:
    """A campaign's 15-minute UTC buckets that hold events, oldest first, summed over variants
    (or of one variant), by (campaign id, variant id or None, start or None, end or None); the
    bounds are UTC, the end exclusive. Keys that share their bounds share one statement."""

    async def batch(keys: list[tuple[int, int | None, Any, Any]]) -> list[list[Row]]:
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for campaign_id, *bounds in keys:
            groups[tuple(bounds)].append(campaign_id)
        found: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
        for (variant_id, start, end), campaign_ids in groups.items():
            statement = _timeline_statement(
                variant_id is not None, start is not None, end is not None
            )
            given = {"variant_id": variant_id, "start": start, "end": end}
            parameters = {name: value for name, value in given.items() if value is not None}
            for row in await _fetch_keys(context, statement, campaign_ids, **parameters):
                # By position: (campaign_id, bucket_start, *the counters' sums).
                counters = {
                    name: int(value or 0)
                    for name, value in zip(TIMELINE_COUNTERS, row[2:], strict=True)
                }
                if any(counters.values()):  # a bucket emptied by a deletion holds no event
                    key = (row[0], variant_id, start, end)
                    found[key].append((row[1], counters))
        for rows in found.values():
            rows.sort(key=lambda row: row[0])
        return [found.get(key, []) for key in keys]

    return DataLoader(batch)


def engagement_rows(context: Context) -> DataLoader:
    """A campaign's top values of one dimension by unique openers, then value, by
    (campaign id, dimension, how many)."""

    async def batch(keys: list[tuple[int, str, int]]) -> list[list[Row]]:
        table = EngagementStats.__table__
        groups: dict[str, list[int]] = defaultdict(list)
        for campaign_id, dimension, _ in keys:
            groups[dimension].append(campaign_id)
        most = max(first for _, _, first in keys)
        found: dict[tuple[int, str], list[Row]] = defaultdict(list)
        for dimension, campaign_ids in groups.items():

            def build(chunk: list[int], dimension: str = dimension) -> Any:
                ranked = (
                    select(
                        table,
                        func.row_number()
                        .over(
                            partition_by=table.c.campaign_id,
                            order_by=(table.c.opened.desc(), table.c.value),
                        )
                        .label("rank"),
                    )
                    .where(
                        table.c.campaign_id.in_(chunk),
                        table.c.dimension == dimension,
                        table.c.opens + table.c.clicks > 0,
                    )
                    .subquery()
                )
                return select(ranked).where(ranked.c.rank <= most)

            for row in await _fetch_in(context, build, campaign_ids):
                found[(row.campaign_id, dimension)].append(row)
        result = []
        for campaign_id, dimension, first in keys:
            rows = sorted(found.get((campaign_id, dimension), []), key=lambda r: r.rank)
            result.append(rows[:first])
        return result

    return DataLoader(batch)


def owner_counters(context: Context) -> DataLoader:
    """A campaign's statistics counters per record owner (owner id 0: no owner), by campaign."""

    async def batch(campaign_ids: list[int]) -> list[list[Counters]]:
        columns = [
            func.coalesce(func.sum(stats_table.c[name]), 0).label(name) for name in STATS_COUNTERS
        ]
        rows = await _fetch_in(
            context,
            lambda chunk: (
                select(
                    stats_table.c.campaign_id,
                    stats_table.c.owner_id,
                    *columns,
                    func.max(stats_table.c.updated_at).label("updated_at"),
                )
                .where(stats_table.c.campaign_id.in_(chunk))
                .group_by(stats_table.c.campaign_id, stats_table.c.owner_id)
            ),
            campaign_ids,
        )
        grouped: dict[int, list[Counters]] = defaultdict(list)
        for row in rows:
            grouped[row.campaign_id].append(row._asdict())
        return [grouped.get(key, []) for key in campaign_ids]

    return DataLoader(batch)
