"""Campaign lookups (by global id or external id), fields: statistics, variants, links, and the
campaign list. Answers are rows, counters and records; the schema layer builds the objects."""

import asyncio
from collections.abc import Awaitable
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select

from app.campaign_references import by_reference, pick
from app.ids import parse_pk
from app.metrics import Metrics, funnel, metrics, rate
from app.models import Campaign as CampaignModel
from app.models import CampaignStats
from resolvers import loaders
from resolvers.arguments import BadArgument, argument_pk, aware
from resolvers.contacts import contact_row
from resolvers.context import Context, Info
from resolvers.pagination import Page, keyset_page, page_of, page_size
from resolvers.records import CampaignRecord, Counters, Row
from resolvers.rows import positional
from resolvers.search import search_argument
from resolvers.selection import selects_any


async def campaign_row(info: Info, pk: int) -> Row:
    """The campaign's row (a campaign any other row points to exists)."""
    return await info.context.loader(loaders.campaign_by_id).load(pk)


async def find_campaign_row(info: Info, pk: int | None) -> Row | None:
    if pk is None:
        return None
    return await info.context.loader(loaders.campaign_by_id).load(pk)


async def variant_row(info: Info, pk: int | None) -> Row | None:
    if pk is None:
        return None
    return await info.context.loader(loaders.variant_by_id).load(pk)


async def link_row(info: Info, pk: int | None) -> Row | None:
    if pk is None:
        return None
    return await info.context.loader(loaders.link_by_id).load(pk)


# --- A campaign named by its global id or its external id ----------------------------------
# Every argument that names a campaign (campaignId of mutations, filters and subscriptions, the
# {id} of downloads) takes either; another organization's campaign is as unknown as a missing one.


def _campaigns_by_reference(context: Context) -> DataLoader:
    async def batch(references: list[str]) -> list[Any]:
        found = await context.fetch(by_reference(context.organization_id, references))
        return [pick(found, reference) for reference in references]

    return DataLoader(batch)


async def campaign_by_reference(info: Info, reference: str) -> Row | None:
    """The organization's campaign row named by `reference` (global id or external id), or None."""
    return await info.context.loader(_campaigns_by_reference).load(reference)


async def campaign(info: Info, id: str | None, external_id: str | None) -> Row | None:
    """`campaign(id:)` or `campaign(externalId:)`: exactly one of them, as `contact()` takes;
    None when the organization has no such campaign."""
    given = [name for name, value in (("id", id), ("externalId", external_id)) if value is not None]
    if len(given) != 1:
        raise BadArgument("give exactly one of id and externalId")
    if id is not None:
        return await find_campaign_row(info, argument_pk(id, "Campaign", "id"))
    found = await info.context.fetch(
        select(CampaignModel.__table__).where(
            CampaignModel.organization_id == info.context.organization_id,
            CampaignModel.external_id == external_id,
        )
    )
    return found[0] if found else None


async def project_row(info: Info, pk: int | None) -> Row | None:
    if pk is None:
        return None
    return await info.context.loader(loaders.project_by_id).load(pk)


def stats_from(counters: Counters, cost_cents: int | None, human_only: bool) -> dict[str, Any]:
    """The Stats fields of these counters."""
    return metrics(counters, cost_cents, human_only)


async def _campaign_counters(info: Info, campaign_pk: int) -> Counters:
    return await info.context.loader(loaders.campaign_counters).load(campaign_pk)


# Fields of objects that came with their counters (a page of campaigns, a campaign's variants
# and links) are answered synchronously: graphql-core completes a plain value far faster than an
# awaitable, which matters on lists of hundreds of objects. The others wait for a dataloader.


def campaign_stats(
    info: Info, pk: int, counters: Counters | None, cost_cents: int | None, human_only: bool
) -> Metrics | Awaitable[Metrics]:
    """The campaign's Stats fields (each computed when read): now from the counters read with it,
    else from a loader."""
    if counters is not None:
        return Metrics(counters, cost_cents, human_only)
    return _loaded_campaign_stats(info, pk, cost_cents, human_only)


async def _loaded_campaign_stats(
    info: Info, pk: int, cost_cents: int | None, human_only: bool
) -> Metrics:
    return Metrics(await _campaign_counters(info, pk), cost_cents, human_only)


