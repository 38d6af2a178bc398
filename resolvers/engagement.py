"""Campaign.engagement: opens and clicks per country, city, email client, device, browser, OS or
email domain, read from the pre-aggregated engagement rows."""

from typing import Any

from graphql import GraphQLError

from app.enums import Dimension
from app.metrics import rate
from resolvers import loaders
from resolvers.context import Info

MAX_ROWS = 500


async def campaign_engagement(
    info: Info, campaign_pk: int, dimension: Dimension, first: int | None
) -> list[dict[str, Any]]:
    """The campaign's `first` values of `dimension` with the most unique openers (then by value);
    share = the value's unique openers / the campaign's unique openers. One dict of EngagementRow
    fields per value."""
    first = 10 if first is None else first
    if not 0 <= first <= MAX_ROWS:
        raise GraphQLError(
            f"first must be between 0 and {MAX_ROWS}, got {first}",
            extensions={"code": "BAD_USER_INPUT", "argument": "first"},
        )
    found = await info.context.loader(loaders.engagement_rows).load(
        (campaign_pk, dimension.value, first)
    )
    counters = await info.context.loader(loaders.campaign_counters).load(campaign_pk)
    campaign_opened = int(counters["opened"])
    return [
        {
            "value": row.value,
            "opens": int(row.opens),
            "opened": int(row.opened),
            "clicks": int(row.clicks),
            "clicked": int(row.clicked),
            "share": rate(int(row.opened), campaign_opened),
        }
        for row in found
    ]
