"""The campaign a download is of, found within the caller's organization only."""

import re
from typing import Any

from sqlalchemy import select

from app.database import Database
from app.models import Campaign


async def find_campaign(database: Database, organization_id: int, campaign_pk: int) -> Any:
    """(id, external_id, name) of the organization's campaign, or None: another organization's
    campaign is as unknown as one that does not exist."""
    async with database.read() as connection:
        return (
            await connection.execute(
                select(Campaign.id, Campaign.external_id, Campaign.name).where(
                    Campaign.id == campaign_pk, Campaign.organization_id == organization_id
                )
            )
        ).first()


def file_name(external_id: str, kind: str, extension: str) -> str:
    """A safe download name, e.g. spring-sale-recipients.csv."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", external_id).strip("-.")[:80] or "campaign"
    return f"{stem}-{kind}.{extension}"