def campaign_funnel(
    info: Info, pk: int, counters: Counters | None
) -> dict[str, int] | Awaitable[dict[str, int]]:
    if counters is not None:
        return funnel(counters)
    return _loaded_campaign_funnel(info, pk)


async def _loaded_campaign_funnel(info: Info, pk: int) -> dict[str, int]:
    return funnel(await _campaign_counters(info, pk))


def variant_stats(
    info: Info, pk: int, counters: Counters | None, human_only: bool
) -> Metrics | Awaitable[Metrics]:
    # Cost belongs to the campaign as a whole: a variant has no cost of its own.
    if counters is not None:
        return Metrics(counters, None, human_only)
    return _loaded_variant_stats(info, pk, human_only)


async def _loaded_variant_stats(info: Info, pk: int, human_only: bool) -> Metrics:
    counters = await info.context.loader(loaders.variant_counters).load(pk)
    return Metrics(counters, None, human_only)


async def campaign_variants(info: Info, campaign_pk: int) -> list[tuple[Row, Counters]]:
    """The campaign's variant rows, each with its statistics counters."""
    return list(await info.context.loader(loaders.variants_by_campaign).load(campaign_pk))


async def campaign_links(info: Info, campaign_pk: int) -> list[tuple[Row, Counters]]:
    """The campaign's link rows, each with its clicks and clicked over the whole campaign."""
    return list(await info.context.loader(loaders.links_by_campaign).load(campaign_pk))


def link_count(
    info: Info, pk: int, variant_pk: int | None, counters: Counters | None, name: str
) -> int | Awaitable[int]:
    """A link's clicks or clicked: read with the link, or by a dataloader."""
    if counters is not None:
        return int(counters[name])
    return _loaded_link_count(info, pk, variant_pk, name)


async def _loaded_link_count(info: Info, pk: int, variant_pk: int | None, name: str) -> int:
    return int((await link_counters(info, pk, variant_pk))[name])


async def link_counters(info: Info, pk: int, variant_pk: int | None) -> dict[str, int]:
    """A link's counters: over its campaign, or over one variant (reached through it)."""
    if variant_pk is None:
        return await info.context.loader(loaders.link_counters).load(pk)
    return await info.context.loader(loaders.link_variant_counters).load((pk, variant_pk))


async def _whole_counters(info: Info, campaign_pk: int, variant_pk: int | None) -> Counters:
    """The counters a link's rates divide by: its variant's, or its campaign's."""
    if variant_pk is None:
        return await _campaign_counters(info, campaign_pk)
    return await info.context.loader(loaders.variant_counters).load(variant_pk)


async def link_click_rate(
    info: Info, pk: int, campaign_pk: int, variant_pk: int | None
) -> float | None:
    clicked = (await link_counters(info, pk, variant_pk))["clicked"]
    return rate(clicked, int((await _whole_counters(info, campaign_pk, variant_pk))["delivered"]))


async def link_share(info: Info, pk: int, campaign_pk: int, variant_pk: int | None) -> float | None:
    clicks = (await link_counters(info, pk, variant_pk))["clicks"]
    return rate(clicks, int((await _whole_counters(info, campaign_pk, variant_pk))["clicks"]))


async def link_top_clickers(info: Info, pk: int, first: int) -> list[tuple[Row, int]]:
    """The link's `first` (at most 100) contacts with the most clicks: (contact row, clicks)."""
    first = max(0, min(first, 100))
    found = await info.context.loader(loaders.top_clickers).load((pk, first))
    contacts = [await contact_row(info, row.contact_id) for row in found]
    return [
        (contact, int(row.clicks))
        for row, contact in zip(found, contacts, strict=True)
        if contact is not None
    ]


# --- The campaign list ---------------------------------------------------------------------


def _rate_column(numerator: str, denominator: str) -> Any:
    """A campaign's rate as a sortable column; campaigns with nothing sent sort as -1."""
    totals = (
        select(
            CampaignStats.campaign_id,
            func.sum(getattr(CampaignStats, numerator)).label("numerator"),
            func.sum(getattr(CampaignStats, denominator)).label("denominator"),
        )
        .group_by(CampaignStats.campaign_id)
        .subquery()
    )
    value = func.coalesce(
        totals.c.numerator * 1.0 / func.nullif(totals.c.denominator, 0), literal(-1.0)
    )
    return totals, value


