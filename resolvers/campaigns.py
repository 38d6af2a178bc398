"""Campaign lookups (by global id or external id), fields: statistics, variants, links, and the
campaign list."""

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ids import parse_pk
from app.metrics import funnel, metrics, rate
from app.models import Campaign as CampaignModel
from app.models import CampaignStats
from resolvers import loaders, rows
from resolvers.arguments import BadArgument, argument_pk, aware
from resolvers.contacts import contact_by_pk, user_by_pk
from resolvers.context import Context, Info
from resolvers.pagination import encode_cursor, keyset_page, page_size
from resolvers.search import search_argument
from resolvers.selection import selects_any
from schema import campaign as campaign_types
from schema import organization as organization_types
from schema.connection import Connection, Edge, PageInfo
from schema.stats import Funnel, Stats

__all__ = ["user_by_pk", "contact_by_pk"]


async def campaign_by_pk(info: Info, pk: int) -> "campaign_types.Campaign":
    row = await info.context.loader(loaders.campaign_by_id).load(pk)
    return rows.campaign(row)


async def find_campaign_by_pk(info: Info, pk: int | None) -> "campaign_types.Campaign | None":
    if pk is None:
        return None
    row = await info.context.loader(loaders.campaign_by_id).load(pk)
    return rows.campaign(row) if row else None


# --- A campaign named by its global id or its external id ----------------------------------
# Every argument that names a campaign (campaignId of mutations, filters and subscriptions, the
# {id} of downloads) takes either; another organization's campaign is as unknown as a missing one.


def _by_reference(organization_id: int, references: Sequence[str]) -> Select[Any]:
    """The organization's campaigns whose global id or external id is one of `references`."""
    pks = [pk for pk in (parse_pk(reference, "Campaign") for reference in references) if pk]
    table = CampaignModel.__table__
    return select(table).where(
        table.c.organization_id == organization_id,
        or_(table.c.id.in_(pks), table.c.external_id.in_(list(references))),
    )


def _pick(found: Sequence[Any], reference: str) -> Any:
    """The campaign `reference` names among `found`: by global id first, else by external id."""
    pk = parse_pk(reference, "Campaign")
    by_id = next((row for row in found if row.id == pk), None)
    return by_id or next((row for row in found if row.external_id == reference), None)


async def campaign_row_by_reference(
    connection: AsyncConnection, organization_id: int, reference: str
) -> Any:
    """The organization's campaign row named by `reference` (global id or external id), or None;
    for callers outside a GraphQL operation (downloads, live statistics)."""
    found = (await connection.execute(_by_reference(organization_id, [reference]))).all()
    return _pick(found, reference)


def _campaigns_by_reference(context: Context) -> DataLoader:
    async def batch(references: list[str]) -> list[Any]:
        found = await context.fetch(_by_reference(context.organization_id, references))
        return [_pick(found, reference) for reference in references]

    return DataLoader(batch)


async def campaign_by_reference(info: Info, reference: str) -> "campaign_types.Campaign | None":
    """The organization's campaign named by `reference` (global id or external id), or None."""
    row = await info.context.loader(_campaigns_by_reference).load(reference)
    return rows.campaign(row) if row else None


async def campaign(
    info: Info, id: str | None, external_id: str | None
) -> "campaign_types.Campaign | None":
    """`campaign(id:)` or `campaign(externalId:)`: exactly one of them, as `contact()` takes;
    None when the organization has no such campaign."""
    given = [name for name, value in (("id", id), ("externalId", external_id)) if value is not None]
    if len(given) != 1:
        raise BadArgument("give exactly one of id and externalId")
    if id is not None:
        return await find_campaign_by_pk(info, argument_pk(id, "Campaign", "id"))
    found = await info.context.fetch(
        select(CampaignModel.__table__).where(
            CampaignModel.organization_id == info.context.organization_id,
            CampaignModel.external_id == external_id,
        )
    )
    return rows.campaign(found[0]) if found else None


async def project_by_pk(info: Info, pk: int | None) -> "organization_types.Project | None":
    if pk is None:
        return None
    row = await info.context.loader(loaders.project_by_id).load(pk)
    return rows.project(row) if row else None


def stats_from(counters: dict[str, Any], cost_cents: int | None, human_only: bool) -> Stats:
    return Stats(**metrics(counters, cost_cents, human_only))


async def _campaign_counters(info: Info, campaign_pk: int) -> dict[str, Any]:
    return await info.context.loader(loaders.campaign_counters).load(campaign_pk)


# Fields of objects that came with their counters (a page of campaigns, a campaign's variants
# and links) are answered synchronously: graphql-core completes a plain value far faster than an
# awaitable, which matters on lists of hundreds of objects. The others wait for a dataloader.


def campaign_stats(
    info: Info, campaign: "campaign_types.Campaign", human_only: bool
) -> Stats | Awaitable[Stats]:
    if campaign.counters is not None:
        return stats_from(campaign.counters, campaign.cost_cents, human_only)
    return _loaded_campaign_stats(info, campaign, human_only)


async def _loaded_campaign_stats(
    info: Info, campaign: "campaign_types.Campaign", human_only: bool
) -> Stats:
    return stats_from(await _campaign_counters(info, campaign.pk), campaign.cost_cents, human_only)


def campaign_funnel(info: Info, campaign: "campaign_types.Campaign") -> Funnel | Awaitable[Funnel]:
    if campaign.counters is not None:
        return Funnel(**funnel(campaign.counters))
    return _loaded_campaign_funnel(info, campaign)


async def _loaded_campaign_funnel(info: Info, campaign: "campaign_types.Campaign") -> Funnel:
    return Funnel(**funnel(await _campaign_counters(info, campaign.pk)))


