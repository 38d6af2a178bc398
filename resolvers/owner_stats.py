"""Campaign.statsByOwner: the full statistics per record owner of the recipients, the owner as it
was when the contact became a recipient (kept in the statistics rows)."""

from typing import Any

from resolvers import campaigns, loaders
from resolvers.context import Info
from resolvers.records import Row

NO_OWNER = 0


async def campaign_stats_by_owner(info: Info, campaign_pk: int) -> list[tuple[Row | None, Any]]:
    """One section per owner with recipients, by owner name; recipients without an owner last:
    (the owner's user row or None, the Stats fields). Cost belongs to the campaign as a whole,
    so a section has none."""
    sections = await info.context.loader(loaders.owner_counters).load(campaign_pk)
    sections = [counters for counters in sections if int(counters["recipients"])]
    owner_ids = [int(c["owner_id"]) for c in sections if int(c["owner_id"]) != NO_OWNER]
    users = await info.context.loader(loaders.user_by_id).load_many(owner_ids)
    owners = {user.id: user for user in users if user is not None}
    result = [
        (owners.get(int(counters["owner_id"])), campaigns.stats_from(counters, None, False))
        for counters in sections
    ]
    result.sort(
        key=lambda section: (
            section[0] is None,
            section[0].name.lower() if section[0] else "",
            section[0].email if section[0] else "",
        )
    )
    return result
