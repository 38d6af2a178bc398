"""Campaign.automatedActivity: the opens and clicks each classification rule set aside, and of
how many recipients, read from the responses themselves.

Read from the history rather than kept in an aggregate: a soft deletion, a refold or a
`reclassify` changes the responses' own columns, so a grouped count over them is exact by
construction, and the (campaign_id, classified_by) index keeps it to the rows set aside. A list
of campaigns costs one statement (the loader groups by campaign).
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import and_, case, func, or_, select

from app.database import in_chunks
from app.enums import ResponseType
from app.ingest.automation import ClassificationReason
from app.models import Response
from resolvers.context import Context, Info

T = ResponseType


@dataclass(frozen=True)
class AutomatedCounts:
    reason: ClassificationReason
    opens: int
    clicks: int
    recipients: int


def _statement(campaign_ids: list[int], organization_id: int) -> Any:
    is_open = Response.type == T.OPENED.value
    is_click = Response.type == T.CLICKED.value
    return (
        select(
            Response.campaign_id,
            Response.classified_by,
            func.sum(case((is_open, 1), else_=0)).label("opens"),
            func.sum(case((is_click, 1), else_=0)).label("clicks"),
            func.count(func.distinct(Response.recipient_id)).label("recipients"),
        )
        .where(
            Response.campaign_id.in_(campaign_ids),
            Response.organization_id == organization_id,
            Response.classified_by.is_not(None),
            Response.deleted_at.is_(None),
            # The same rows the statistics count as machine opens and bot clicks.
            or_(and_(is_open, Response.machine), and_(is_click, Response.bot)),
        )
        .group_by(Response.campaign_id, Response.classified_by)
    )


def automated_counts(context: Context) -> DataLoader:
    """Each campaign's counts per reason, in rule order, every reason listed (zeros included)."""

    async def batch(campaign_ids: list[int]) -> list[list[AutomatedCounts]]:
        found: dict[int, dict[str, Any]] = defaultdict(dict)
        for chunk in in_chunks(sorted(set(campaign_ids))):
            for row in await context.fetch(_statement(chunk, context.organization_id)):
                found[row.campaign_id][row.classified_by] = row
        result = []
        for campaign_id in campaign_ids:
            rows = found.get(campaign_id, {})
            counts = []
            for reason in ClassificationReason:
                got = rows.get(reason.value)
                counts.append(
                    AutomatedCounts(
                        reason,
                        int(got.opens) if got else 0,
                        int(got.clicks) if got else 0,
                        int(got.recipients) if got else 0,
                    )
                )
            result.append(counts)
        return result

    return DataLoader(batch)


async def campaign_automated_activity(info: Info, campaign_pk: int) -> list[AutomatedCounts]:
    """What each rule set aside in one campaign."""
    loaded: list[AutomatedCounts] = await info.context.loader(automated_counts).load(campaign_pk)
    return loaded
