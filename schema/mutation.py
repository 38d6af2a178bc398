"""The root Mutation type."""

import strawberry

from resolvers import campaign_mutations
from resolvers.context import Info
from schema.inputs import AddRecipientsInput, UpsertCampaignInput
from schema.payloads import AddRecipientsPayload, UpsertCampaignPayload


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="INTEGRATION or ADMIN: create or update a campaign by its external id."
    )
    async def upsert_campaign(
        self, info: Info, input: UpsertCampaignInput
    ) -> UpsertCampaignPayload:
        return await campaign_mutations.upsert_campaign(info, input)

    @strawberry.mutation(
        description="INTEGRATION or ADMIN: add contacts as recipients of a campaign."
    )
    async def add_recipients(self, info: Info, input: AddRecipientsInput) -> AddRecipientsPayload:
        return await campaign_mutations.add_recipients(info, input)
