"""The root Subscription type: live statistics over graphql-transport-ws."""

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from resolvers import live_stats
from resolvers.context import Info
from schema.stats import Stats


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="New stats of a campaign as events arrive, at most one message a second."
    )
    async def campaign_stats(
        self, info: Info, campaign_id: strawberry.ID
    ) -> AsyncGenerator[Stats, None]:
        # aclosing: when the client stops, the inner stream's listener is released at once.
        async with aclosing(live_stats.campaign_stats(info, campaign_id)) as stream:
            async for stats in stream:
                yield Stats(**stats)