def campaign_filter(info: Info, filter: Any) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        CampaignModel.organization_id == info.context.organization_id
    ]
    if filter is None:
        return conditions
    if filter.status:
        conditions.append(CampaignModel.status.in_([status.value for status in filter.status]))
    if filter.project_id is not None:
        conditions.append(
            CampaignModel.project_id == (parse_pk(filter.project_id, "Project") or -1)
        )
    if filter.sender_id is not None:
        conditions.append(CampaignModel.sender_id == (parse_pk(filter.sender_id, "User") or -1))
    search = search_argument(filter.search, "filter.search")
    if search:
        # autoescape: a % or _ typed in the search box is a character, not a wildcard.
        conditions.append(
            or_(
                func.lower(CampaignModel.name).contains(search, autoescape=True),
                func.lower(func.coalesce(CampaignModel.subject, "")).contains(
                    search, autoescape=True
                ),
                func.lower(CampaignModel.external_id).contains(search, autoescape=True),
            )
        )
    sent_after = aware(filter.sent_after, "sentAfter")
    sent_before = aware(filter.sent_before, "sentBefore")
    if sent_after is not None:
        conditions.append(CampaignModel.sent_at >= sent_after)
    if sent_before is not None:
        conditions.append(CampaignModel.sent_at < sent_before)
    return conditions


async def read_ahead(info: Info, records: list[CampaignRecord]) -> None:
    """Read what the query asks of a page of campaigns (statistics, variants, links) in one
    statement each, so that every campaign answers those fields synchronously: a list whose
    items wait on dataloaders costs graphql-core several times more than plain values."""
    if not records:
        return
    pks = [record.row.id for record in records]
    context = info.context
    reads: dict[str, Awaitable[list[Any]]] = {}
    if selects_any(info, ("stats", "funnel")):
        reads["counters"] = context.loader(loaders.campaign_counters).load_many(pks)
    # load_many waits on the loaders' futures: no task per campaign.
    if selects_any(info, ("variants",)):
        reads["variants"] = context.loader(loaders.variants_by_campaign).load_many(pks)
    if selects_any(info, ("links",)):
        reads["links"] = context.loader(loaders.links_by_campaign).load_many(pks)
    found = dict(zip(reads, await asyncio.gather(*reads.values()), strict=True))
    for number, record in enumerate(records):
        if "counters" in found:
            record.counters = found["counters"][number]
        if "variants" in found:
            record.variants = list(found["variants"][number])
        if "links" in found:
            record.links = list(found["links"][number])


async def campaigns_connection(
    info: Info, first: int | None, after: str | None, filter: Any, order_by: Any
) -> Page[CampaignRecord]:
    size = page_size(first)
    conditions = campaign_filter(info, filter)
    field = order_by.field.value if order_by else "CREATED_AT"
    descending = order_by.direction.value == "DESC" if order_by else True
    table = CampaignModel.__table__
    statement: Select[Any] = select(table)
    if field in ("OPEN_RATE", "CLICK_RATE"):
        totals, sort_value = _rate_column("opened" if field == "OPEN_RATE" else "clicked", "sent")
        statement = select(table, sort_value.label("sort_value")).outerjoin(
            totals, totals.c.campaign_id == table.c.id
        )
    else:
        sort_value = {
            "CREATED_AT": table.c.created_at,
            "SENT_AT": func.coalesce(table.c.sent_at, table.c.created_at),
            "NAME": table.c.name,
        }[field]
        statement = select(table, sort_value.label("sort_value"))
    statement = statement.where(and_(*conditions))
    found = positional(
        await info.context.fetch(
            keyset_page(statement, [sort_value, table.c.id], descending, size, after)
        )
    )

    async def count_total() -> int:
        result = await info.context.fetch(
            select(func.count()).select_from(table).where(and_(*conditions))
        )
        return int(result[0][0])

    page = page_of(found, size, after, lambda row: [row.sort_value, row.id], count_total)
    records = [CampaignRecord(row) for row in page.items]
    await read_ahead(info, records)
    return Page(
        items=records,
        cursors=page.cursors,
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        count_total=count_total,
    )
