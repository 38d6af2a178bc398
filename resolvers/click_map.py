"""A variant's click map: its links' counts read from the aggregates, drawn on its HTML.

All clicks come from the link statistics (link_stats, as `Variant.links`). Human-only counts have
no aggregate per link (link_stats and link_clicker_stats count bots' clicks too), so they are
counted from the variant's recipients' non-deleted CLICKED responses not made by a bot, in one
grouped statement over the campaign's responses (its `campaign_id` index): the definitions of
`stats(humanOnly: true)` (docs/metrics.md). The only variant of a campaign also counts the
recipients without a variant (events that named none), as their preview shows that variant. A link's share is its clicks in this variant over the
whole campaign's clicks (every variant; human-only when the counts are), so the shares of all
variants' click maps of one campaign add up to the links' share of the campaign.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Executable, distinct, func, or_, select

from app.enums import ResponseType
from app.ids import global_id
from app.message_views.click_map import LinkCount, click_map
from app.metrics import rate
from app.models import CampaignStats, Link, LinkStats, Recipient, Response, Variant

# A read on some connection: the GraphQL request's (`Context.fetch`) or a page's own.
Fetch = Callable[[Executable], Awaitable[Sequence[Any]]]


async def campaign_variant(fetch: Fetch, campaign_pk: int, variant_pk: int) -> Any:
    """The variant row (id, html) when it belongs to the campaign, else None."""
    rows = await fetch(
        select(Variant.id, Variant.campaign_id, Variant.name, Variant.html).where(
            Variant.id == variant_pk, Variant.campaign_id == campaign_pk
        )
    )
    return rows[0] if rows else None


async def variant_click_map(
    fetch: Fetch, campaign_pk: int, variant_pk: int, html: str | None, human_only: bool
) -> str | None:
    """The variant's HTML marked with its links' counts (None when it has no HTML)."""
    if not html:
        return None
    return click_map(html, await link_counts(fetch, campaign_pk, variant_pk, human_only))


async def link_counts(
    fetch: Fetch, campaign_pk: int, variant_pk: int, human_only: bool
) -> list[LinkCount]:
    """Each link of the campaign with its clicks and clickers in the variant, and their share of
    the campaign's clicks."""
    links = await fetch(
        select(Link.id, Link.url, Link.position)
        .where(Link.campaign_id == campaign_pk)
        .order_by(Link.position.is_(None), Link.position, Link.id)
    )
    variants = select(func.count()).where(Variant.campaign_id == campaign_pk).scalar_subquery()
    totals = (
        await fetch(
            select(
                func.coalesce(func.sum(CampaignStats.clicks), 0).label("clicks"),
                func.coalesce(func.sum(CampaignStats.bot_clicks), 0).label("bot_clicks"),
                variants.label("variants"),
            ).where(CampaignStats.campaign_id == campaign_pk)
        )
    )[0]
    # The campaign's recipients without a variant got its only variant, when it has one.
    variant_keys = [variant_pk, *([None] if int(totals.variants) == 1 else [])]
    counts = await (_human_counts if human_only else _all_counts)(fetch, campaign_pk, variant_keys)
    campaign_clicks = int(totals.clicks) - (int(totals.bot_clicks) if human_only else 0)
    result = []
    for link in links:
        clicks, clicked = counts.get(link.id, (0, 0))
        result.append(
            LinkCount(
                url=link.url,
                position=link.position,
                clicks=clicks,
                clicked=clicked,
                share=rate(clicks, campaign_clicks),
                link_id=global_id("Link", link.id),
            )
        )
    return result


async def _all_counts(
    fetch: Fetch, campaign_pk: int, variant_keys: Sequence[int | None]
) -> dict[int, tuple[int, int]]:
    # A recipient counts under one variant key only, so the keys' unique clickers add up.
    keys = [0 if key is None else key for key in variant_keys]  # link_stats' 0: no variant
    rows = await fetch(
        select(
            LinkStats.link_id,
            func.sum(LinkStats.clicks).label("clicks"),
            func.sum(LinkStats.clicked).label("clicked"),
        )
        .join(Link, Link.id == LinkStats.link_id)
        .where(Link.campaign_id == campaign_pk, LinkStats.variant_id.in_(keys))
        .group_by(LinkStats.link_id)
    )
    return {row.link_id: (int(row.clicks), int(row.clicked)) for row in rows}


async def _human_counts(
    fetch: Fetch, campaign_pk: int, variant_keys: Sequence[int | None]
) -> dict[int, tuple[int, int]]:
    variant_pks = [key for key in variant_keys if key is not None]
    in_variant: ColumnElement[bool] = Recipient.variant_id.in_(variant_pks)
    if None in variant_keys:
        in_variant = or_(in_variant, Recipient.variant_id.is_(None))
    rows = await fetch(
        select(
            Response.link_id,
            func.count().label("clicks"),
            func.count(distinct(Response.recipient_id)).label("clicked"),
        )
        .join(Recipient, Recipient.id == Response.recipient_id)
        .where(
            Response.campaign_id == campaign_pk,
            Response.type == ResponseType.CLICKED.value,
            Response.link_id.is_not(None),
            Response.deleted_at.is_(None),
            Response.bot.is_(False),
            # Said twice on purpose: the planner may then start from the campaign's recipients
            # (ix_recipients_campaign_*) and their responses (ix_responses_recipient_occurred),
            # 5x faster on SQLite than walking every response of the campaign's index.
            Recipient.campaign_id == campaign_pk,
            in_variant,
        )
        .group_by(Response.link_id)
    )
    return {row.link_id: (int(row.clicks), int(row.clicked)) for row in rows}
