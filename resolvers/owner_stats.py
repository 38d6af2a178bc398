"""Campaign.statsByOwner: the full statistics per record owner of the recipients, the owner as it
was when the contact became a recipient (kept in the statistics rows)."""

from typing import TYPE_CHECKING

from resolvers import campaigns, loaders, rows
from resolvers.context import Info
from schema.stats import OwnerStats

if TYPE_CHECKING:
    from schema.campaign import Campaign

NO_OWNER = 0


async def campaign_stats_by_owner(info: Info, campaign: "Campaign") -> list[OwnerStats]:
    """One section per owner with recipients, by owner name; recipients without an owner last.
    Cost belongs to the campaign as a whole, so a section has none."""
    sections = await info.context.loader(loaders.owner_counters).load(campaign.pk)
    sections = [counters for counters in sections if int(counters["recipients"])]
    owner_ids = [int(c["owner_id"]) for c in sections if int(c["owner_id"]) != NO_OWNER]
    users = await info.context.loader(loaders.user_by_id).load_many(owner_ids)
    owners = {user.id: rows.user(user) for user in users if user is not None}
    result = [
        OwnerStats(
            owner=owners.get(int(counters["owner_id"])),
            stats=campaigns.stats_from(counters, None, False),
        )
        for counters in sections
    ]
    result.sort(
        key=lambda section: (
            section.owner is None,
            section.owner.name.lower() if section.owner else "",
            section.owner.email if section.owner else "",
        )
    )
    return result