def variant_stats(
    info: Info, variant: "campaign_types.Variant", human_only: bool
) -> Stats | Awaitable[Stats]:
    # Cost belongs to the campaign as a whole: a variant has no cost of its own.
    if variant.counters is not None:
        return stats_from(variant.counters, None, human_only)
    return _loaded_variant_stats(info, variant, human_only)


async def _loaded_variant_stats(
    info: Info, variant: "campaign_types.Variant", human_only: bool
) -> Stats:
    counters = await info.context.loader(loaders.variant_counters).load(variant.pk)
    return stats_from(counters, None, human_only)


def variants_of(
    info: Info, campaign: "campaign_types.Campaign"
) -> list["campaign_types.Variant"] | Awaitable[list["campaign_types.Variant"]]:
    """A campaign's variants: read with its page of the campaign list, or by a dataloader."""
    if campaign.known_variants is not None:
        return campaign.known_variants
    return campaign_variants(info, campaign.pk)


def links_of(
    info: Info, campaign: "campaign_types.Campaign"
) -> list["campaign_types.Link"] | Awaitable[list["campaign_types.Link"]]:
    """A campaign's links: read with its page of the campaign list, or by a dataloader."""
    if campaign.known_links is not None:
        return campaign.known_links
    return campaign_links(info, campaign.pk)


async def campaign_variants(info: Info, campaign_pk: int) -> list["campaign_types.Variant"]:
    found = await info.context.loader(loaders.variants_by_campaign).load(campaign_pk)
    return [rows.variant(row, counters) for row, counters in found]


async def campaign_links(
    info: Info, campaign_pk: int, variant_pk: int | None = None
) -> list["campaign_types.Link"]:
    found = await info.context.loader(loaders.links_by_campaign).load(campaign_pk)
    # The counters read with the links are the whole campaign's; a variant's link counts its own.
    return [
        rows.link(row, variant_pk, counters if variant_pk is None else None)
        for row, counters in found
    ]


def link_count(info: Info, link: "campaign_types.Link", name: str) -> int | Awaitable[int]:
    """A link's clicks or clicked: read with the link, or by a dataloader."""
    if link.counters is not None:
        return int(link.counters[name])
    return _loaded_link_count(info, link, name)


async def _loaded_link_count(info: Info, link: "campaign_types.Link", name: str) -> int:
    return int((await link_counters(info, link))[name])


async def link_counters(info: Info, link: "campaign_types.Link") -> dict[str, int]:
    if link.variant_pk is None:
        return await info.context.loader(loaders.link_counters).load(link.pk)
    return await info.context.loader(loaders.link_variant_counters).load((link.pk, link.variant_pk))


async def _whole_counters(info: Info, link: "campaign_types.Link") -> dict[str, Any]:
    """The counters a link's rates divide by: its variant's, or its campaign's."""
    if link.variant_pk is None:
        return await _campaign_counters(info, link.campaign_pk)
    return await info.context.loader(loaders.variant_counters).load(link.variant_pk)


async def link_click_rate(info: Info, link: "campaign_types.Link") -> float | None:
    clicked = (await link_counters(info, link))["clicked"]
    return rate(clicked, int((await _whole_counters(info, link))["delivered"]))


async def link_share(info: Info, link: "campaign_types.Link") -> float | None:
    clicks = (await link_counters(info, link))["clicks"]
    return rate(clicks, int((await _whole_counters(info, link))["clicks"]))


async def link_top_clickers(
    info: Info, link: "campaign_types.Link", first: int
) -> list["campaign_types.LinkClicker"]:
    first = max(0, min(first, 100))
    found = await info.context.loader(loaders.top_clickers).load((link.pk, first))
    contacts = [await contact_by_pk(info, row.contact_id) for row in found]
    return [
        campaign_types.LinkClicker(contact=contact, clicks=row.clicks)  # type: ignore[arg-type]
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


async def read_ahead(info: Info, campaigns: list["campaign_types.Campaign"]) -> None:
    """Read what the query asks of a page of campaigns (statistics, variants, links) in one
    statement each, so that every campaign answers those fields synchronously: a list whose
    items wait on dataloaders costs graphql-core several times more than plain values."""
    if not campaigns:
        return
    pks = [campaign.pk for campaign in campaigns]
    context = info.context
    reads: dict[str, Awaitable[list[Any]]] = {}
    if selects_any(info, ("stats", "funnel")):
        reads["counters"] = context.loader(loaders.campaign_counters).load_many(pks)
    if selects_any(info, ("variants",)):
        reads["variants"] = asyncio.gather(*(campaign_variants(info, pk) for pk in pks))
    if selects_any(info, ("links",)):
        reads["links"] = asyncio.gather(*(campaign_links(info, pk) for pk in pks))
    found = dict(zip(reads, await asyncio.gather(*reads.values()), strict=True))
    for number, campaign in enumerate(campaigns):
        if "counters" in found:
            campaign.counters = found["counters"][number]
        if "variants" in found:
            campaign.known_variants = found["variants"][number]
        if "links" in found:
            campaign.known_links = found["links"][number]


async def campaigns_connection(
    info: Info, first: int | None, after: str | None, filter: Any, order_by: Any
) -> Connection["campaign_types.Campaign"]:
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
    found = await info.context.fetch(
        keyset_page(statement, [sort_value, table.c.id], descending, size, after)
    )
    page = found[:size]
    edges = [
        Edge(cursor=encode_cursor([row.sort_value, row.id]), node=rows.campaign(row))
        for row in page
    ]
    await read_ahead(info, [edge.node for edge in edges])

    async def count_total() -> int:
        result = await info.context.fetch(
            select(func.count()).select_from(table).where(and_(*conditions))
        )
        return int(result[0][0])

    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(found) > size,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count_total=count_total,
    )
